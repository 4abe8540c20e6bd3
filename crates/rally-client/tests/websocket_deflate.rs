//! permessage-deflate on the WebSocket transport: with the official Node.js
//! server (`perMessageDeflate` on or off, the client's offer on or off),
//! bytes counted on the wire; and against a scripted server that shows
//! each frame as sent (compressed or not, around the 1024-byte threshold),
//! pings, closes both ways, bad frames and refused handshakes.

mod common;

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use common::{Client, Mode, Recorder, bytes, within};
use rally_client::{Args, DisconnectReason, Error, Socket, TransportError};
use rally_proto::ws::{
    Role, accept_key,
    deflate::{accept_offer, compress, inflate},
    frame::{Header, OpCode, apply_mask, write_header},
};
use rally_testkit::node::NodeServer;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// JSON chat lines, `n` of them: what compression is for.
fn chat(n: usize) -> String {
    (0..n)
        .map(|i| format!(r#"{{"user":"ana","text":"line {i}: hello there, how are you?"}}"#))
        .collect::<Vec<_>>()
        .join(",")
}

/// A TCP proxy counting the bytes each way: what goes over the wire.
struct Counter {
    addr: SocketAddr,
    up: Arc<AtomicU64>,
    down: Arc<AtomicU64>,
}

impl Counter {
    async fn start(target: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("an address");
        let (up, down) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (u, d) = (up.clone(), down.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)).await else {
                    continue;
                };
                let _ = (client.set_nodelay(true), server.set_nodelay(true));
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(pipe(client_read, server_write, u.clone()));
                tokio::spawn(pipe(server_read, client_write, d.clone()));
            }
        });
        Self { addr, up, down }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Bytes carried so far: client to server, server to client.
    fn counts(&self) -> (u64, u64) {
        (
            self.up.load(Ordering::SeqCst),
            self.down.load(Ordering::SeqCst),
        )
    }
}

