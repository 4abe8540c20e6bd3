//! `websocket_messages`: WebSocket messages from a client, through the real
//! servers, in process.
//!
//! Each input gets a fresh current-thread tokio runtime with its clock
//! paused (time jumps ahead whenever every task waits, so heartbeats and
//! timeouts cost nothing and nothing depends on the machine's speed), a
//! fresh server, and in-memory connections (`tokio::io::duplex`) served by
//! hyper exactly as `rally_engine::serve_hyper` serves TCP connections (the
//! WebSocket transport then runs on hyper's upgraded stream). A hyper
//! client opens the WebSocket; then the input's messages go out as masked
//! client frames, and everything the server sends is read until it closes
//! the connection.
//!
//! Input: one mode byte, then messages ([`crate::messages`]).
//!
//! Mode bits:
//! - bit 0: clear = the Socket.IO server (`rally::Server` at `/socket.io/`,
//!   with the handlers of `sio_conformance` and a few more), set = the
//!   Engine.IO echo server (`rally_engine::EngineIo` at `/engine.io/`);
//! - bit 1: set = a polling handshake first, then the WebSocket upgrades
//!   that session (the input should then start with `2probe` and `5`);
//!   clear = a WebSocket from the start;
//! - bit 2: set = a close frame after the last message; clear = the client
//!   just goes quiet (the server then ends the session on its heartbeat).
//!
//! Message tag bits: bit 0 binary (else text); bit 1 split into two frames
//! (a fragment and a continuation); bit 2 a ping frame before it; bit 7 the
//! payload is written raw, as frame bytes, with no framing.
//!
//! Checks: no panic in any task, the session ends (within 600 s of virtual
//! time), the reply to the upgrade is `101`, and every frame the server
//! sends is well formed: unmasked, and every text frame an Engine.IO packet
//! that `rally_proto` decodes (for the Socket.IO server, every message also
//! a Socket.IO packet that `rally_proto` decodes).

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::{Request, StatusCode, header};
use hyper_util::{rt::TokioIo, service::TowerToHyperService};
use rally::{Args, ConnectError, Server};
use rally_engine::{Config, EngineIo, Handler, Message, Session};
use rally_proto::{
    Str,
    engine::{self, Message as EngineMessage},
    socket::Decoder,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use crate::{Msg, messages};

/// `maxHttpBufferSize` of both servers: small, so that inputs reach the limit.
const MAX_BUFFER: usize = 1024;

/// Either server, as a tower service hyper can serve.
#[derive(Clone)]
enum Target {
    Socket(Server),
    Engine(EngineIo<Echo>),
}

/// The engine echo server of `engine_echo`.
struct Echo;

impl Handler for Echo {
    fn on_open(&self, _session: &Arc<Session>) {}

    fn on_message(&self, session: &Arc<Session>, message: Message) {
        if session.send(message).is_err() {
            session.close();
        }
    }
}

fn socket_server() -> Server {
    let io = Server::builder()
        .max_http_buffer_size(MAX_BUFFER)
        .max_buffered_frames(64)
        .build();
    for name in ["/", "/custom"] {
        io.of(name).on_connection(|socket| async move {
            let auth = Args::raw_json(socket.raw_auth());
            let _ = socket.emit("auth", auth);
        });
    }
    io.of("/mw").use_middleware(|socket| async move {
        match socket.auth::<serde_json::Value>() {
            Ok(auth) if auth["token"] == "secret" => Ok(()),
            _ => Err(ConnectError::new("not authorized")),
        }
    });
    let root = io.of("/");
    root.on("message", |socket, event| async move {
        let _ = socket.emit("message-back", event.to_args());
    });
    root.on("message-with-ack", |_socket, mut event| async move {
        let args = event.to_args();
        let _ = event.ack(args);
    });
    root.on("join", |socket, mut event| async move {
        if let Ok(room) = event.arg::<String>(0) {
            socket.join(room.clone());
            let _ = event.ack(&room);
        }
    });
    root.on("leave", |socket, mut event| async move {
        if let Ok(room) = event.arg::<String>(0) {
            socket.leave(&room);
            let _ = event.ack(&room);
        }
    });
    root.on("to", |socket, event| async move {
        if let (Ok(room), Ok(name)) = (event.arg::<String>(0), event.arg::<String>(1)) {
            let _ = socket.to(room).emit(&name, event.to_args());
        }
    });
    root.on("broadcast", |socket, event| async move {
        let _ = socket.broadcast().emit("broadcast", event.to_args());
    });
    root.on("request-ack", |socket, mut event| async move {
        let reply = socket
            .timeout(Duration::from_secs(1))
            .emit_with_ack("question", event.to_args())
            .await;
        let answer = match &reply {
            Ok(reply) => Args::raw_json(reply.raw_arg(0).unwrap_or("null")),
            Err(_) => Args::raw_json("false"),
        };
        let _ = event.ack(answer);
    });
    root.on("server-disconnect", |socket, _event| async move {
        socket.disconnect(false);
    });
    root.on("drop-transport", |socket, _event| async move {
        socket.disconnect(true);
    });
    io
}

fn engine_server() -> EngineIo<Echo> {
    EngineIo::new(Config::default().max_http_buffer_size(MAX_BUFFER), Echo)
}

/// Serves one in-memory connection; returns the client's end.
fn connect(target: &Target, failures: &Arc<Mutex<Vec<String>>>) -> DuplexStream {
    let (client, server) = tokio::io::duplex(1 << 16);
    let failures = failures.clone();
    let io = TokioIo::new(server);
    let builder = hyper::server::conn::http1::Builder::new();
    let task = match target.clone() {
        Target::Socket(s) => tokio::spawn(async move {
            let _ = builder
                .serve_connection(io, TowerToHyperService::new(s))
                .with_upgrades()
                .await;
        }),
        Target::Engine(e) => tokio::spawn(async move {
            let _ = builder
                .serve_connection(io, TowerToHyperService::new(e))
                .with_upgrades()
                .await;
        }),
    };
    // A panic in the server task must not go unnoticed.
    tokio::spawn(async move {
        if let Err(e) = task.await
            && e.is_panic()
        {
            failures
                .lock()
                .unwrap()
                .push(format!("server task panicked: {e}"));
        }
    });
    client
}

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

async fn client(io: DuplexStream) -> Sender {
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .expect("client handshake over a duplex");
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    sender
}

/// The sid of a polling handshake, `0{"sid":"..",...}`.
async fn polling_handshake(
    target: &Target,
    path: &str,
    failures: &Arc<Mutex<Vec<String>>>,
) -> String {
    let mut sender = client(connect(target, failures)).await;
    let req = Request::get(format!("{path}?EIO=4&transport=polling"))
        .header(header::HOST, "localhost")
        .body(Empty::new())
        .expect("a request");
    let res = sender.send_request(req).await.expect("a handshake reply");
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.into_body().collect().await.expect("a body").to_bytes();
    let text = std::str::from_utf8(&body).expect("a UTF-8 handshake");
    let json: serde_json::Value =
        serde_json::from_str(text.strip_prefix('0').expect("an open packet")).expect("JSON");
    json["sid"].as_str().expect("a sid").to_owned()
}

/// A masked client frame (`fin`, `opcode`, `payload`).
fn frame(out: &mut Vec<u8>, fin: bool, opcode: u8, payload: &[u8]) {
    const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
    out.push(if fin { 0x80 } else { 0 } | opcode);
    match payload.len() {
        n @ 0..=125 => out.push(0x80 | n as u8),
        n @ 126..=0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&MASK);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
}

/// The bytes a message of the input goes out as.
fn encode(msg: &Msg<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    if msg.tag & 0x80 != 0 {
        out.extend_from_slice(msg.payload);
        return out;
    }
    let opcode = if msg.is_binary() { 2 } else { 1 };
    if msg.tag & 4 != 0 {
        frame(
            &mut out,
            true,
            9,
            &msg.payload[..msg.payload.len().min(125)],
        );
    }
    if msg.tag & 2 != 0 {
        let (a, b) = msg.payload.split_at(msg.payload.len() / 2);
        frame(&mut out, false, opcode, a);
        frame(&mut out, true, 0, b);
    } else {
        frame(&mut out, true, opcode, msg.payload);
    }
    out
}

/// Checks the server's side of the conversation: unmasked frames, each text
/// message a packet `rally_proto` decodes.
fn check_server_frames(bytes: &[u8], socket_io: bool, upgraded: bool) -> Vec<Reply> {
    let mut replies = Vec::new();
    let mut rest = bytes;
    let mut message: Option<(u8, Vec<u8>)> = None;
    let mut first = true;
    while !rest.is_empty() {
        let [b0, b1, tail @ ..] = rest else {
            panic!("a cut frame header: {rest:?}");
        };
        assert_eq!(b1 & 0x80, 0, "a masked server frame");
        let (len, tail) = match b1 & 0x7f {
            126 => {
                let (n, t) = tail.split_at(2);
                (usize::from(u16::from_be_bytes([n[0], n[1]])), t)
            }
            127 => {
                let (n, t) = tail.split_at(8);
                let len = u64::from_be_bytes(n.try_into().expect("8 bytes"));
                (usize::try_from(len).expect("a length"), t)
            }
            n => (usize::from(n), tail),
        };
        assert!(len <= tail.len(), "a cut frame: {len} bytes announced");
        let (payload, next) = tail.split_at(len);
        rest = next;
        let (fin, opcode) = (b0 & 0x80 != 0, b0 & 0x0f);
        match opcode {
            8 => {
                assert!(next.is_empty(), "frames after a close frame");
                replies.push(Reply::Close);
                return replies;
            }
            9 | 10 => continue,
            0 => message
                .as_mut()
                .expect("a continuation of nothing")
                .1
                .extend_from_slice(payload),
            1 | 2 => {
                assert!(message.is_none(), "a new message inside a fragmented one");
                message = Some((opcode, payload.to_vec()));
            }
            other => panic!("server frame opcode {other}"),
        }
        if !fin {
            continue;
        }
        let Some((opcode, data)) = message.take() else {
            continue;
        };
        if opcode != 1 {
            replies.push(Reply::Binary(data));
            continue;
        }
        let text = Str::from_utf8(Bytes::from(data)).expect("a UTF-8 text frame");
        let packet = engine::Packet::decode_text(text.clone())
            .unwrap_or_else(|e| panic!("server sent {text:?}: {e}"));
        // A WebSocket session opens with the handshake; an upgraded one has
        // had it over polling (its first frame is `3probe`, or anything
        // when the client sent `5` without a probe, which is allowed).
        let is_open = matches!(packet, engine::Packet::Open(_));
        assert_eq!(
            is_open,
            first && !upgraded,
            "frame {text:?} (first: {first})"
        );
        first = false;
        if socket_io && let engine::Packet::Message(EngineMessage::Text(t)) = packet {
            Decoder::new()
                .max_attachments(usize::MAX)
                .decode(t.clone())
                .unwrap_or_else(|e| panic!("server sent the Socket.IO packet {t:?}: {e}"));
        }
        replies.push(Reply::Text(text.to_string()));
    }
    replies
}

/// A message the server sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Text(String),
    Binary(Vec<u8>),
    /// A close frame.
    Close,
}

