//! The MessagePack parser (`Parser::MsgPack`, socket.io-msgpack-parser on
//! the other side): events, binary both ways, acknowledgements both ways,
//! namespaces and a server's disconnect. Against Rally and the official
//! Node.js server with the same parser, on each transport.

mod common;

use common::{Client, Kind, Mode, Rec, TestServer, bytes, within};
use rally_client::{Args, Binary, DisconnectReason, Parser};
use serde::Serialize;
use serde_json::{Value, json};

async fn connected(
    kind: Kind,
    mode: Mode,
) -> (TestServer, Client, rally_client::Socket, common::Recorder) {
    let server = TestServer::start_parsed(kind, Parser::MsgPack).await;
    let mut client = Client::with(&server.url(), mode, |b| b.parser(Parser::MsgPack));
    let (socket, mut rec) = client.socket("/");
    within("connect", socket.connect()).await.expect("connects");
    assert_eq!(rec.event("auth").await, [json!({})]);
    client.settle().await;
    (server, client, socket, rec)
}

#[derive(Serialize)]
struct Nested {
    file: Binary,
    parts: Vec<Binary>,
    name: &'static str,
}

async fn events_and_binary(kind: Kind, mode: Mode) {
    let (_server, client, socket, mut rec) = connected(kind, mode).await;
    let cases = [
        vec![json!("hello"), json!(1), json!(-2), json!(1.5), json!(null)],
        vec![
            json!({"a": {"b": [1, {"c": "d"}]}, "e": []}),
            json!("héllo 🎉"),
        ],
        vec![],
        vec![json!("x".repeat(70_000))],
    ];
    for values in &cases {
        let args = values.iter().fold(Args::new(), |args, v| args.arg(v));
        socket.emit("message", args).expect("emits");
        assert_eq!(&rec.event("message-back").await, values);
    }
    let nested = Nested {
        file: Binary::from(vec![9]),
        parts: vec![Binary::from(vec![1]), Binary::from(vec![2, 2])],
        name: "n",
    };
    socket
        .emit(
            "message",
            Args::new().arg(&nested).arg(&"text").binary(vec![0, 255]),
        )
        .expect("emits");
    assert_eq!(
        rec.event("message-back").await,
        [
            json!({"file": bytes(&[9]), "parts": [bytes(&[1]), bytes(&[2, 2])], "name": "n"}),
            json!("text"),
            bytes(&[0, 255]),
        ]
    );
    client.assert_settled();
}

async fn acks_both_ways(kind: Kind, mode: Mode) {
    let (_server, client, socket, _rec) = connected(kind, mode).await;
    let reply = within(
        "ack",
        socket.emit_with_ack(
            "message-with-ack",
            Args::new().arg(&1).arg(&json!({"a": 2})).binary(vec![7]),
        ),
    )
    .await
    .expect("acked");
    assert_eq!(reply.arg::<u32>(0).expect("a number"), 1);
    assert_eq!(reply.arg::<Value>(1).expect("json"), json!({"a": 2}));
    assert_eq!(&reply.arg::<Binary>(2).expect("binary").as_bytes()[..], [7]);

    socket.on("ask", |_, mut event| async move {
        let arg: Value = event.arg(0).unwrap_or_default();
        let _ = event.ack(Args::new().arg(&json!({"got": arg})).binary(vec![5]));
    });
    let answer = within(
        "request-ack",
        socket.emit_with_ack("request-ack", Args::new().arg(&"ask").arg(&7)),
    )
    .await
    .expect("acked");
    let answer: Value = answer.arg(0).expect("json");
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(answer["reply"]["got"], 7, "{answer}");
    client.assert_settled();
}

async fn namespaces_and_disconnect(kind: Kind, mode: Mode) {
    let (_server, client, socket, mut rec) = connected(kind, mode).await;
    let (custom, mut custom_rec) = client.socket("/custom");
    within("connect /custom", custom.connect())
        .await
        .expect("connects");
    assert_eq!(custom_rec.event("auth").await, [json!({})]);
    custom.emit("message", "in custom").expect("emits");
    assert_eq!(custom_rec.event("message-back").await, [json!("in custom")]);

    let (mw, mut mw_rec) = client.socket("/mw");
    let refused = within("connect /mw", mw.connect()).await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(
        mw_rec
            .wait("the refusal", |r| matches!(r, Rec::ConnectError(..)))
            .await,
        Rec::ConnectError("not authorized".into(), Some(json!({"reason": "token"})))
    );

    socket.emit("server-disconnect", ()).expect("emits");
    assert_eq!(
        rec.disconnected().await,
        DisconnectReason::IoServerDisconnect
    );
}

each_server_and_mode!(events_and_binary, acks_both_ways, namespaces_and_disconnect);
