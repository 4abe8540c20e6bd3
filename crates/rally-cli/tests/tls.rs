//! `rally serve --tls-cert --tls-key`: the official client in its three
//! transport modes, long-polling over HTTP/2 and HTTP/1.1 on one port
//! (interop/tls-client.mjs), the chat demo in Chromium over https
//! (interop/chat-browser.mjs), a plain HTTP request to the TLS port, the
//! certificate reloaded on SIGHUP, `--redirect-http`, and the errors of a
//! bad pair of files. Every certificate comes from a throwaway test CA.

mod support;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use rally_testkit::{eventually, free_port, lossy, node, repo_root, tls::TestCa, within};
use support::Rally;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tokio_rustls::{
    TlsConnector,
    client::TlsStream,
    rustls::{
        self,
        pki_types::{CertificateDer, ServerName, pem::PemObject},
    },
};

/// `rally serve` with a certificate of `ca` and `args`.
fn start(ca: &TestCa, args: &[&str]) -> Rally {
    let files = ca.server_cert("server");
    let (cert, key) = (
        files.cert.display().to_string(),
        files.key.display().to_string(),
    );
    let mut all = vec!["--tls-cert", &cert, "--tls-key", &key];
    all.extend_from_slice(args);
    Rally::start(&all)
}

fn url(rally: &Rally) -> String {
    format!("https://localhost:{}", rally.port)
}

#[tokio::test]
async fn the_official_client_in_each_transport_mode() {
    let ca = TestCa::new("modes");
    let rally = start(&ca, &[]);
    let (url, ca_path) = (url(&rally), ca.ca_path().display().to_string());
    for mode in ["socketio-polling", "socketio-websocket", "socketio-upgrade"] {
        let out = node::run("tls-client.mjs", &[mode, &url, &ca_path]).await;
        assert!(out.contains(&format!("ok {mode}")), "{out}");
    }
}

#[tokio::test]
async fn polling_over_http2_and_http1_on_one_port() {
    let ca = TestCa::new("h2");
    let rally = start(&ca, &[]);
    let (url, ca_path) = (url(&rally), ca.ca_path().display().to_string());
    for mode in ["polling-h2", "polling-h1"] {
        let out = node::run("tls-client.mjs", &[mode, &url, &ca_path]).await;
        assert!(out.contains(&format!("ok {mode}")), "{out}");
    }
}

#[tokio::test]
async fn the_chat_demo_in_chromium_over_https() {
    let ca = TestCa::new("browser");
    let rally = start(&ca, &[]);
    let artifacts = repo_root().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).expect("artifact folder");
    let shot = artifacts.join("chat-demo-https.png");
    node::run(
        "chat-browser.mjs",
        &[&url(&rally), &shot.display().to_string()],
    )
    .await;
}

#[tokio::test]
async fn plain_http_to_the_tls_port_is_refused_and_serving_goes_on() {
    let ca = TestCa::new("plain");
    let rally = start(&ca, &[]);
    let reply = rally.get("/healthz").await;
    assert_eq!(reply.status, 400, "{}", lossy(&reply.body));
    let mut stream = within("a tls connection", connect(rally.port, &ca))
        .await
        .expect("the handshake");
    assert_eq!(get(&mut stream, "/healthz").await, "200");
    // Counted as the connection ends, which the client may see first.
    eventually("the failed handshake in /metrics", || {
        Box::pin(async {
            let mut stream = connect(rally.port, &ca).await.expect("the handshake");
            get_body(&mut stream, "/metrics")
                .await
                .contains("rally_tls_handshake_failures_total 1")
        })
    })
    .await;
}