async fn session(mode: u8, msgs: Vec<Msg<'_>>, failures: Arc<Mutex<Vec<String>>>) -> Vec<Reply> {
    let socket_io = mode & 1 == 0;
    let (target, path) = if socket_io {
        (Target::Socket(socket_server()), "/socket.io/")
    } else {
        (Target::Engine(engine_server()), "/engine.io/")
    };
    let query = if mode & 2 != 0 {
        let sid = polling_handshake(&target, path, &failures).await;
        format!("EIO=4&transport=websocket&sid={sid}")
    } else {
        "EIO=4&transport=websocket".to_owned()
    };
    let mut sender = client(connect(&target, &failures)).await;
    let req = Request::get(format!("{path}?{query}"))
        .header(header::HOST, "localhost")
        .header(header::UPGRADE, "websocket")
        .header(header::CONNECTION, "Upgrade")
        .header(header::SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ==")
        .header(header::SEC_WEBSOCKET_VERSION, "13")
        .body(Empty::new())
        .expect("a request");
    let res = sender.send_request(req).await.expect("an upgrade reply");
    assert_eq!(res.status(), StatusCode::SWITCHING_PROTOCOLS);
    let upgraded = hyper::upgrade::on(res)
        .await
        .expect("an upgraded connection");
    let (mut rd, mut wr) = tokio::io::split(TokioIo::new(upgraded));
    let writer = async move {
        for msg in &msgs {
            if wr.write_all(&encode(msg)).await.is_err() {
                return wr;
            }
            // Let the server act on each message before the next one.
            tokio::task::yield_now().await;
        }
        if mode & 4 != 0 {
            let mut close = Vec::new();
            frame(&mut close, true, 8, &[0x03, 0xe8]);
            let _ = wr.write_all(&close).await;
        }
        // Keep the write half open until the server has closed.
        wr
    };
    let reader = async move {
        let mut received = Vec::new();
        let _ = rd.read_to_end(&mut received).await;
        received
    };
    let (_wr, received) = tokio::join!(writer, reader);
    drop(sender);
    check_server_frames(&received, socket_io, mode & 2 != 0)
}

/// `websocket_messages` (see the module's documentation).
pub fn check_websocket_messages(data: &[u8]) {
    conversation(data);
}

/// Runs one input and returns what the server sent, checked.
pub fn conversation(data: &[u8]) -> Vec<Reply> {
    let Some((&mode, rest)) = data.split_first() else {
        return Vec::new();
    };
    let msgs = messages(rest);
    let failures = Arc::new(Mutex::new(Vec::new()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime");
    let replies = rt.block_on(async {
        let replies = tokio::time::timeout(
            Duration::from_secs(600),
            session(mode, msgs, failures.clone()),
        )
        .await
        .expect("the session did not end within 600 s (virtual time)");
        // Let the server's tasks see the end of the connection.
        tokio::time::sleep(Duration::from_secs(5)).await;
        replies
    });
    drop(rt);
    let failures = failures.lock().unwrap();
    assert!(failures.is_empty(), "{failures:?}");
    replies
}