/// Copies `from` to `to`, counting each chunk before it is passed on.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    count: Arc<AtomicU64>,
) {
    let mut buf = vec![0; 64 * 1024];
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0 {
            break;
        }
        count.fetch_add(n as u64, Ordering::SeqCst);
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// What the Node server says of the transport: its name and extensions.
async fn transport_info(socket: &Socket) -> Value {
    let reply = within("the transport info", socket.emit_with_ack("transport", ()))
        .await
        .expect("an answer");
    reply.arg::<Value>(0).expect("an object")
}

/// Large and small events and binary both ways through `counter`; the
/// bytes the large ones took on the wire, each way, and their size.
async fn exchange(socket: &Socket, rec: &mut Recorder, counter: &Counter) -> (u64, u64, u64) {
    let big = chat(400);
    let blob = chat(200).into_bytes();
    let size = (big.len() + blob.len()) as u64;
    let (up_before, down_before) = counter.counts();
    socket
        .emit(
            "message",
            Args::new()
                .arg(&big)
                .arg(&"small")
                .binary(blob.clone())
                .binary(vec![1, 2, 3]),
        )
        .expect("emits");
    assert_eq!(
        rec.event("message-back").await,
        [json!(big), json!("small"), bytes(&blob), bytes(&[1, 2, 3])]
    );
    let (up, down) = counter.counts();
    // Small ones, and an ack carrying a large one back.
    socket.emit("message", "hi").expect("emits");
    assert_eq!(rec.event("message-back").await, [json!("hi")]);
    let reply = within(
        "an ack",
        socket.emit_with_ack("message-with-ack", Args::new().arg(&big).arg(&1)),
    )
    .await
    .expect("an answer");
    assert_eq!(reply.arg::<String>(0).expect("a string"), big);
    assert_eq!(reply.arg::<u32>(1).expect("a number"), 1);
    (up - up_before, down - down_before, size)
}

async fn node_with_deflate(mode: Mode) {
    let server = NodeServer::start_with("ref-socket-server.mjs", 0, &["json", "deflate"]).await;
    let counter = Counter::start(server.port).await;
    let mut client = Client::new(&counter.url(), mode);
    let (socket, mut rec) = client.socket("/");
    within("connect", socket.connect()).await.expect("connects");
    client.settle().await;
    assert_eq!(
        transport_info(&socket).await,
        json!({"name": "websocket", "extensions": "permessage-deflate"})
    );
    let (up, down, size) = exchange(&socket, &mut rec, &counter).await;
    // The chat lines shrink well over four times, each way.
    assert!(up * 4 < size, "client to server: {up} bytes for {size}");
    assert!(down * 4 < size, "server to client: {down} bytes for {size}");
    client.assert_settled();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_with_deflate_websocket() {
    node_with_deflate(Mode::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_with_deflate_upgrade() {
    node_with_deflate(Mode::Upgrade).await;
}

/// Without agreement (the client does not offer, or the server does not
/// take it), messages go plain.
async fn uncompressed(server_args: &[&str], client_offers: bool) {
    let server = NodeServer::start_with("ref-socket-server.mjs", 0, server_args).await;
    let counter = Counter::start(server.port).await;
    let mut client = Client::with(&counter.url(), Mode::WebSocket, |b| {
        b.per_message_deflate(client_offers)
    });
    let (socket, mut rec) = client.socket("/");
    within("connect", socket.connect()).await.expect("connects");
    client.settle().await;
    assert_eq!(
        transport_info(&socket).await,
        json!({"name": "websocket", "extensions": ""})
    );
    let (up, down, size) = exchange(&socket, &mut rec, &counter).await;
    assert!(up > size, "client to server: {up} bytes for {size}");
    assert!(down > size, "server to client: {down} bytes for {size}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_with_deflate_client_without() {
    uncompressed(&["json", "deflate"], false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_without_deflate() {
    uncompressed(&["json"], true).await;
}

/// A scripted WebSocket server built on the same codec: it shows every
/// frame the client sends as it was on the wire.
struct Scripted {
    listener: TcpListener,
}

/// One connection to the scripted server.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// The client's upgrade request.
    request: String,
}

/// A frame as the client sent it: its opcode, whether it was compressed,
/// and its payload (inflated).
type Sent = (OpCode, bool, Vec<u8>);

impl Scripted {
    async fn start() -> (Self, String) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        (Self { listener }, url)
    }

    /// The next connection's upgrade request, read whole.
    async fn request(&self) -> Conn {
        let (mut stream, _) = within("a connection", self.listener.accept())
            .await
            .expect("accepts");
        let mut buf = Vec::new();
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = within("the request", stream.read_buf(&mut buf))
                .await
                .expect("reads");
            assert!(n > 0, "the client left");
        }
        let request = String::from_utf8(buf).expect("utf-8");
        Conn {
            stream,
            buf: Vec::new(),
            request,
        }
    }

    /// A session opened: the upgrade taken (deflate agreed when `agree`
    /// and offered), the handshake sent, the client's `/` CONNECT answered.
    async fn open(&self, agree: bool) -> Conn {
        let mut conn = self.request().await;
        let key = conn.header("sec-websocket-key").expect("a key");
        let agreed = conn
            .header("sec-websocket-extensions")
            .filter(|_| agree)
            .and_then(|offer| accept_offer(&offer));
        let extension = agreed
            .map(|a| format!("Sec-WebSocket-Extensions: {}\r\n", a.response()))
            .unwrap_or_default();
        let reply = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n{extension}\r\n",
            accept_key(key.as_bytes())
        );
        conn.stream
            .write_all(reply.as_bytes())
            .await
            .expect("writes");
        conn.send(
            OpCode::Text,
            br#"0{"sid":"s1","upgrades":[],"pingInterval":10000,"pingTimeout":5000,"maxPayload":1000000}"#,
            false,
        )
        .await;
        assert_eq!(conn.frame().await, (OpCode::Text, false, b"40".to_vec()));
        conn.send(OpCode::Text, br#"40{"sid":"a1"}"#, false).await;
        conn
    }
}

impl Conn {
    /// A request header's value.
    fn header(&self, name: &str) -> Option<String> {
        self.request.split("\r\n").find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }

    /// Sends a frame, compressed when `compressed`.
    async fn send(&mut self, opcode: OpCode, payload: &[u8], compressed: bool) {
        let data = if compressed {
            compress(payload, 6, 15).expect("compressible")
        } else {
            payload.to_vec()
        };
        let mut out = Vec::new();
        write_header(&mut out, opcode, compressed, data.len(), None);
        out.extend_from_slice(&data);
        self.stream.write_all(&out).await.expect("writes");
    }

    /// The next frame the client sent.
    async fn frame(&mut self) -> Sent {
        loop {
            if let Some(header) = Header::parse(&self.buf, Role::Server).expect("a valid frame") {
                let end = header.header_len + header.payload_len as usize;
                if self.buf.len() >= end {
                    assert!(header.fin, "one frame a message");
                    let mut payload = self.buf[header.header_len..end].to_vec();
                    apply_mask(&mut payload, header.mask.expect("masked"));
                    self.buf.drain(..end);
                    if header.rsv1 {
                        payload = inflate(&payload, 1 << 20).expect("inflates");
                    }
                    return (header.opcode, header.rsv1, payload);
                }
            }
            let n = within("a frame", self.stream.read_buf(&mut self.buf))
                .await
                .expect("reads");
            assert!(n > 0, "the client left");
        }
    }
}

/// A client connected to the scripted server, WebSocket only.
async fn scripted_client(agree: bool, offer: bool) -> (Client, Socket, Recorder, Conn) {
    let (server, url) = Scripted::start().await;
    let client = Client::with(&url, Mode::WebSocket, |b| {
        b.reconnection(false).per_message_deflate(offer)
    });
    let (socket, rec) = client.socket("/");
    let (conn, connected) = tokio::join!(server.open(agree), within("connect", socket.connect()));
    connected.expect("connects");
    (client, socket, rec, conn)
}

/// `42["m","xxx…"]` of exactly `len` bytes.
fn event_of_len(len: usize) -> (String, Vec<u8>) {
    let text = "x".repeat(len - r#"42["m",""]"#.len());
    let frame = format!(r#"42["m","{text}"]"#).into_bytes();
    (text, frame)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_from_the_threshold_on_are_compressed() {
    let (_client, socket, _rec, mut conn) = scripted_client(true, true).await;
    assert_eq!(
        conn.header("sec-websocket-extensions").as_deref(),
        Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
    );
    for (len, compressed) in [(1023, false), (1024, true), (5000, true)] {
        let (text, frame) = event_of_len(len);
        socket.emit("m", &text).expect("emits");
        assert_eq!(
            conn.frame().await,
            (OpCode::Text, compressed, frame),
            "{len}"
        );
    }
    // Binary: compressed when that makes it smaller, else sent as it is.
    let mut x = 0x9E37_79B9_u32;
    let noise: Vec<u8> = (0..2000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x.to_le_bytes()[0]
        })
        .collect();
    for (data, compressed) in [(noise, false), (vec![7; 2000], true)] {
        socket
            .emit("m", Args::new().binary(data.clone()))
            .expect("emits");
        let placeholder = br#"451-["m",{"_placeholder":true,"num":0}]"#.to_vec();
        assert_eq!(conn.frame().await, (OpCode::Text, false, placeholder));
        assert_eq!(conn.frame().await, (OpCode::Binary, compressed, data));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_messages_pings_and_the_close_of_the_server() {
    let (_client, _socket, mut rec, mut conn) = scripted_client(true, true).await;
    rec.connected().await;
    // A ping is answered with its data.
    conn.send(OpCode::Ping, b"are you there", false).await;
    assert_eq!(
        conn.frame().await,
        (OpCode::Pong, false, b"are you there".to_vec())
    );
    // Compressed text and binary, inflated.
    let big = "y".repeat(3000);
    conn.send(
        OpCode::Text,
        format!(r#"42["big","{big}"]"#).as_bytes(),
        true,
    )
    .await;
    assert_eq!(rec.event("big").await, [json!(big)]);
    conn.send(
        OpCode::Text,
        br#"451-["bin",{"_placeholder":true,"num":0}]"#,
        false,
    )
    .await;
    conn.send(OpCode::Binary, &[5; 4000], true).await;
    assert_eq!(rec.event("bin").await, [bytes(&[5; 4000])]);
    // The close is answered with its status; the transport is over.
    conn.send(OpCode::Close, &1000u16.to_be_bytes(), false)
        .await;
    assert_eq!(
        conn.frame().await,
        (OpCode::Close, false, 1000u16.to_be_bytes().to_vec())
    );
    assert_eq!(rec.disconnected().await, DisconnectReason::TransportClose);
}

/// Frames the client must refuse, and the close status it sends: a
/// message over 64 MiB (refused from its header, before any of it is
/// kept), a masked frame, compressed data that does not inflate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_close_with_their_status() {
    let mut too_big = Vec::new();
    write_header(&mut too_big, OpCode::Binary, false, (64 << 20) + 1, None);
    let mut masked = Vec::new();
    write_header(&mut masked, OpCode::Text, false, 1, Some([1, 2, 3, 4]));
    masked.push(b'4' ^ 1);
    let mut corrupt = Vec::new();
    write_header(&mut corrupt, OpCode::Text, true, 5, None);
    corrupt.extend_from_slice(&[0xFF; 5]);
    for (bytes, status) in [(too_big, 1009u16), (masked, 1002), (corrupt, 1007)] {
        let (_client, _socket, mut rec, mut conn) = scripted_client(true, true).await;
        rec.connected().await;
        conn.stream.write_all(&bytes).await.expect("writes");
        assert_eq!(
            conn.frame().await,
            (OpCode::Close, false, status.to_be_bytes().to_vec())
        );
        assert_eq!(rec.disconnected().await, DisconnectReason::TransportError);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_offer_when_off_and_plain_frames_when_not_agreed() {
    for (agree, offer) in [(true, false), (false, true)] {
        let (_client, socket, _rec, mut conn) = scripted_client(agree, offer).await;
        assert_eq!(
            conn.header("sec-websocket-extensions").is_some(),
            offer,
            "agree {agree}, offer {offer}"
        );
        let (text, frame) = event_of_len(5000);
        socket.emit("m", &text).expect("emits");
        assert_eq!(conn.frame().await, (OpCode::Text, false, frame));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_manager_sends_a_close_frame() {
    let (client, socket, _rec, mut conn) = scripted_client(true, true).await;
    socket.emit("bye", ()).expect("emits");
    let closing = tokio::spawn(async move { client.manager.close().await });
    assert_eq!(
        conn.frame().await,
        (OpCode::Text, false, br#"42["bye"]"#.to_vec())
    );
    let close = loop {
        match conn.frame().await {
            (OpCode::Close, _, payload) => break payload,
            // The namespace's DISCONNECT.
            (OpCode::Text, _, text) => assert_eq!(text, b"41"),
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(close, 1000u16.to_be_bytes());
    conn.send(OpCode::Close, &close, false).await;
    within("the close", closing).await.expect("closes");
}

/// What a failed connection must have failed with.
type Expected = fn(&Error) -> bool;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_and_wrong_handshakes_fail() {
    let refusals: [(&str, Expected); 2] = [
        (
            "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 34\r\n\r\n\
             {\"code\":3,\"message\":\"Bad request\"}",
            |e| {
                matches!(e, Error::Transport(TransportError::Http { status: 400, message })
                    if message == "Bad request")
            },
        ),
        (
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: bm90IHRoZSBhbnN3ZXI=\r\n\r\n",
            |e| matches!(e, Error::Transport(TransportError::InvalidResponse(_))),
        ),
    ];
    for (reply, expected) in refusals {
        let (server, url) = Scripted::start().await;
        let client = Client::with(&url, Mode::WebSocket, |b| b.reconnection(false));
        let (socket, _rec) = client.socket("/");
        let serve = async {
            let mut conn = server.request().await;
            conn.stream
                .write_all(reply.as_bytes())
                .await
                .expect("writes");
            conn
        };
        let (_conn, result) = tokio::join!(serve, within("connect", socket.connect()));
        let error = result.expect_err("refused");
        assert!(expected(&error), "{reply}: {error:?}");
    }
}
