//! Acknowledgements both ways, in the reference's frames.

mod support;

use std::{sync::Arc, time::Duration};

use rally::{AckError, AckReply, EmitError, Socket};
use serde_json::json;
use support::{TestServer, channel, quiet};
use tokio::task::JoinHandle;

fn ack_server() -> rally::Server {
    let io = quiet().build();
    for nsp in ["/", "/custom"] {
        io.of(nsp)
            .on("message-with-ack", |_socket, mut event| async move {
                let args = event.to_args();
                let _ = event.ack(args);
            });
    }
    io
}

/// Starts `socket.emit_with_ack(event, arg)` (with an optional timeout) in
/// a task of its own.
fn request(
    socket: &Arc<Socket>,
    event: &'static str,
    arg: serde_json::Value,
    timeout: Option<Duration>,
) -> JoinHandle<Result<AckReply, AckError>> {
    let socket = socket.clone();
    tokio::spawn(async move {
        match timeout {
            Some(t) => socket.timeout(t).emit_with_ack(event, &arg).await,
            None => socket.emit_with_ack(event, &arg).await,
        }
    })
}

async fn outcome(handle: JoinHandle<Result<AckReply, AckError>>) -> Result<AckReply, AckError> {
    support::within("an ack outcome", handle)
        .await
        .expect("the emitting task panicked")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_requests_get_exact_ack_replies() {
    let server = TestServer::start(ack_server()).await;
    let (mut client, _) = server.joined("/").await;
    client.send(r#"425["message-with-ack",1]"#).await;
    client.expect("435[1]").await;
    client
        .send(r#"4299["message-with-ack",{"a":[1,2]},"s",null]"#)
        .await;
    client.expect(r#"4399[{"a":[1,2]},"s",null]"#).await;
    client.send(r#"420["message-with-ack","x"]"#).await;
    client.expect(r#"430["x"]"#).await;
    client.send(r#"427["message-with-ack"]"#).await;
    client.expect("437[]").await;
    client.connect("/custom").await;
    client.send(r#"42/custom,3["message-with-ack","c"]"#).await;
    client.expect(r#"43/custom,3["c"]"#).await;
    client.sync().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ack_is_sent_once() {
    let io = quiet().build();
    let (tx, mut rx) = channel();
    io.of("/").on("twice", move |_socket, mut event| {
        let tx = tx.clone();
        async move {
            let first = event.ack(&1);
            let second = event.ack(&2);
            let _ = tx.send((first.is_ok(), second.is_ok(), event.wants_ack()));
        }
    });
    io.of("/").on("later", |_socket, mut event| async move {
        let ack = event.take_ack().expect("an ack was asked for");
        assert!(!event.wants_ack());
        tokio::time::sleep(Duration::from_millis(20)).await;
        let _ = ack.send(rally::Args::new().arg(&"late").arg(&2));
    });
    io.of("/").on("no-ack", |_socket, mut event| async move {
        // Answering an event that asked for nothing sends nothing.
        assert!(event.ack(&1).is_ok());
    });
    let server = TestServer::start(io).await;
    let (mut client, _) = server.joined("/").await;
    client.send(r#"428["twice"]"#).await;
    client.expect("438[1]").await;
    assert_eq!(rx.recv().await, (true, true, false));
    client.send(r#"42["no-ack"]"#).await;
    client.send(r#"4212["later"]"#).await;
    client.expect(r#"4312["late",2]"#).await;
    client.sync().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_requests_resolve_with_the_client_reply() {
    let server = TestServer::start(quiet().build()).await;
    let (mut client, id) = server.joined("/").await;
    let socket = server.socket("/", id);

    let pending = request(&socket, "q", json!(0), None);
    client.expect(r#"420["q",0]"#).await;
    client.send(r#"430[{"ok":true},"two"]"#).await;
    let reply = outcome(pending).await.expect("a reply");
    assert_eq!(reply.len(), 2);
    assert_eq!(
        reply.arg::<serde_json::Value>(0).unwrap(),
        json!({"ok": true})
    );
    assert_eq!(reply.arg::<String>(1).unwrap(), "two");
    assert_eq!(reply.raw_arg(0), Some(r#"{"ok":true}"#));
    assert!(reply.arg::<Option<u8>>(5).unwrap().is_none());
    // A second answer to the same id is ignored; so is an empty one.
    client.send(r#"430["dup"]"#).await;
    client.send("43").await;
    client.send("43[]").await;

    // An empty answer.
    let pending = request(&socket, "q", json!(null), None);
    client.expect(r#"421["q",null]"#).await;
    client.send("431[]").await;
    let reply = outcome(pending).await.expect("a reply");
    assert!(reply.is_empty());
    client.sync().await;
    assert!(socket.connected());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_requests_time_out() {
    let server = TestServer::start(quiet().build()).await;
    let (mut client, id) = server.joined("/").await;
    let socket = server.socket("/", id);
    let pending = request(&socket, "q", json!(1), Some(Duration::from_millis(100)));
    client.expect(r#"420["q",1]"#).await;
    let error = outcome(pending).await.expect_err("no answer came");
    assert_eq!(error, AckError::Timeout);
    assert_eq!(error.to_string(), "operation has timed out");
    // A late answer is ignored.
    client.send("430[1]").await;
    client.sync().await;
    assert!(socket.connected());

    // An answer in time beats the timeout.
    let pending = request(&socket, "q", json!(2), Some(Duration::from_secs(5)));
    client.expect(r#"421["q",2]"#).await;
    client.send("431[3]").await;
    assert_eq!(outcome(pending).await.unwrap().arg::<u8>(0).unwrap(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_ids_count_from_zero_per_namespace_across_sockets() {
    let io = quiet().build();
    let _ = io.of("/custom");
    let server = TestServer::start(io).await;
    let (mut a, a_id) = server.joined("/").await;
    let (mut b, b_id) = server.joined("/").await;
    let (mut c, c_id) = server.joined("/custom").await;
    let (sa, sb, sc) = (
        server.socket("/", a_id),
        server.socket("/", b_id),
        server.socket("/custom", c_id),
    );

    let mut a_pending = Vec::new();
    for i in 0..3 {
        a_pending.push(request(&sa, "q", json!(i), Some(Duration::from_secs(5))));
        a.expect(&format!(r#"42{i}["q",{i}]"#)).await;
    }
    let b0 = request(&sb, "q", json!(0), Some(Duration::from_secs(5)));
    b.expect(r#"423["q",0]"#).await;
    let b1 = request(&sb, "q", json!(1), Some(Duration::from_secs(5)));
    b.expect(r#"424["q",1]"#).await;
    let c0 = request(&sc, "q", json!("c"), Some(Duration::from_secs(5)));
    c.expect(r#"42/custom,0["q","c"]"#).await;
    sa.emit("q-noack", &1).unwrap();
    a.expect(r#"42["q-noack",1]"#).await;

    // Each answer resolves its own request, in any order.
    a.send(r#"431[{"ok":true}]"#).await;
    a.send("432[2]").await;
    a.send("430[0]").await;
    b.send("434[41]").await;
    b.send("433[40]").await;
    c.send(r#"43/custom,0["c"]"#).await;
    let mut a_replies = Vec::new();
    for pending in a_pending {
        a_replies.push(
            outcome(pending)
                .await
                .unwrap()
                .raw_arg(0)
                .map(str::to_owned),
        );
    }
    assert_eq!(
        a_replies,
        [
            Some("0".into()),
            Some(r#"{"ok":true}"#.into()),
            Some("2".into())
        ]
    );
    assert_eq!(outcome(b0).await.unwrap().arg::<u8>(0).unwrap(), 40);
    assert_eq!(outcome(b1).await.unwrap().arg::<u8>(0).unwrap(), 41);
    assert_eq!(outcome(c0).await.unwrap().arg::<String>(0).unwrap(), "c");
    // An answer from another socket with the same id does not resolve
    // this socket's request.
    let pending = request(&sa, "q", json!(5), Some(Duration::from_millis(300)));
    a.expect(r#"425["q",5]"#).await;
    b.send("435[\"not yours\"]").await;
    assert_eq!(outcome(pending).await.unwrap_err(), AckError::Timeout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_requests_fail_when_the_socket_disconnects() {
    let server = TestServer::start(quiet().build()).await;

    // The client leaves the namespace.
    let (mut client, id) = server.joined("/").await;
    let socket = server.socket("/", id);
    let forever = request(&socket, "q", json!(1), None);
    client.expect(r#"420["q",1]"#).await;
    let timed = request(&socket, "q", json!(2), Some(Duration::from_secs(30)));
    client.expect(r#"421["q",2]"#).await;
    client.send("41").await;
    let error = outcome(forever).await.unwrap_err();
    assert_eq!(error, AckError::Disconnected);
    assert_eq!(error.to_string(), "socket has been disconnected");
    assert_eq!(outcome(timed).await.unwrap_err(), AckError::Disconnected);

    // The client goes away altogether.
    let (mut client, id) = server.joined("/").await;
    let socket = server.socket("/", id);
    let forever = request(&socket, "q", json!(3), None);
    client.expect(r#"422["q",3]"#).await;
    client.close().await;
    assert_eq!(outcome(forever).await.unwrap_err(), AckError::Disconnected);

    // Emitting with an ack to a socket already gone fails at once.
    assert!(matches!(
        socket.emit_with_ack("q", ()).await,
        Err(AckError::Emit(EmitError::Disconnected) | AckError::Disconnected)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_ack_ids_are_ignored() {
    let server = TestServer::start(quiet().build()).await;
    let (mut client, id) = server.joined("/").await;
    // As in the reference: `43`, `43[]`, `437["x"]` are ignored.
    client.send("43").await;
    client.send("43[]").await;
    client.send(r#"437["x"]"#).await;
    client.send(r#"4318446744073709551615["x"]"#).await;
    client.sync().await;
    assert!(server.socket("/", id).connected());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acking_after_the_socket_left_fails() {
    let io = quiet().build();
    let (tx, mut rx) = channel();
    io.of("/").on("slow", move |socket, mut event| {
        let tx = tx.clone();
        async move {
            let ack = event.take_ack().expect("an ack");
            // Wait for the client to leave.
            support::within("the client to leave", async {
                while socket.connected() {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
            .await;
            let _ = tx.send(ack.send(&1));
        }
    });
    let server = TestServer::start(io).await;
    let (mut client, _) = server.joined("/").await;
    client.send(r#"421["slow"]"#).await;
    client.send("41").await;
    assert_eq!(rx.recv().await, Err(EmitError::Disconnected));
    client.sync().await;
}