#[tokio::test]
async fn sighup_reloads_the_certificate_and_keeps_connections() {
    let old_ca = TestCa::new("old");
    let new_ca = TestCa::new("new");
    let files = old_ca.server_cert("server");
    let (cert, key) = (
        files.cert.display().to_string(),
        files.key.display().to_string(),
    );
    let mut rally = Rally::start(&["--tls-cert", &cert, "--tls-key", &key]);
    let logs = rally.log_lines();
    let logged = |what: &str| {
        let deadline = std::time::Instant::now() + rally_testkit::DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match logs.recv_timeout(left) {
                Ok(line) if line.contains(what) => return line,
                Ok(_) => {}
                Err(_) => panic!("no log line with {what:?}"),
            }
        }
    };
    let mut kept = within("a tls connection", connect(rally.port, &old_ca))
        .await
        .expect("the handshake with the first certificate");
    assert_eq!(get(&mut kept, "/healthz").await, "200");

    // A bad pair: logged, the old one stays.
    std::fs::write(&files.key, "not a key").unwrap();
    rally.signal("HUP");
    let line = logged("not reloaded");
    assert!(line.contains("server-key.pem"), "{line}");
    // The renewed pair, from another CA (as if an ACME client renewed it).
    let renewed = new_ca.server_cert("renewed");
    std::fs::copy(&renewed.cert, &files.cert).unwrap();
    std::fs::copy(&renewed.key, &files.key).unwrap();
    rally.signal("HUP");
    eventually("new connections see the new certificate", || async {
        connect(rally.port, &new_ca).await.is_ok()
    })
    .await;
    let refused = connect(rally.port, &old_ca).await.unwrap_err();
    assert!(refused.to_string().contains("UnknownIssuer"), "{refused}");
    // The connection made before the reload still works.
    assert_eq!(get(&mut kept, "/healthz").await, "200");
    logged("certificate reloaded");
    let (status, _) = rally.terminate(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn redirect_http_answers_a_permanent_redirect() {
    let ca = TestCa::new("redirect");
    let port = free_port().await;
    let rally = start(&ca, &["--redirect-http", &port.to_string()]);
    let plain = rally_testkit::http::Http::new(SocketAddr::from(([127, 0, 0, 1], port)));
    let reply = plain.get("/chat?room=1").await;
    assert_eq!(reply.status, 308);
    // The host the request named (the client's `127.0.0.1:<port>`), on the
    // TLS port.
    assert_eq!(
        reply.header("location"),
        Some(format!("https://127.0.0.1:{}/chat?room=1", rally.port).as_str())
    );
}

#[test]
fn a_bad_pair_of_files_stops_the_start() {
    let ca = TestCa::new("bad");
    let one = ca.server_cert("one");
    let two = ca.server_cert("two");
    let missing = ca.dir().join("missing.pem");
    for (cert, key, says) in [
        (&one.cert, &two.key, "two-key.pem"),
        (&missing, &one.key, "missing.pem"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rally"))
            .args(["serve", "--host", "127.0.0.1", "--port", "0"])
            .arg("--tls-cert")
            .arg(cert)
            .arg("--tls-key")
            .arg(key)
            .output()
            .expect("rally runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert!(
            stderr.contains("--tls-cert/--tls-key") && stderr.contains(says),
            "{stderr}"
        );
    }
}

/// A TLS connection to `port` trusting only `ca`, offering HTTP/1.1.
#[expect(
    deprecated,
    reason = "the server's provider, ring, which rustls deprecates for its lack of post-quantum key exchange"
)]
async fn connect(port: u16, ca: &TestCa) -> std::io::Result<TlsStream<TcpStream>> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(ca.ca_path()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    let name = ServerName::try_from("localhost").unwrap();
    TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
}

/// The status of a GET of `path` on a kept-alive connection.
async fn get(stream: &mut TlsStream<TcpStream>, path: &str) -> String {
    let head = exchange(stream, path).await.0;
    head.split(' ').nth(1).unwrap_or_default().to_owned()
}

/// The body of a GET of `path` on a kept-alive connection.
async fn get_body(stream: &mut TlsStream<TcpStream>, path: &str) -> String {
    exchange(stream, path).await.1
}

/// A GET of `path`: the response's head and body (read by its
/// `content-length`).
async fn exchange(stream: &mut TlsStream<TcpStream>, path: &str) -> (String, String) {
    within(&format!("GET {path}"), async {
        let request = format!("GET {path} HTTP/1.1\r\nhost: localhost\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut bytes = Vec::new();
        let mut buf = [0; 4096];
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed after {}", lossy(&bytes));
            bytes.extend_from_slice(&buf[..n]);
            let text = lossy(&bytes);
            if let Some(end) = text.find("\r\n\r\n") {
                let head = text[..end].to_owned();
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                if bytes.len() >= end + 4 + length {
                    return (head, text[end + 4..].to_owned());
                }
            }
        }
    })
    .await
}
