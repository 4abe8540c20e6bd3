//! Binary attachments both ways, in the reference's frames.

mod support;

use std::time::Duration;

use rally::{Args, Binary};
use serde::{Deserialize, Serialize};
use serde_json::json;
use support::{TestServer, channel, quiet};

const P0: &str = r#"{"_placeholder":true,"num":0}"#;
const P1: &str = r#"{"_placeholder":true,"num":1}"#;

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct File {
    name: String,
    parts: Vec<Binary>,
}

fn relay_server() -> rally::Server {
    let io = quiet().build();
    for nsp in ["/", "/custom"] {
        io.of(nsp).on("message", |socket, event| async move {
            let _ = socket.emit("message-back", event.to_args());
        });
        io.of(nsp)
            .on("message-with-ack", |_socket, mut event| async move {
                let args = event.to_args();
                let _ = event.ack(args);
            });
    }
    io
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_binary_events_reach_handlers_with_their_attachments() {
    let io = quiet().build();
    let (tx, mut rx) = channel();
    io.of("/").on("a", move |_socket, event| {
        let tx = tx.clone();
        async move {
            let _ = tx.send((
                event
                    .binary()
                    .iter()
                    .map(|b| b.to_vec())
                    .collect::<Vec<_>>(),
                event.arg::<Binary>(0).ok(),
                event.raw_arg(0).map(str::to_owned),
            ));
        }
    });
    let (file_tx, mut file_rx) = channel();
    io.of("/").on("file", move |_socket, event| {
        let tx = file_tx.clone();
        async move {
            let _ = tx.send((event.arg::<File>(0).ok(), event.arg::<u8>(1).ok()));
        }
    });
    let server = TestServer::start(io).await;
    let (mut client, _) = server.joined("/").await;

    client.send(&format!(r#"451-["a",{P0}]"#)).await;
    client.send_binary(&[1, 2]).await;
    let (binary, typed, raw) = rx.recv().await;
    assert_eq!(binary, [vec![1, 2]]);
    assert_eq!(typed, Some(Binary::from(vec![1, 2])));
    assert_eq!(raw.as_deref(), Some(P0));

    // Several attachments, nested, in placeholder order (not arrival order
    // of the placeholders in the JSON).
    client
        .send(&format!(
            r#"452-["file",{{"name":"f","parts":[{P1},{P0}]}},7]"#
        ))
        .await;
    client.send_binary(&[10]).await;
    client.send_binary(&[]).await;
    let (file, seven) = file_rx.recv().await;
    assert_eq!(
        file,
        Some(File {
            name: "f".into(),
            parts: vec![Binary::from(Vec::new()), Binary::from(vec![10])],
        })
    );
    assert_eq!(seven, Some(7));
    client.sync().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_events_are_relayed_unchanged() {
    let server = TestServer::start(relay_server()).await;
    let (mut client, _) = server.joined("/").await;
    client
        .send(&format!(r#"452-["message",{P0},"s",{{"x":[{P1}]}}]"#))
        .await;
    client.send_binary(&[1, 2, 3]).await;
    client.send_binary(&[4]).await;
    client
        .expect(&format!(r#"452-["message-back",{P0},"s",{{"x":[{P1}]}}]"#))
        .await;
    client.expect_binary(&[1, 2, 3]).await;
    client.expect_binary(&[4]).await;

    let _ = server.io.of("/custom");
    client.connect("/custom").await;
    client
        .send(&format!(r#"451-/custom,["message",{P0}]"#))
        .await;
    client.send_binary(&[9]).await;
    client
        .expect(&format!(r#"451-/custom,["message-back",{P0}]"#))
        .await;
    client.expect_binary(&[9]).await;
    client.sync().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_binary_emits_match_the_reference() {
    #[derive(Serialize)]
    struct Nested {
        a: Binary,
        b: Vec<Binary>,
    }
    let server = TestServer::start(quiet().build()).await;
    let (mut client, id) = server.joined("/").await;
    let socket = server.socket("/", id);

    // The reference's frames for emit('y', Buffer[9], 'str', Uint8Array[7,8]).
    socket
        .emit(
            "y",
            Args::new().binary(vec![9]).arg(&"str").binary(vec![7, 8]),
        )
        .unwrap();
    client
        .expect(&format!(r#"452-["y",{P0},"str",{P1}]"#))
        .await;
    client.expect_binary(&[9]).await;
    client.expect_binary(&[7, 8]).await;

    // The reference's frames for emit('x', {a: Buffer[1,2], b: [Buffer[3]]}).
    socket
        .emit(
            "x",
            &Nested {
                a: Binary::from(vec![1, 2]),
                b: vec![Binary::from(vec![3])],
            },
        )
        .unwrap();
    client
        .expect(&format!(r#"452-["x",{{"a":{P0},"b":[{P1}]}}]"#))
        .await;
    client.expect_binary(&[1, 2]).await;
    client.expect_binary(&[3]).await;

    // An empty buffer is an empty binary frame.
    socket.emit("e", Args::new().binary(Vec::new())).unwrap();
    client.expect(&format!(r#"451-["e",{P0}]"#)).await;
    client.expect_binary(&[]).await;

    // Binary in a custom namespace.
    let _ = server.io.of("/custom");
    let custom = client.connect("/custom").await;
    server
        .socket("/custom", custom)
        .emit("c", Args::new().binary(vec![5]))
        .unwrap();
    client.expect(&format!(r#"451-/custom,["c",{P0}]"#)).await;
    client.expect_binary(&[5]).await;

    // A broadcast carries its attachments to every recipient.
    let (mut other, _) = server.joined("/").await;
    server
        .io
        .emit("all", Args::new().arg(&1).binary(vec![6, 6]))
        .unwrap();
    for c in [&mut client, &mut other] {
        c.expect(&format!(r#"451-["all",1,{P0}]"#)).await;
        c.expect_binary(&[6, 6]).await;
    }
    client.sync().await;
    other.sync().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_acks_from_the_client() {
    let server = TestServer::start(quiet().build()).await;
    let (mut client, id) = server.joined("/").await;
    let socket = server.socket("/", id);
    let pending = tokio::spawn(async move {
        socket
            .timeout(Duration::from_secs(5))
            .emit_with_ack("q", &json!({"want": "bytes"}))
            .await
    });
    client.expect(r#"420["q",{"want":"bytes"}]"#).await;
    // A binary ack as the official client sends it: `461-5[…]` + BIN.
    client.send(&format!("461-0[{P0},\"s\"]")).await;
    client.send_binary(&[5, 6]).await;
    let reply = support::within("the ack", pending)
        .await
        .unwrap()
        .expect("a binary reply");
    assert_eq!(reply.binary().len(), 1);
    assert_eq!(&reply.binary()[0][..], &[5, 6]);
    assert_eq!(reply.arg::<Binary>(0).unwrap(), Binary::from(vec![5, 6]));
    assert_eq!(reply.arg::<String>(1).unwrap(), "s");
    client.sync().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_acks_to_the_client() {
    let io = relay_server();
    io.of("/").on("bin-ack", |_socket, mut event| async move {
        let _ = event.ack(Args::new().binary(vec![1, 2, 3]));
    });
    let server = TestServer::start(io).await;
    let (mut client, _) = server.joined("/").await;
    client.send(r#"427["bin-ack"]"#).await;
    client.expect(&format!("461-7[{P0}]")).await;
    client.expect_binary(&[1, 2, 3]).await;
    // A binary request relayed as the answer.
    client
        .send(&format!(r#"451-9["message-with-ack",{P0}]"#))
        .await;
    client.send_binary(&[4, 5]).await;
    client.expect(&format!("461-9[{P0}]")).await;
    client.expect_binary(&[4, 5]).await;
    // In a custom namespace.
    client.connect("/custom").await;
    client
        .send(&format!(r#"451-/custom,3["message-with-ack",{P0}]"#))
        .await;
    client.send_binary(&[7]).await;
    client.expect(&format!("461-/custom,3[{P0}]")).await;
    client.expect_binary(&[7]).await;
    client.sync().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_over_polling() {
    let server = TestServer::start(relay_server()).await;
    let polling = server.http().open_polling("/socket.io/").await;
    polling.post_ok(b"40").await;
    let connect = polling.records(1).await;
    assert!(connect[0].starts_with(r#"40{"sid":""#), "{connect:?}");
    // The official client's binary emit over polling: `451-["message-back",{placeholder}]\x1ebAQI=`.
    polling
        .post_ok(format!("451-[\"message\",{P0}]\x1ebAQI=").as_bytes())
        .await;
    let records = polling.records(2).await;
    assert_eq!(
        records,
        [format!(r#"451-["message-back",{P0}]"#), "bAQI=".to_owned()]
    );
}
