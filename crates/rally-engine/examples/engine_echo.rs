//! An Engine.IO echo server: every message comes back unchanged, text as
//! text and binary as binary.
//!
//! ```text
//! cargo run --release --example engine_echo -- --port 3000 [--ping-interval 300] [--ping-timeout 200] [--allow-eio3] [--per-message-deflate]
//! ```
//!
//! It answers under `/engine.io/` on `localhost` (IPv4 and IPv6) with
//! `maxHttpBufferSize` 1,000,000. It speaks Engine.IO protocol 4; with
//! `--allow-eio3` protocol 3 as well (`allowEIO3`: `EIO=3`, or a request
//! without `EIO`, opens a protocol 3 session, where the client pings).
//! `--per-message-deflate` turns WebSocket compression on
//! (`perMessageDeflate`, threshold 1024 bytes).

use std::{net::SocketAddr, sync::Arc, time::Duration};

use rally_engine::{Config, EngineIo, Handler, Message, PerMessageDeflate, Session};
use tokio::net::TcpListener;

struct Echo;

impl Handler for Echo {
    fn on_open(&self, _session: &Arc<Session>) {}

    fn on_message(&self, session: &Arc<Session>, message: Message) {
        if session.send(message).is_err() {
            // The client stopped reading: let it go rather than buffer forever.
            session.close();
        }
    }
}

struct Args {
    port: u16,
    ping_interval: u64,
    ping_timeout: u64,
    allow_eio3: bool,
    per_message_deflate: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        port: 3000,
        ping_interval: 300,
        ping_timeout: 200,
        allow_eio3: false,
        per_message_deflate: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .ok_or_else(|| format!("{name} needs a value"))
                .and_then(|v| {
                    v.parse::<u64>()
                        .map_err(|_| format!("{name}: not a number: {v}"))
                })
        };
        match flag.as_str() {
            "--port" => {
                args.port = u16::try_from(value("--port")?).map_err(|_| "--port: out of range")?;
            }
            "--ping-interval" => args.ping_interval = value("--ping-interval")?,
            "--ping-timeout" => args.ping_timeout = value("--ping-timeout")?,
            "--allow-eio3" => args.allow_eio3 = true,
            "--per-message-deflate" => args.per_message_deflate = true,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("engine_echo: {e}");
            eprintln!(
                "usage: engine_echo [--port N] [--ping-interval MS] [--ping-timeout MS] [--allow-eio3] [--per-message-deflate]"
            );
            std::process::exit(2);
        }
    };
    let config = Config::default()
        .path("/engine.io/")
        .ping_interval(Duration::from_millis(args.ping_interval))
        .ping_timeout(Duration::from_millis(args.ping_timeout))
        .max_http_buffer_size(1_000_000)
        .allow_eio3(args.allow_eio3)
        .per_message_deflate(args.per_message_deflate.then(PerMessageDeflate::default));
    let engine = EngineIo::new(config, Echo);

    let mut servers = Vec::new();
    for ip in ["127.0.0.1", "::1"] {
        let addr = SocketAddr::new(ip.parse().expect("a literal address"), args.port);
        match TcpListener::bind(addr).await {
            Ok(listener) => {
                println!("engine_echo listening on {addr}");
                servers.push(tokio::spawn(rally_engine::serve(listener, engine.clone())));
            }
            Err(e) => eprintln!("engine_echo: cannot listen on {addr}: {e}"),
        }
    }
    if servers.is_empty() {
        std::process::exit(1);
    }
    for server in servers {
        let _ = server.await;
    }
}
