//! Rally and an axum application on HTTPS and WSS, with no proxy in front:
//! `rally::serve_tls` terminates TLS (rustls) and serves any tower service.
//!
//! ```text
//! cargo run -p rally --features tls --example tls -- 3443 cert.pem key.pem
//! ```
//!
//! `cert.pem` is the certificate chain (an ACME client's `fullchain.pem`),
//! `key.pem` its private key. The certificate is read again on SIGHUP
//! (`kill -HUP <pid>` from the ACME client's deploy hook): new connections
//! get the renewed one, open connections are left alone.
//!
//! HTTP/2 is offered through ALPN: long-polling clients that speak it share
//! one connection; WebSocket stays on HTTP/1.1 connections.

use axum::{Router, routing::get};
use rally::{
    Server,
    tls::{ReloadableCert, Tls},
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(3443);
    let cert_file = args.next().unwrap_or_else(|| "cert.pem".into());
    let key_file = args.next().unwrap_or_else(|| "key.pem".into());

    let io = Server::new();
    io.of("/").on_connection(|socket| async move {
        // `secure` is true: the connection came through `serve_tls`.
        let secure = socket.handshake().secure;
        let _ = socket.emit("hello", ("from rally over tls", secure));
    });

    let app = Router::new()
        .route("/", get(|| async { "an ordinary axum route, over https" }))
        .layer(io.layer());

    let cert = ReloadableCert::from_pem_files(&cert_file, &key_file)?;
    reload_on_hangup(cert.clone());
    let tls = Tls::from_resolver(cert);

    let listener = tokio::net::TcpListener::bind(("0.0.0.0", port)).await?;
    println!("listening on https://localhost:{port}/");
    rally::serve_tls(listener, tls, app).await?;
    Ok(())
}

/// Reads the certificate and key again on every SIGHUP; a pair that does
/// not load is reported, and the previous one stays.
fn reload_on_hangup(cert: std::sync::Arc<ReloadableCert>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            return;
        };
        while hangups.recv().await.is_some() {
            match cert.reload() {
                Ok(()) => eprintln!("certificate reloaded"),
                Err(e) => eprintln!("certificate not reloaded, the previous one stays: {e}"),
            }
        }
    });
    #[cfg(not(unix))]
    let _ = cert;
}
