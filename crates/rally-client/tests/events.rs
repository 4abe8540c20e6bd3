//! Events, acknowledgements both ways, and binary data both ways. Against
//! Rally and the official Node.js server, on each transport.

mod common;

use std::time::Duration;

use common::{Client, Kind, Mode, TestServer, bytes, within};
use rally_client::{AckError, Args, Binary};
use serde::Serialize;
use serde_json::{Value, json};

async fn connected(
    kind: Kind,
    mode: Mode,
) -> (TestServer, Client, rally_client::Socket, common::Recorder) {
    let server = TestServer::start(kind).await;
    let mut client = Client::new(&server.url(), mode);
    let (socket, mut rec) = client.socket("/");
    within("connect", socket.connect()).await.expect("connects");
    rec.event("auth").await;
    client.settle().await;
    (server, client, socket, rec)
}

/// Emits `message` with `values` and checks `message-back` returns them.
async fn round_trip(socket: &rally_client::Socket, rec: &mut common::Recorder, values: &[Value]) {
    let args = values.iter().fold(Args::new(), |args, v| args.arg(v));
    socket.emit("message", args).expect("emits");
    assert_eq!(rec.event("message-back").await, values, "{values:?}");
}

async fn events(kind: Kind, mode: Mode) {
    let (_server, client, socket, mut rec) = connected(kind, mode).await;
    let cases: Vec<Vec<Value>> = vec![
        vec![json!("hello")],
        vec![
            json!(1),
            json!(-2),
            json!(1.5),
            json!(9_007_199_254_740_991_i64),
        ],
        vec![json!(true), json!(false), json!(null)],
        vec![json!({"a": {"b": [1, {"c": "d"}]}, "e": []}), json!([[[]]])],
        vec![
            json!("héllo wörld ✓ 🎉"),
            json!("\"quotes\" \\ / \n\t\u{1}"),
        ],
        vec![],
        vec![json!(""), json!({}), json!([]), json!(0)],
        vec![json!("x".repeat(200_000))],
    ];
    for values in &cases {
        round_trip(&socket, &mut rec, values).await;
    }
    for i in 0..50 {
        socket.emit("message", &i).expect("emits");
    }
    for i in 0..50 {
        assert_eq!(rec.event("message-back").await, [json!(i)]);
    }
    // A tuple by value is one argument per element; a reference, one array.
    socket.emit("message", (1, "two")).expect("emits");
    assert_eq!(rec.event("message-back").await, [json!(1), json!("two")]);
    let pair = (1, "two");
    socket
        .emit("message", Args::new().arg(&pair))
        .expect("emits");
    assert_eq!(rec.event("message-back").await, [json!([1, "two"])]);
    client.assert_settled();
}

async fn acks(kind: Kind, mode: Mode) {
    let (_server, client, socket, mut rec) = connected(kind, mode).await;
    let reply = within("ack", socket.emit_with_ack("message-with-ack", "one"))
        .await
        .expect("acked");
    assert_eq!(reply.arg::<String>(0).expect("a string"), "one");
    let reply = within(
        "ack",
        socket.emit_with_ack(
            "message-with-ack",
            Args::new().arg(&1).arg(&json!({"a": 2})).arg(&"three"),
        ),
    )
    .await
    .expect("acked");
    assert_eq!(
        reply.args::<(u32, Value, String)>().expect("three args"),
        (1, json!({"a": 2}), "three".to_owned())
    );
    let reply = within("ack", socket.emit_with_ack("message-with-ack", ()))
        .await
        .expect("acked");
    assert!(reply.is_empty());
    let reply = socket
        .timeout(Duration::from_secs(2))
        .emit_with_ack("message-with-ack", "timed")
        .await
        .expect("acked in time");
    assert_eq!(reply.raw_arg(0), Some("\"timed\""));

    let concurrent: Vec<_> = (0..20)
        .map(|i| socket.emit_with_ack("message-with-ack", &i))
        .collect();
    for (i, reply) in concurrent.into_iter().enumerate() {
        let reply = within("concurrent acks", reply).await.expect("acked");
        assert_eq!(reply.arg::<usize>(0).expect("a number"), i);
    }

    // Server to client: the handler's ack goes back.
    socket.on("ask", |_, mut event| async move {
        let arg: Value = event.arg(0).unwrap_or_default();
        let _ = event.ack(&json!({"got": arg}));
    });
    let answer = within(
        "request-ack",
        socket.emit_with_ack("request-ack", Args::new().arg(&"ask").arg(&7)),
    )
    .await
    .expect("acked");
    assert_eq!(
        answer.arg::<Value>(0).expect("json"),
        json!({"ok": true, "reply": {"got": 7}})
    );

    // A late answer: the server gives up after 1 s and ignores it; our own
    // 200 ms timeout runs meanwhile.
    let (late_tx, mut late_rx) = tokio::sync::mpsc::unbounded_channel();
    socket.on("slow", move |_, mut event| {
        let late_tx = late_tx.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(1100)).await;
            let _ = late_tx.send(event.ack("late"));
        }
    });
    let server_side = socket.emit_with_ack("request-ack", Args::new().arg(&"slow").arg(&0));
    let client_side = socket
        .timeout(Duration::from_millis(200))
        .emit_with_ack("never-answered-event", ());
    let err = within("client timeout", client_side)
        .await
        .expect_err("times out");
    assert_eq!(err, AckError::Timeout);
    assert_eq!(err.to_string(), "operation has timed out");
    let answer = within("server timeout", server_side).await.expect("acked");
    assert_eq!(
        answer.arg::<Value>(0).expect("json"),
        json!({"ok": false, "error": "operation has timed out"})
    );
    let late = within("the late ack", late_rx.recv()).await;
    assert_eq!(late, Some(Ok(())));
    socket.emit("message", "after").expect("emits");
    assert_eq!(rec.event("message-back").await, [json!("after")]);
    client.assert_settled();
}

