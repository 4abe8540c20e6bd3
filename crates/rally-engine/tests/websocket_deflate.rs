//! WebSocket compression (permessage-deflate, RFC 7692) seen from the wire:
//! the 101 reply to each kind of offer, compressed messages both ways, and
//! how bad compressed input closes the connection. The client here writes
//! its frames by hand over a `TcpStream`, so that a test can set RSV1,
//! fragment a message, split a frame anywhere or send many at once.

mod common;

use std::net::SocketAddr;

use common::*;
use rally_engine::{CloseReason, Config, Message, PerMessageDeflate};
use rally_proto::ws::{
    Role,
    deflate::{compress, inflate},
    frame::{Header, OpCode, apply_mask, write_header},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// The offer Chromium sends (and Node's `ws`, the official client's
/// WebSocket in Node.js, sends the same by default).
const CHROMIUM_OFFER: &str = "permessage-deflate; client_max_window_bits";

/// The server's reply to an offer it takes: no context takeover either way.
const AGREED: &str = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

/// The masking key of every frame this client sends.
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A server with compression on at the default threshold (1024 bytes).
fn deflate_config() -> Config {
    quiet_config().per_message_deflate(Some(PerMessageDeflate::default()))
}

/// A frame from the server.
#[derive(Debug)]
struct Frame {
    fin: bool,
    rsv1: bool,
    opcode: OpCode,
    payload: Vec<u8>,
}

impl Frame {
    /// The message's bytes, inflated when the frame says it is compressed.
    fn data(&self) -> Vec<u8> {
        assert!(self.fin, "Rally sends every message in one frame");
        if self.rsv1 {
            inflate(&self.payload, 1 << 26).expect("the server's deflate data is valid")
        } else {
            self.payload.clone()
        }
    }

    /// The text of a text frame, inflated when compressed.
    fn text(&self) -> String {
        assert_eq!(self.opcode, OpCode::Text, "expected a text frame: {self:?}");
        String::from_utf8(self.data()).expect("a text frame is UTF-8")
    }

    /// The status code of a close frame.
    fn close_code(&self) -> u16 {
        assert_eq!(self.opcode, OpCode::Close, "expected a close frame");
        assert!(!self.rsv1, "control frames are never compressed");
        assert_eq!(
            self.payload.len(),
            2,
            "a status and no reason, as the reference"
        );
        u16::from_be_bytes([self.payload[0], self.payload[1]])
    }
}

/// The bytes of one masked client frame; `fin` false for a frame that is
/// not the last of its message, `rsv1` for "compressed".
fn frame(opcode: OpCode, fin: bool, rsv1: bool, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    write_header(&mut out, opcode, rsv1, payload.len(), Some(MASK));
    if !fin {
        out[0] &= 0x7f;
    }
    let start = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[start..], MASK);
    out
}

/// `data` compressed as a client with no context takeover does.
fn deflated(data: &[u8]) -> Vec<u8> {
    compress(data, 6, 15).expect("the test data compresses")
}

/// `len` bytes of text that compress to about half (hex digits of a
/// pseudo-random sequence).
fn noisy_text(len: usize) -> String {
    let mut x: u32 = 0x9e37_79b9;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            char::from(b"0123456789abcdef"[(x & 15) as usize])
        })
        .collect()
}

/// A WebSocket client that puts on the wire exactly the bytes it is given.
struct RawWs {
    tcp: TcpStream,
    /// Bytes read and not yet taken as a frame.
    buf: Vec<u8>,
}

