//! A Socket.IO server for conformance suites.
//!
//! ```text
//! cargo run --release --example sio_conformance -- --port 3000
//! ```
//!
//! pingInterval 300 ms, pingTimeout 200 ms, connectTimeout 1000 ms,
//! maxHttpBufferSize 1,000,000, path `/socket.io/`, namespaces `/` and
//! `/custom`, on `localhost` (IPv4 and IPv6). On connection it emits `auth`
//! with the CONNECT auth payload (`{}` when none); in `/`, `message` comes
//! back as `message-back` with the same arguments, and `message-with-ack` is
//! acknowledged with them.

use std::{net::SocketAddr, time::Duration};

use rally::{Args, Server};
use tokio::net::TcpListener;

fn port() -> Result<u16, String> {
    let mut args = std::env::args().skip(1);
    let mut port = 3000;
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--port" => {
                let value = args.next().ok_or("--port needs a value")?;
                port = value
                    .parse()
                    .map_err(|_| format!("--port: not a port: {value}"))?;
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(port)
}

#[tokio::main]
async fn main() {
    let port = port().unwrap_or_else(|e| {
        eprintln!("sio_conformance: {e}\nusage: sio_conformance [--port N]");
        std::process::exit(2);
    });
    let io = Server::builder()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .connect_timeout(Duration::from_millis(1000))
        .max_http_buffer_size(1_000_000)
        .build();
    for name in ["/", "/custom"] {
        io.of(name).on_connection(|socket| async move {
            let auth = Args::raw_json(socket.raw_auth());
            let _ = socket.emit("auth", auth);
        });
    }
    let root = io.of("/");
    root.on("message", |socket, event| async move {
        let _ = socket.emit("message-back", event.to_args());
    });
    root.on("message-with-ack", |_socket, mut event| async move {
        let args = event.to_args();
        let _ = event.ack(args);
    });

    let mut servers = Vec::new();
    for ip in ["127.0.0.1", "::1"] {
        let addr = SocketAddr::new(ip.parse().expect("a literal address"), port);
        match TcpListener::bind(addr).await {
            Ok(listener) => {
                println!("sio_conformance listening on {addr}");
                servers.push(tokio::spawn(rally::serve(listener, io.clone())));
            }
            Err(e) => eprintln!("sio_conformance: cannot listen on {addr}: {e}"),
        }
    }
    if servers.is_empty() {
        std::process::exit(1);
    }
    for server in servers {
        let _ = server.await;
    }
}
