//! The MessagePack parser on the wire, by hand: a packet is one binary
//! message, binary values travel inside it, and what the parser cannot read
//! (a text message, malformed MessagePack, a map with fields of the wrong
//! type, nesting past the limit, lengths past the input) closes the
//! connection as the reference does, leaving other clients alone. The
//! official client's side is in `interop_socket.rs` (`msgpack_*`).

mod support;

use bytes::Bytes;
use rally::{Args, Parser};
use rally_proto::socket::{Packet, PacketType, msgpack};
use support::{Client, Frame, TestServer, quiet};

/// A server with the MessagePack parser whose `/` echoes `message` as
/// `message-back` and answers `message-with-ack` with its arguments.
async fn server() -> TestServer {
    let io = quiet().parser(Parser::MsgPack).build();
    io.of("/").on("message", |socket, event| async move {
        let _ = socket.emit("message-back", event.to_args());
    });
    io.of("/")
        .on("message-with-ack", |_socket, mut event| async move {
            let args = event.to_args();
            let _ = event.ack(args);
        });
    TestServer::start(io).await
}

/// The bytes socket.io-client sends for `packet` (with `attachments`).
fn packed(packet: &Packet, attachments: &[Bytes]) -> Vec<u8> {
    msgpack::encode(packet, attachments, msgpack::Layout::Client)
        .expect("encodable")
        .to_vec()
}

/// The next frame, which must be one MessagePack packet.
async fn next_packet(client: &mut Client) -> (Packet, Vec<Bytes>) {
    match client.recv().await {
        Frame::Binary(bytes) => msgpack::decode(&Bytes::from(bytes), 10).expect("a packet"),
        other => panic!("expected a MessagePack packet, got {other:?}"),
    }
}

/// A client joined to `/` over the MessagePack parser.
async fn joined(server: &TestServer) -> Client {
    let mut client = server.client().await;
    client
        .send_binary(&packed(&Packet::new(PacketType::Connect, "/".into()), &[]))
        .await;
    let (reply, _) = next_packet(&mut client).await;
    assert_eq!(reply.kind, PacketType::Connect);
    let data = reply.data.expect("the CONNECT reply has data");
    assert!(data.as_str().starts_with(r#"{"sid":""#), "{data:?}");
    client
}

#[tokio::test]
async fn events_acks_and_binary_travel_as_one_message_each() {
    let server = server().await;
    let mut client = joined(&server).await;

    let event =
        Packet::new(PacketType::Event, "/".into()).with_data(r#"["message","hi",{"n":1}]"#.into());
    client.send_binary(&packed(&event, &[])).await;
    let (back, attachments) = next_packet(&mut client).await;
    assert_eq!(back.kind, PacketType::Event);
    assert_eq!(
        back.data.as_deref(),
        Some(r#"["message-back","hi",{"n":1}]"#)
    );
    assert!(attachments.is_empty());

    // Binary inside the map, an ack asked: the answer carries it back.
    let mut with_ack = Packet::new(PacketType::BinaryEvent, "/".into())
        .with_id(7)
        .with_data(r#"["message-with-ack",{"file":{"_placeholder":true,"num":0}}]"#.into());
    with_ack.attachments = 1;
    client
        .send_binary(&packed(&with_ack, &[Bytes::from_static(&[1, 2, 3])]))
        .await;
    let (ack, attachments) = next_packet(&mut client).await;
    assert_eq!(ack.kind, PacketType::BinaryAck);
    assert_eq!(ack.id, Some(7));
    assert_eq!(
        ack.data.as_deref(),
        Some(r#"[{"file":{"_placeholder":true,"num":0}}]"#)
    );
    assert_eq!(attachments, [Bytes::from_static(&[1, 2, 3])]);
    client.sync_packed().await;
}

#[tokio::test]
async fn a_broadcast_reaches_every_client_in_messagepack() {
    let server = server().await;
    let mut a = joined(&server).await;
    let mut b = joined(&server).await;
    server
        .io
        .emit("news", Args::new().arg(&"x").binary(vec![9]))
        .expect("emits");
    for client in [&mut a, &mut b] {
        let (packet, attachments) = next_packet(client).await;
        assert_eq!(
            packet.data.as_deref(),
            Some(r#"["news","x",{"_placeholder":true,"num":0}]"#)
        );
        assert_eq!(attachments, [Bytes::from_static(&[9])]);
    }
}

#[tokio::test]
async fn what_the_parser_cannot_read_closes_the_connection() {
    let nested = {
        // 200 nested arrays inside an event: past the depth limit.
        let mut bytes = b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x92\xa1e".to_vec();
        bytes.extend(std::iter::repeat_n(0x91, 200));
        bytes.push(0xc0);
        bytes
    };
    let inputs: Vec<(&str, Vec<u8>)> = vec![
        ("not MessagePack at all", b"\xc1".to_vec()),
        ("truncated", b"\x83\xa4type\x02\xa3nsp".to_vec()),
        (
            "type as a string",
            b"\x82\xa4type\xa12\xa3nsp\xa1/".to_vec(),
        ),
        ("nsp not a string", b"\x82\xa4type\x02\xa3nsp\x01".to_vec()),
        (
            "a negative ack id",
            b"\x84\xa4type\x02\xa3nsp\xa1/\xa4data\x91\xa1e\xa2id\xff".to_vec(),
        ),
        (
            "an event without a name",
            b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x90".to_vec(),
        ),
        ("nested too deep", nested),
        (
            "a string longer than the message",
            b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x91\xdb\xff\xff\xff\xff".to_vec(),
        ),
        (
            "an array longer than the message",
            b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\xdd\x7f\xff\xff\xff".to_vec(),
        ),
        (
            "trailing bytes",
            b"\x82\xa4type\x01\xa3nsp\xa1/\xc0".to_vec(),
        ),
    ];
    let server = server().await;
    let mut bystander = joined(&server).await;
    for (what, bytes) in inputs {
        let mut client = joined(&server).await;
        client.send_binary(&bytes).await;
        match client.recv().await {
            Frame::Close(..) | Frame::End => {}
            other => panic!("{what}: expected the connection to close, got {other:?}"),
        }
    }
    // A text message is not a packet of this parser either.
    let mut client = joined(&server).await;
    client.send(r#"42["message","hi"]"#).await;
    assert!(matches!(client.recv().await, Frame::Close(..) | Frame::End));
    // The bystander never noticed.
    let event = Packet::new(PacketType::Event, "/".into()).with_data(r#"["message",1]"#.into());
    bystander.send_binary(&packed(&event, &[])).await;
    let (back, _) = next_packet(&mut bystander).await;
    assert_eq!(back.data.as_deref(), Some(r#"["message-back",1]"#));
}

/// A barrier for MessagePack clients: a CONNECT to an unknown namespace is
/// answered in order, so nothing else was sent before its answer.
trait SyncPacked {
    async fn sync_packed(&mut self);
}

impl SyncPacked for Client {
    async fn sync_packed(&mut self) {
        self.send_binary(&packed(
            &Packet::new(PacketType::Connect, "/__sync".into()),
            &[],
        ))
        .await;
        let (reply, _) = next_packet(self).await;
        assert_eq!(reply.kind, PacketType::ConnectError, "{reply:?}");
        assert_eq!(reply.nsp.as_str(), "/__sync");
    }
}