impl RawWs {
    /// Opens `/engine.io/?{query}`, offering `offer` in
    /// `Sec-WebSocket-Extensions`: the socket and the server's
    /// `Sec-WebSocket-Extensions` reply, if it sent one.
    async fn connect(addr: SocketAddr, query: &str, offer: Option<&str>) -> (Self, Option<String>) {
        let mut tcp = within("the connection", TcpStream::connect(addr))
            .await
            .expect("connect");
        tcp.set_nodelay(true).expect("TCP_NODELAY");
        let mut request = format!(
            "GET /engine.io/?{query} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: {WS_KEY}\r\nSec-WebSocket-Version: 13\r\n"
        );
        if let Some(offer) = offer {
            request.push_str(&format!("Sec-WebSocket-Extensions: {offer}\r\n"));
        }
        request.push_str("\r\n");
        tcp.write_all(request.as_bytes()).await.expect("write");
        let mut ws = Self {
            tcp,
            buf: Vec::new(),
        };
        let end = within("the 101 reply", async {
            loop {
                if let Some(at) = ws.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break at + 4;
                }
                ws.read_more().await;
            }
        })
        .await;
        let head = String::from_utf8(ws.buf.drain(..end).collect()).expect("an ASCII head");
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        assert!(head.contains(WS_ACCEPT), "{head}");
        let extensions = head.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("sec-websocket-extensions")
                .then(|| value.trim().to_owned())
        });
        (ws, extensions)
    }

    /// Opens a session on WebSocket with `offer`: the socket, the server's
    /// extension reply and the session's id.
    async fn open(addr: SocketAddr, offer: Option<&str>) -> (Self, Option<String>, String) {
        let (mut ws, extensions) = Self::connect(addr, "EIO=4&transport=websocket", offer).await;
        let open = ws.next().await;
        assert!(!open.rsv1, "the open packet is short: sent as it is");
        let sid = open_sid(&open.text());
        (ws, extensions, sid)
    }

    async fn read_more(&mut self) {
        self.buf.reserve(1 << 16);
        let n = self.tcp.read_buf(&mut self.buf).await.expect("read");
        assert!(n > 0, "the server closed the connection");
    }

    /// Writes `bytes` as they are.
    async fn write(&mut self, bytes: &[u8]) {
        self.tcp.write_all(bytes).await.expect("write");
    }

    /// Sends a whole message in one frame.
    async fn send(&mut self, opcode: OpCode, rsv1: bool, payload: &[u8]) {
        self.write(&frame(opcode, true, rsv1, payload)).await;
    }

    /// Sends `data` compressed, in one frame.
    async fn send_deflated(&mut self, opcode: OpCode, data: &[u8]) {
        self.send(opcode, true, &deflated(data)).await;
    }

    /// The next frame from the server.
    async fn next(&mut self) -> Frame {
        within("a frame from the server", async {
            loop {
                if let Some(header) =
                    Header::parse(&self.buf, Role::Client).expect("a valid frame header")
                {
                    let len = usize::try_from(header.payload_len).expect("a small frame");
                    let end = header.header_len + len;
                    if self.buf.len() >= end {
                        let payload = self.buf[header.header_len..end].to_vec();
                        self.buf.drain(..end);
                        return Frame {
                            fin: header.fin,
                            rsv1: header.rsv1,
                            opcode: header.opcode,
                            payload,
                        };
                    }
                }
                self.read_more().await;
            }
        })
        .await
    }

    /// The next frame, a text one: its text.
    async fn text(&mut self) -> String {
        self.next().await.text()
    }

    /// The status code of the close frame that comes next.
    async fn close_code(&mut self) -> u16 {
        self.next().await.close_code()
    }
}

#[tokio::test]
async fn the_101_reply_answers_each_offer() {
    let server = TestServer::start(deflate_config()).await;
    let window_10 = format!("{AGREED}; server_max_window_bits=10");
    let cases: [(Option<&str>, Option<&str>); 9] = [
        (None, None),
        (Some(CHROMIUM_OFFER), Some(AGREED)),
        (Some("permessage-deflate"), Some(AGREED)),
        // rally-client's offer.
        (Some(AGREED), Some(AGREED)),
        (
            Some("permessage-deflate; server_max_window_bits=10"),
            Some(&window_10),
        ),
        // zlib's smallest window is 9 bits: an 8-bit one is declined...
        (Some("permessage-deflate; server_max_window_bits=8"), None),
        // ...and the next offer taken instead.
        (
            Some("permessage-deflate; server_max_window_bits=8, permessage-deflate"),
            Some(AGREED),
        ),
        (Some("permessage-deflate; x-unknown"), None),
        (Some("x-webkit-deflate-frame"), None),
    ];
    for (offer, reply) in cases {
        let (_ws, extensions, _sid) = RawWs::open(server.addr, offer).await;
        assert_eq!(extensions.as_deref(), reply, "the reply to {offer:?}");
    }

    // Off (the default): nothing is agreed whatever the offer.
    let server = TestServer::start(quiet_config()).await;
    let (_ws, extensions, _sid) = RawWs::open(server.addr, Some(CHROMIUM_OFFER)).await;
    assert_eq!(extensions, None);
}

