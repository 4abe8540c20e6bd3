//! Invalid input, as the reference treats it: each closes the connection with an
//! empty close frame and nothing else, every socket on it leaves with
//! `forced close`, the server never panics and other clients go on.
//! What the reference accepts is accepted.

mod support;

use rally::{DisconnectReason, Server, Sid};
use support::{Client, Frame, Rx, TestServer, channel, quiet};

const P: &str = r#"{"_placeholder":true,"num":0}"#;

#[derive(Debug, Clone, Copy)]
enum Input<'a> {
    Text(&'a str),
    Binary(&'a [u8]),
}
use Input::{Binary, Text};

struct Fixture {
    server: TestServer,
    left: Rx<(Sid, DisconnectReason)>,
    events: Rx<String>,
    bystander: Client,
    /// Clients that must stay connected until the end.
    kept: Vec<Client>,
}

async fn fixture() -> Fixture {
    let io = quiet().build();
    let (tx, left) = channel();
    let (etx, events) = channel();
    for nsp in ["/", "/custom"] {
        let tx = tx.clone();
        io.of(nsp).on_disconnect(move |socket, reason| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((socket.id(), reason));
            }
        });
        let etx = etx.clone();
        io.of(nsp).on_any(move |socket, event| {
            let tx = etx.clone();
            async move {
                let _ = tx.send(format!("{}:{}", socket.ns().name(), event.name()));
            }
        });
    }
    let server = TestServer::start(io).await;
    let (bystander, _) = server.joined("/").await;
    Fixture {
        server,
        left,
        events,
        bystander,
        kept: Vec::new(),
    }
}

