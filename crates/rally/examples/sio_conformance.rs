//! A Socket.IO server for conformance suites.
//!
//! ```text
//! cargo run --release --example sio_conformance -- --port 3000 [--allow-eio3] [--parser msgpack] [--per-message-deflate]
//! ```
//!
//! pingInterval 300 ms, pingTimeout 200 ms, connectTimeout 1000 ms,
//! maxHttpBufferSize 1,000,000, path `/socket.io/`, namespaces `/` and
//! `/custom`, on `localhost` (IPv4 and IPv6). On connection it emits `auth`
//! with the CONNECT auth payload (`{}` when none); in `/`, `message` comes
//! back as `message-back` with the same arguments, and `message-with-ack` is
//! acknowledged with them. In `/` and `/custom`, `emit-with-ack` makes the
//! server emit `emit-with-ack` back with the same arguments and an ack, wait
//! for the client's answer, then emit `emit-with-ack` with the answer's
//! arguments (no ack asked).
//!
//! `--parser msgpack` speaks `socket.io-msgpack-parser` instead of the
//! default parser. `--allow-eio3` also serves Socket.IO v2 clients
//! (Engine.IO protocol 3, Socket.IO protocol 4; a request without `EIO` is
//! protocol 3), beside v4 ones. `--per-message-deflate` turns WebSocket
//! compression on (`perMessageDeflate`, threshold 1024 bytes).

use std::{net::SocketAddr, time::Duration};

use rally::{Args, Parser, PerMessageDeflate, Server};
use tokio::net::TcpListener;

struct Options {
    port: u16,
    parser: Parser,
    allow_eio3: bool,
    per_message_deflate: bool,
}

fn options() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let mut options = Options {
        port: 3000,
        parser: Parser::Json,
        allow_eio3: false,
        per_message_deflate: false,
    };
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--port" => {
                let value = value()?;
                options.port = value
                    .parse()
                    .map_err(|_| format!("--port: not a port: {value}"))?;
            }
            "--parser" => {
                options.parser = value()?.parse().map_err(|e| format!("--parser: {e}"))?;
            }
            "--allow-eio3" => options.allow_eio3 = true,
            "--per-message-deflate" => options.per_message_deflate = true,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() {
    let Options {
        port,
        parser,
        allow_eio3,
        per_message_deflate,
    } = options().unwrap_or_else(|e| {
        eprintln!(
            "sio_conformance: {e}\nusage: sio_conformance [--port N] [--allow-eio3] [--parser json|msgpack] [--per-message-deflate]"
        );
        std::process::exit(2);
    });
    let io = Server::builder()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .connect_timeout(Duration::from_millis(1000))
        .max_http_buffer_size(1_000_000)
        .parser(parser)
        .allow_eio3(allow_eio3)
        .per_message_deflate(per_message_deflate.then(PerMessageDeflate::default))
        .build();
    for name in ["/", "/custom"] {
        let ns = io.of(name);
        ns.on_connection(|socket| async move {
            let auth = Args::raw_json(socket.raw_auth());
            let _ = socket.emit("auth", auth);
        });
        ns.on("emit-with-ack", |socket, event| async move {
            let reply = socket.emit_with_ack("emit-with-ack", event.to_args()).await;
            if let Ok(reply) = reply {
                let _ = socket.emit("emit-with-ack", reply.to_args());
            }
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