#[tokio::test]
async fn compressed_text_and_binary_from_the_client_are_inflated() {
    let mut server = TestServer::start(deflate_config()).await;
    let (mut ws, extensions, _sid) = RawWs::open(server.addr, Some(CHROMIUM_OFFER)).await;
    assert_eq!(extensions.as_deref(), Some(AGREED));

    let text = format!("4{}", "hello, deflate ".repeat(200));
    ws.send_deflated(OpCode::Text, text.as_bytes()).await;
    server.expect_text(&text[1..]).await;
    let echo = ws.next().await;
    assert!(echo.rsv1, "a message over the threshold is sent compressed");
    assert!(echo.payload.len() < text.len() / 10);
    assert_eq!(echo.text(), text);

    let binary: Vec<u8> = (0..3000u32).map(|i| (i % 7) as u8).collect();
    ws.send_deflated(OpCode::Binary, &binary).await;
    server.expect_binary(&binary).await;
    let echo = ws.next().await;
    assert_eq!((echo.opcode, echo.rsv1), (OpCode::Binary, true));
    assert_eq!(echo.data(), binary);

    // Uncompressed messages are still welcome on the same connection.
    ws.send(OpCode::Text, false, b"4plain").await;
    server.expect_text("plain").await;
    assert_eq!(ws.text().await, "4plain");
    // A compressed short message too (a client may compress anything).
    ws.send_deflated(OpCode::Text, b"4aaaaaaaaaaaaaaaaaaaaaaaa")
        .await;
    server.expect_text("aaaaaaaaaaaaaaaaaaaaaaaa").await;
}

#[tokio::test]
async fn a_fragmented_compressed_message_is_inflated_whole() {
    let mut server = TestServer::start(deflate_config()).await;
    let (mut ws, _, _) = RawWs::open(server.addr, Some(CHROMIUM_OFFER)).await;
    let text = format!("4{}", noisy_text(5000));
    let compressed = deflated(text.as_bytes());
    let third = compressed.len() / 3;
    // RSV1 on the first frame only, as RFC 7692 says.
    let mut wire = frame(OpCode::Text, false, true, &compressed[..third]);
    wire.extend(frame(
        OpCode::Continuation,
        false,
        false,
        &compressed[third..2 * third],
    ));
    // A ping may come between the fragments.
    wire.extend(frame(OpCode::Ping, true, false, b"between"));
    wire.extend(frame(
        OpCode::Continuation,
        true,
        false,
        &compressed[2 * third..],
    ));
    ws.write(&wire).await;
    let pong = ws.next().await;
    assert_eq!(
        (pong.opcode, pong.payload.as_slice()),
        (OpCode::Pong, &b"between"[..])
    );
    server.expect_text(&text[1..]).await;
    assert_eq!(ws.text().await, text);
}

#[tokio::test]
async fn server_messages_from_the_threshold_up_are_compressed() {
    let server = TestServer::start_silent(deflate_config()).await;
    let (mut ws, _, sid) = RawWs::open(server.addr, Some(CHROMIUM_OFFER)).await;
    let session = server.session(&sid);
    // The threshold counts the frame's bytes: `4` and the text.
    for (len, compressed) in [(1022, false), (1023, true), (1024, true), (500_000, true)] {
        let text = "x".repeat(len);
        session.send(text.as_str()).unwrap();
        let frame = ws.next().await;
        assert_eq!(frame.rsv1, compressed, "a text of {len} bytes");
        assert_eq!(frame.text(), format!("4{text}"));
    }
    for (len, compressed) in [(1023, false), (1024, true), (1025, true)] {
        let binary = vec![9; len];
        session.send(Message::from(binary.clone())).unwrap();
        let frame = ws.next().await;
        assert_eq!((frame.opcode, frame.rsv1), (OpCode::Binary, compressed));
        assert_eq!(frame.data(), binary);
    }
    // What compressing would not shrink goes out as it is.
    let random: Vec<u8> = noisy_text(4000)
        .as_bytes()
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect();
    session.send(Message::from(random.clone())).unwrap();
    let frame = ws.next().await;
    assert!(!frame.rsv1);
    assert_eq!(frame.payload, random);

    // A client that made no offer gets everything uncompressed.
    let (mut plain, extensions, sid) = RawWs::open(server.addr, None).await;
    assert_eq!(extensions, None);
    let text = "y".repeat(5000);
    server.session(&sid).send(text.as_str()).unwrap();
    let frame = plain.next().await;
    assert!(!frame.rsv1);
    assert_eq!(frame.text(), format!("4{text}"));
}