async fn send(client: &mut Client, input: &[Input<'_>]) {
    for item in input {
        match item {
            // The server may close while the test still writes.
            Text(t) => {
                client.try_send(t).await;
            }
            Binary(b) => client.send_binary(b).await,
        }
    }
}

/// The next frame must be the reference's empty close frame.
async fn expect_closed(client: &mut Client, case: &str) {
    match client.recv().await {
        Frame::Close(1005, reason) if reason.is_empty() => {}
        other => panic!("{case}: expected an empty close frame, got {other:?}"),
    }
}

impl Fixture {
    /// A client joined to `/` and `/custom` sends `input`: the connection
    /// must close and both sockets leave with `forced close`.
    async fn closes(&mut self, input: &[Input<'_>]) {
        let case = format!("{input:?}");
        let mut client = self.server.client().await;
        let root = client.connect("/").await;
        let custom = client.connect("/custom").await;
        send(&mut client, input).await;
        expect_closed(&mut client, &case).await;
        let mut left = vec![self.left.recv().await, self.left.recv().await];
        left.sort_by_key(|(id, _)| *id);
        let mut expected = vec![
            (root, DisconnectReason::ForcedClose),
            (custom, DisconnectReason::ForcedClose),
        ];
        expected.sort_by_key(|(id, _)| *id);
        assert_eq!(left, expected, "{case}: disconnect reasons");
    }

    /// A fresh client that joined nothing sends `input`: the connection
    /// must close.
    async fn closes_before_connect(&mut self, input: &[Input<'_>]) {
        let case = format!("{input:?}");
        let mut client = self.server.client().await;
        send(&mut client, input).await;
        expect_closed(&mut client, &case).await;
    }

    /// A client joined to `/` sends `input`: it stays connected.
    async fn stays_open(&mut self, input: &[Input<'_>]) {
        let mut client = self.server.client().await;
        client.connect("/").await;
        send(&mut client, input).await;
        let case = format!("{input:?}");
        let frames = client.until_sync().await;
        assert!(frames.is_empty(), "{case}: unexpected frames {frames:?}");
        self.kept.push(client);
    }

    /// Checks that no handler saw an event and that the bystander is fine.
    async fn finish(mut self) {
        self.events.assert_empty();
        self.left.assert_empty();
        for client in &mut self.kept {
            client.sync().await;
        }
        self.bystander.sync().await;
        self.server.io.emit("still-here", ()).unwrap();
        self.bystander.expect(r#"42["still-here"]"#).await;
        let (mut fresh, _) = self.server.joined("/").await;
        fresh.sync().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_event_payloads_close_the_connection() {
    let mut f = fixture().await;
    for bad in [
        "42{}",
        "42[]",
        "42[null]",
        r#"42["a""#,
        r#"42abc["a"]"#,
        r#"42["message",1]x"#,
        r#"42["message"]extra"#,
        r#"42[{"a":1}]"#,
        r#"42[["a"]]"#,
        r#"42[true]"#,
        r#"42"message""#,
        r#"42/custom,{}"#,
    ] {
        f.closes(&[Text(bad)]).await;
    }
    f.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserved_event_names_from_the_client_close_the_connection() {
    let mut f = fixture().await;
    for name in [
        "connect",
        "disconnect",
        "disconnecting",
        "newListener",
        "connect_error",
        "removeListener",
    ] {
        f.closes(&[Text(&format!(r#"42["{name}"]"#))]).await;
        f.closes(&[Text(&format!(r#"42/custom,["{name}",1]"#))])
            .await;
    }
    f.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_packet_types_and_headers_close_the_connection() {
    let mut f = fixture().await;
    for bad in [
        "4x",
        "4",
        "47[]",
        "49",
        "4-1",
        r#"41{"a":1}"#,
        "43{}",
        r#"43"x""#,
        "44",
        r#"44{"message":"x"}"#,
        r#"44/custom,{"message":"x"}"#,
        "40",
        "40/custom,",
        r#"42/ ,["message",9]"#,
    ] {
        f.closes(&[Text(bad)]).await;
    }
    f.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packets_for_a_namespace_not_joined_close_the_connection() {
    let mut f = fixture().await;
    let _ = f.server.io.of("/other");
    for bad in [
        r#"42/other,["a"]"#,
        "41/other,",
        "43/other,0[]",
        r#"42/nowhere,["a"]"#,
    ] {
        f.closes(&[Text(bad)]).await;
    }
    // Before any CONNECT (the reference closes on the very first packet).
    for bad in [r#"42["a"]"#, "41", "430[]", r#"42/custom,["a"]"#] {
        f.closes_before_connect(&[Text(bad)]).await;
    }
    f.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_connect_payloads_close_the_connection() {
    let mut f = fixture().await;
    // CONNECT payloads the reference refuses.
    for bad in [
        r#"40"str""#,
        "40[1]",
        "40null",
        "40/custom,[1]",
        r#"40{"a""#,
    ] {
        f.closes_before_connect(&[Text(bad)]).await;
    }
    f.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_protocol_violations_close_the_connection() {
    let mut f = fixture().await;
    let header = format!(r#"451-["a",{P}]"#);
    // Text while an attachment is pending.
    f.closes(&[Text(&header), Text(r#"42["b"]"#)]).await;
    // More attachments than allowed (10).
    let eleven = format!(r#"4511-["a",{P}]"#);
    f.closes(&[Text(&eleven)]).await;
    // A binary frame nobody waits for.
    f.closes(&[Binary(&[1, 2])]).await;
    // A binary packet without its `N-`, or with `0-`.
    f.closes(&[Text(r#"45["message",1]"#)]).await;
    f.closes(&[Text(&format!(r#"450-["a",{P}]"#))]).await;
    // A placeholder pointing past the attachments.
    f.closes(&[
        Text(r#"451-["a",{"_placeholder":true,"num":5}]"#),
        Binary(&[1]),
    ])
    .await;
    // A binary ack nobody waits for is not a violation: see below.
    f.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_reference_accepts_is_accepted() {
    let mut f = fixture().await;
    // Packets the reference's parser accepts; `42` alone is an event without a name.
    f.stays_open(&[Text("42")]).await;
    assert_eq!(f.events.recv().await, "/:");
    f.stays_open(&[Text("42[1]")]).await;
    assert_eq!(f.events.recv().await, "/:1");
    f.stays_open(&[Text(r#"42[1,"x"]"#)]).await;
    assert_eq!(f.events.recv().await, "/:1");
    f.stays_open(&[Text(r#"42 ["a"]"#)]).await;
    assert_eq!(f.events.recv().await, "/:a");
    f.stays_open(&[Text(r#"420["message","x"]"#)]).await;
    assert_eq!(f.events.recv().await, "/:message");
    f.stays_open(&[Text(r#"42/,["message",9]"#)]).await;
    assert_eq!(f.events.recv().await, "/:message");
    f.stays_open(&[Text("43"), Text("43[]"), Text(r#"437["x"]"#)])
        .await;
    // An unknown binary ack id, attachments and all.
    f.stays_open(&[Text(&format!("461-9[{P}]")), Binary(&[1])])
        .await;
    // A binary event completed by its attachment.
    f.stays_open(&[Text(&format!(r#"451-["bin",{P}]"#)), Binary(&[1, 2])])
        .await;
    assert_eq!(f.events.recv().await, "/:bin");
    // Ten attachments are allowed.
    let ten: Vec<String> = (0..10)
        .map(|i| format!(r#"{{"_placeholder":true,"num":{i}}}"#))
        .collect();
    let header = format!(r#"4510-["ten",{}]"#, ten.join(","));
    let mut input = vec![Text(&header)];
    input.extend(std::iter::repeat_n(Binary(&[7]), 10));
    f.stays_open(&input).await;
    assert_eq!(f.events.recv().await, "/:ten");
    // Engine-level: `6` (noop) and `3` (unsolicited pong) are ignored, and
    // so is `1` over WebSocket (the reference ignores all three).
    f.stays_open(&[Text("6"), Text("3"), Text("1")]).await;
    f.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_connect_to_a_joined_namespace_closes() {
    let mut f = fixture().await;
    let mut client = f.server.client().await;
    let root = client.connect("/").await;
    client.send("40").await;
    expect_closed(&mut client, "second 40").await;
    assert_eq!(f.left.recv().await, (root, DisconnectReason::ForcedClose));

    let mut client = f.server.client().await;
    client.connect("/").await;
    let custom = client.connect("/custom").await;
    client.send(r#"40/custom,{"again":true}"#).await;
    expect_closed(&mut client, "second 40/custom,").await;
    let mut reasons = vec![f.left.recv().await.1, f.left.recv().await.1];
    reasons.dedup();
    assert_eq!(reasons, [DisconnectReason::ForcedClose]);
    let _ = custom;
    f.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_packet_over_polling_closes_the_session() {
    let mut f = fixture().await;
    let polling = f.server.http().open_polling("/socket.io/").await;
    polling.post_ok(b"40").await;
    let records = polling.records(1).await;
    let id = Sid::parse(&support::field(&records[0], "sid")).unwrap();
    let pending = polling.pending_get().await;
    // As in the reference: POST still `200 ok`, the pending GET gets `1`.
    polling.post_ok(b"42{}").await;
    let reply = support::finish(pending).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.text(), "1");
    assert_eq!(f.left.recv().await, (id, DisconnectReason::ForcedClose));
    let gone = polling.get().await;
    assert_eq!(gone.status, 400, "{gone:?}");
    assert_eq!(gone.text(), r#"{"code":1,"message":"Session ID unknown"}"#);
    f.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_bad_clients_at_once_leave_the_good_one_alone() {
    let f = fixture().await;
    let addr = f.server.addr;
    let mut tasks = Vec::new();
    for i in 0..20 {
        tasks.push(tokio::spawn(async move {
            let mut client = Client::open(addr, "", &[]).await;
            client.connect("/").await;
            let bad = ["42{}", r#"42["connect"]"#, "4x", "zzz"][i % 4];
            client.try_send(bad).await;
            while !matches!(client.recv().await, Frame::Close(..) | Frame::End) {}
        }));
    }
    for task in tasks {
        support::within("a bad client", task).await.unwrap();
    }
    let Fixture {
        server,
        mut bystander,
        ..
    } = f;
    server.io.emit("still-here", ()).unwrap();
    bystander.expect(r#"42["still-here"]"#).await;
    server_alive(&server.io);
}

fn server_alive(io: &Server) {
    assert_eq!(io.of("/").sockets().len(), 1, "only the bystander is left");
}