#[derive(Serialize)]
struct Nested {
    file: Binary,
    parts: Vec<Binary>,
    name: &'static str,
}

async fn binary(kind: Kind, mode: Mode) {
    let (_server, client, socket, mut rec) = connected(kind, mode).await;
    socket
        .emit("message", Args::new().binary(vec![1, 2, 3, 255]))
        .expect("emits");
    assert_eq!(rec.event("message-back").await, [bytes(&[1, 2, 3, 255])]);

    let nested = Nested {
        file: Binary::from(vec![9]),
        parts: vec![Binary::from(vec![1]), Binary::from(vec![2, 2])],
        name: "n",
    };
    socket
        .emit(
            "message",
            Args::new().arg(&nested).arg(&"text").binary(Vec::new()),
        )
        .expect("emits");
    assert_eq!(
        rec.event("message-back").await,
        [
            json!({"file": bytes(&[9]), "parts": [bytes(&[1]), bytes(&[2, 2])], "name": "n"}),
            json!("text"),
            bytes(&[]),
        ]
    );

    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    socket
        .emit("message", Args::new().binary(big.clone()))
        .expect("emits");
    assert_eq!(rec.event("message-back").await, [bytes(&big)]);

    let ten = (0..10u8).fold(Args::new(), |args, i| args.binary(vec![i; i as usize]));
    socket.emit("message", ten).expect("emits");
    let back = rec.event("message-back").await;
    assert_eq!(
        back,
        (0..10u8)
            .map(|i| bytes(&vec![i; i as usize]))
            .collect::<Vec<_>>()
    );

    // A look-alike placeholder without binary stays a plain object.
    let fake = json!({"_placeholder": true, "num": 0});
    socket.emit("message", &fake).expect("emits");
    assert_eq!(rec.event("message-back").await, [fake]);

    let reply = within(
        "binary ack",
        socket.emit_with_ack("message-with-ack", Args::new().binary(vec![7, 7])),
    )
    .await
    .expect("acked");
    assert_eq!(
        reply.arg::<Binary>(0).expect("binary"),
        Binary::from(vec![7, 7])
    );
    let reply = within(
        "binary ack",
        socket.emit_with_ack(
            "message-with-ack",
            Args::new().binary(vec![1]).arg(&"x").binary(vec![2]),
        ),
    )
    .await
    .expect("acked");
    assert_eq!(
        reply.to_values(|b| bytes(b)),
        [bytes(&[1]), json!("x"), bytes(&[2])]
    );

    // Server to client with binary both ways.
    socket.on("ask-binary", |_, mut event| async move {
        let got: Binary = event.arg(0).unwrap_or_default();
        let mut doubled = got.as_bytes().to_vec();
        doubled.extend_from_slice(got.as_bytes());
        let _ = event.ack(Args::new().binary(doubled));
    });
    let answer = within(
        "request-ack",
        socket.emit_with_ack(
            "request-ack",
            Args::new().arg(&"ask-binary").binary(vec![4, 5]),
        ),
    )
    .await
    .expect("acked");
    assert_eq!(
        answer.to_values(|b| bytes(b)),
        [json!({"ok": true, "reply": bytes(&[4, 5, 4, 5])})]
    );
    client.assert_settled();
}

each_server_and_mode!(events, acks, binary);

/// A numbered stream runs from before the open, through the upgrade, and
/// past it: nothing is lost or reordered when the transport changes under
/// it. (How many go out over polling depends on how fast the server
/// answers the probe; the stream starts before the connection to catch it.)
async fn through_the_upgrade(kind: Kind) {
    let server = TestServer::start(kind).await;
    let client = Client::new(&server.url(), Mode::Upgrade);
    let (socket, mut rec) = client.socket("/");
    let connecting = tokio::spawn({
        let socket = socket.clone();
        async move { socket.connect().await }
    });
    let (mut sent, mut on_websocket) = (0u32, 0);
    within("the upgrade", async {
        while on_websocket < 20 {
            if client.manager.transport() == Some(rally_client::Transport::WebSocket) {
                on_websocket += 1;
            }
            socket.emit("message", &sent).expect("emits");
            sent += 1;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    within("connect", connecting)
        .await
        .expect("joins")
        .expect("connects");
    for i in 0..sent {
        assert_eq!(rec.event("message-back").await, [json!(i)]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_upgrade_rally() {
    through_the_upgrade(Kind::Rally).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_upgrade_node() {
    through_the_upgrade(Kind::Node).await;
}