#[tokio::test]
async fn a_decompression_bomb_closes_with_1009_and_spares_other_clients() {
    let mut server = TestServer::start(deflate_config().max_http_buffer_size(1_000_000)).await;
    let (mut other, _, _) = RawWs::open(server.addr, Some(CHROMIUM_OFFER)).await;
    let (mut bomb, _, _) = RawWs::open(server.addr, Some(CHROMIUM_OFFER)).await;
    // 10 MB of zeros: about 10 KB on the wire.
    let zeros = vec![b'0'; 10_000_000];
    let compressed = deflated(&zeros);
    assert!(compressed.len() < 20_000);
    bomb.send(OpCode::Text, true, &compressed).await;
    assert_eq!(bomb.close_code().await, 1009);
    assert_eq!(server.expect_close().await, CloseReason::TransportError);

    // The other connection goes on, compressed both ways.
    let text = format!("4{}", "still here ".repeat(200));
    other.send_deflated(OpCode::Text, text.as_bytes()).await;
    server.expect_text(&text[1..]).await;
    assert_eq!(other.text().await, text);

    // A message that inflates to just over the bound is refused too; to
    // just the bound, accepted.
    let fits = format!("4{}", "z".repeat(999_999));
    other.send_deflated(OpCode::Text, fits.as_bytes()).await;
    server.expect_text(&fits[1..]).await;
    assert_eq!(other.text().await, fits);
    other
        .send_deflated(OpCode::Text, format!("{fits}z").as_bytes())
        .await;
    assert_eq!(other.close_code().await, 1009);
    assert_eq!(server.expect_close().await, CloseReason::TransportError);
}

#[tokio::test]
async fn corrupt_deflate_data_closes_with_1007() {
    let mut server = TestServer::start(deflate_config()).await;
    let (mut ws, _, _) = RawWs::open(server.addr, Some(CHROMIUM_OFFER)).await;
    // A final block of the reserved type 3.
    ws.send(OpCode::Text, true, &[0xff; 20]).await;
    assert_eq!(ws.close_code().await, 1007);
    assert_eq!(server.expect_close().await, CloseReason::TransportError);
    server.assert_no_event();

    // Valid deflate data that is not UTF-8, in a text frame: 1007 as well.
    let (mut ws, _, _) = RawWs::open(server.addr, Some(CHROMIUM_OFFER)).await;
    let mut invalid = vec![0xff; 100];
    invalid[0] = b'4';
    ws.send_deflated(OpCode::Text, &invalid).await;
    assert_eq!(ws.close_code().await, 1007);
    assert_eq!(server.expect_close().await, CloseReason::TransportError);
}

#[tokio::test]
async fn rsv1_where_it_does_not_belong_closes_with_1002() {
    let mut server = TestServer::start(deflate_config()).await;
    let compressed = deflated(b"4hello hello hello hello");

    // No offer, so nothing agreed: RSV1 is a protocol error.
    let (mut ws, extensions, _) = RawWs::open(server.addr, None).await;
    assert_eq!(extensions, None);
    ws.send(OpCode::Text, true, &compressed).await;
    assert_eq!(ws.close_code().await, 1002);
    assert_eq!(server.expect_close().await, CloseReason::TransportError);

    // Agreed, but RSV1 on a continuation frame...
    let (mut ws, _, _) = RawWs::open(server.addr, Some(CHROMIUM_OFFER)).await;
    let mut wire = frame(OpCode::Text, false, true, &compressed[..4]);
    wire.extend(frame(OpCode::Continuation, true, true, &compressed[4..]));
    ws.write(&wire).await;
    assert_eq!(ws.close_code().await, 1002);
    assert_eq!(server.expect_close().await, CloseReason::TransportError);

    // ...or on a control frame.
    let (mut ws, _, _) = RawWs::open(server.addr, Some(CHROMIUM_OFFER)).await;
    ws.send(OpCode::Ping, true, b"").await;
    assert_eq!(ws.close_code().await, 1002);
    assert_eq!(server.expect_close().await, CloseReason::TransportError);

    // A server with compression off never agrees, so RSV1 is refused there.
    let mut server = TestServer::start(quiet_config()).await;
    let (mut ws, extensions, _) = RawWs::open(server.addr, Some(CHROMIUM_OFFER)).await;
    assert_eq!(extensions, None);
    ws.send(OpCode::Text, true, &compressed).await;
    assert_eq!(ws.close_code().await, 1002);
    assert_eq!(server.expect_close().await, CloseReason::TransportError);
}

#[tokio::test]
async fn a_compressed_message_written_one_byte_at_a_time_arrives() {
    let mut server = TestServer::start(deflate_config()).await;
    let (mut ws, _, _) = RawWs::open(server.addr, Some(CHROMIUM_OFFER)).await;
    let text = format!("4{}", "one byte at a time ".repeat(100));
    let compressed = frame(OpCode::Text, true, true, &deflated(text.as_bytes()));
    let plain = frame(OpCode::Text, true, false, b"4uncompressed, bytewise");
    for byte in compressed.iter().chain(&plain) {
        ws.write(std::slice::from_ref(byte)).await;
    }
    server.expect_text(&text[1..]).await;
    server.expect_text("uncompressed, bytewise").await;
    assert_eq!(ws.text().await, text);
    assert_eq!(ws.text().await, "4uncompressed, bytewise");
}

#[tokio::test]
async fn many_frames_in_one_write_arrive_in_order() {
    let mut server = TestServer::start(deflate_config()).await;
    let (mut ws, _, _) = RawWs::open(server.addr, Some(CHROMIUM_OFFER)).await;
    let texts: Vec<String> = (0..60)
        .map(|i| format!("4{i} {}", "many frames ".repeat(i * 20 + 3)))
        .collect();
    let mut wire = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        if i % 2 == 0 {
            wire.extend(frame(OpCode::Text, true, true, &deflated(text.as_bytes())));
        } else {
            wire.extend(frame(OpCode::Text, true, false, text.as_bytes()));
        }
    }
    ws.write(&wire).await;
    for text in &texts {
        server.expect_text(&text[1..]).await;
    }
    for text in &texts {
        let echo = ws.next().await;
        assert_eq!(echo.rsv1, text.len() >= 1024);
        assert_eq!(&echo.text(), text);
    }
}

#[tokio::test]
async fn frames_larger_than_64_kib_both_ways() {
    let mut server = TestServer::start(deflate_config()).await;
    let (mut ws, _, _) = RawWs::open(server.addr, Some(CHROMIUM_OFFER)).await;
    let text = format!("4{}", noisy_text(500_000));
    let compressed = deflated(text.as_bytes());
    assert!(compressed.len() > 1 << 16, "a 64-bit length frame");
    ws.send(OpCode::Text, true, &compressed).await;
    server.expect_text(&text[1..]).await;
    let echo = ws.next().await;
    assert!(echo.rsv1 && echo.payload.len() > 1 << 16);
    assert_eq!(echo.text(), text);

    let binary: Vec<u8> = noisy_text(200_000).into_bytes();
    ws.send(OpCode::Binary, false, &binary).await;
    server.expect_binary(&binary).await;
    assert_eq!(ws.next().await.data(), binary);
}

#[tokio::test]
async fn the_upgrade_from_polling_negotiates_on_its_own_request() {
    let mut server = TestServer::start(deflate_config()).await;
    let polling = server.open_polling().await;
    let (mut ws, extensions) = RawWs::connect(
        server.addr,
        &format!("EIO=4&transport=websocket&sid={}", polling.sid),
        Some(CHROMIUM_OFFER),
    )
    .await;
    assert_eq!(extensions.as_deref(), Some(AGREED));
    ws.send(OpCode::Text, false, b"2probe").await;
    assert_eq!(ws.text().await, "3probe");
    ws.send(OpCode::Text, false, b"5").await;

    let text = format!("4{}", "after the upgrade ".repeat(100));
    ws.send_deflated(OpCode::Text, text.as_bytes()).await;
    server.expect_text(&text[1..]).await;
    let echo = ws.next().await;
    assert!(echo.rsv1);
    assert_eq!(echo.text(), text);
    assert_eq!(
        polling.session.transport(),
        rally_engine::Transport::WebSocket
    );
}

/// A client that dribbles a frame one byte at a time, slower than the
/// heartbeat, cannot hold its session: the frame never completes, so no
/// pong arrives, and the session ends with `ping timeout` after
/// pingInterval + pingTimeout, as any silent client's does; the bytes kept
/// for the incomplete frame stay bounded by the frame it announced.
#[tokio::test]
async fn a_client_dribbling_one_byte_at_a_time_times_out() {
    let config = Config::default()
        .ping_interval(std::time::Duration::from_millis(300))
        .ping_timeout(std::time::Duration::from_millis(200));
    let mut server = TestServer::start(config).await;
    let (mut slow, _, _) = RawWs::open(server.addr, None).await;
    let pong = frame(OpCode::Text, true, false, b"3");
    let dribble = async {
        for byte in pong.iter().cycle() {
            if slow.tcp.write_all(&[*byte]).await.is_err() {
                break;
            }
            // Three bytes per heartbeat: a pong frame (7 bytes) takes
            // longer to arrive than the server waits for it.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    };
    tokio::select! {
        reason = server.expect_close() => assert_eq!(reason, CloseReason::PingTimeout),
        () = dribble => panic!("the server closed the socket before the session ended"),
    }
}
