//! Broadcasting: to / within / except / broadcast / local / volatile, the
//! namespace and server shortcuts, broadcasts with acks.

mod support;

use std::time::Duration;

use rally::{AckError, Sid};
use support::{Client, TestServer, channel, quiet};

/// Three clients in `/`: A in rooms `a` and `ab`, B in `b` and `ab`, C in none.
async fn three(server: &TestServer) -> [(Client, Sid); 3] {
    let a = server.joined("/").await;
    let b = server.joined("/").await;
    let c = server.joined("/").await;
    server.socket("/", a.1).join(["a", "ab"]);
    server.socket("/", b.1).join(["b", "ab"]);
    [a, b, c]
}

/// Checks which of the three got `text`, and that nothing else came.
async fn delivered(clients: &mut [(Client, Sid); 3], text: &str, expected: [bool; 3]) {
    for (i, (client, _)) in clients.iter_mut().enumerate() {
        let frames = client.until_sync().await;
        let want: Vec<support::Frame> = if expected[i] {
            vec![support::Frame::Text(text.to_owned())]
        } else {
            Vec::new()
        };
        assert_eq!(frames, want, "client {i} for {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_and_namespace_operators_select_their_targets() {
    let server = TestServer::start(quiet().build()).await;
    let mut clients = three(&server).await;
    let io = &server.io;
    let root = io.of("/");

    io.emit("all", &1).unwrap();
    delivered(&mut clients, r#"42["all",1]"#, [true, true, true]).await;
    root.emit("all", &2).unwrap();
    delivered(&mut clients, r#"42["all",2]"#, [true, true, true]).await;
    io.to("a").emit("to-a", ()).unwrap();
    delivered(&mut clients, r#"42["to-a"]"#, [true, false, false]).await;
    root.broadcast().within("b").emit("in-b", ()).unwrap();
    delivered(&mut clients, r#"42["in-b"]"#, [false, true, false]).await;
    // Several rooms: a socket in more than one gets the packet once.
    io.to("a").to("ab").to("b").emit("multi", ()).unwrap();
    delivered(&mut clients, r#"42["multi"]"#, [true, true, false]).await;
    io.to(vec!["a", "ab"]).emit("multi2", ()).unwrap();
    delivered(&mut clients, r#"42["multi2"]"#, [true, true, false]).await;
    io.except("ab").emit("not-ab", ()).unwrap();
    delivered(&mut clients, r#"42["not-ab"]"#, [false, false, true]).await;
    io.to("ab").except("b").emit("ab-not-b", ()).unwrap();
    delivered(&mut clients, r#"42["ab-not-b"]"#, [true, false, false]).await;
    io.except("a").except("b").emit("neither", ()).unwrap();
    delivered(&mut clients, r#"42["neither"]"#, [false, false, true]).await;
    io.to("nobody").emit("none", ()).unwrap();
    delivered(&mut clients, r#"42["none"]"#, [false, false, false]).await;
    io.broadcast().local().emit("local", ()).unwrap();
    delivered(&mut clients, r#"42["local"]"#, [true, true, true]).await;
    io.broadcast().volatile().emit("volatile", ()).unwrap();
    delivered(&mut clients, r#"42["volatile"]"#, [true, true, true]).await;
    io.to("a").compress(false).emit("compress", ()).unwrap();
    delivered(&mut clients, r#"42["compress"]"#, [true, false, false]).await;
    let c_id = clients[2].1;
    io.to(c_id).emit("to-id", ()).unwrap();
    delivered(&mut clients, r#"42["to-id"]"#, [false, false, true]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_operators_exclude_the_sender() {
    let server = TestServer::start(quiet().build()).await;
    let mut clients = three(&server).await;
    let a = server.socket("/", clients[0].1);

    a.broadcast().emit("bc", ()).unwrap();
    delivered(&mut clients, r#"42["bc"]"#, [false, true, true]).await;
    a.to("ab").emit("to-ab", ()).unwrap();
    delivered(&mut clients, r#"42["to-ab"]"#, [false, true, false]).await;
    a.within("a").emit("in-a", ()).unwrap();
    delivered(&mut clients, r#"42["in-a"]"#, [false, false, false]).await;
    a.except("b").emit("not-b", ()).unwrap();
    delivered(&mut clients, r#"42["not-b"]"#, [false, false, true]).await;
    a.to(a.id()).emit("self", ()).unwrap();
    delivered(&mut clients, r#"42["self"]"#, [false, false, false]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_stay_in_their_namespace() {
    let server = TestServer::start(quiet().build()).await;
    let custom = server.io.of("/custom");
    let mut client = server.client().await;
    client.connect("/").await;
    client.connect("/custom").await;
    let (mut only_custom, _) = server.joined("/custom").await;

    server.io.emit("root", ()).unwrap();
    client.expect(r#"42["root"]"#).await;
    custom.emit("custom", &1).unwrap();
    client.expect(r#"42/custom,["custom",1]"#).await;
    only_custom.expect(r#"42/custom,["custom",1]"#).await;
    client.sync().await;
    only_custom.sync().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_with_acks_gathers_every_answer() {
    let server = TestServer::start(quiet().build()).await;
    let (mut a, a_id) = server.joined("/").await;
    let (mut b, b_id) = server.joined("/").await;
    let (mut c, _) = server.joined("/").await;
    server.socket("/", a_id).join("r");
    server.socket("/", b_id).join("r");

    let io = server.io.clone();
    let pending = tokio::spawn(async move {
        io.to("r")
            .timeout(Duration::from_secs(5))
            .emit_with_ack("q", &1)
            .await
    });
    // One id for every recipient, from the namespace's counter.
    a.expect(r#"420["q",1]"#).await;
    b.expect(r#"420["q",1]"#).await;
    b.send(r#"430["from b"]"#).await;
    a.send(r#"430["from a"]"#).await;
    let responses = support::within("the answers", pending)
        .await
        .unwrap()
        .expect("a broadcast with acks");
    assert!(responses.all_answered());
    let mut replies: Vec<(Sid, String)> = responses
        .replies
        .iter()
        .map(|(id, r)| (*id, r.as_ref().unwrap().arg::<String>(0).unwrap()))
        .collect();
    replies.sort();
    let mut expected = vec![(a_id, "from a".to_owned()), (b_id, "from b".to_owned())];
    expected.sort();
    assert_eq!(replies, expected);
    assert_eq!(responses.answers().count(), 2);
    c.sync().await;

    // The counter is shared with single-socket requests.
    let sa = server.socket("/", a_id);
    let single = tokio::spawn(async move {
        sa.timeout(Duration::from_secs(5))
            .emit_with_ack("one", ())
            .await
    });
    a.expect(r#"421["one"]"#).await;
    a.send("431[]").await;
    support::within("the answer", single)
        .await
        .unwrap()
        .unwrap();

    // No target: no answers, at once.
    let none = server
        .io
        .to("nobody")
        .timeout(Duration::from_secs(5))
        .emit_with_ack("q", ())
        .await
        .unwrap();
    assert!(none.replies.is_empty());
    assert!(none.all_answered());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_with_acks_times_out_for_a_silent_client() {
    let server = TestServer::start(quiet().build()).await;
    let (mut talker, talker_id) = server.joined("/").await;
    let (mut silent, silent_id) = server.joined("/").await;
    let io = server.io.clone();
    let pending = tokio::spawn(async move {
        io.broadcast()
            .timeout(Duration::from_millis(300))
            .emit_with_ack("q", ())
            .await
    });
    talker.expect(r#"420["q"]"#).await;
    silent.expect(r#"420["q"]"#).await;
    talker.send("430[true]").await;
    let responses = support::within("the answers", pending)
        .await
        .unwrap()
        .unwrap();
    assert!(!responses.all_answered());
    assert_eq!(responses.replies.len(), 2);
    for (id, reply) in &responses.replies {
        if *id == talker_id {
            assert!(reply.as_ref().unwrap().arg::<bool>(0).unwrap());
        } else {
            assert_eq!(*id, silent_id);
            assert_eq!(reply.as_ref().unwrap_err(), &AckError::Timeout);
        }
    }
    // A late answer is ignored.
    silent.send("430[false]").await;
    silent.sync().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_with_acks_reports_a_client_that_leaves() {
    let server = TestServer::start(quiet().build()).await;
    let (mut leaver, leaver_id) = server.joined("/").await;
    let io = server.io.clone();
    let pending = tokio::spawn(async move {
        io.broadcast()
            .timeout(Duration::from_secs(5))
            .emit_with_ack("q", ())
            .await
    });
    leaver.expect(r#"420["q"]"#).await;
    leaver.send("41").await;
    let responses = support::within("the answers", pending)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(responses.replies.len(), 1);
    assert_eq!(responses.replies[0].0, leaver_id);
    assert_eq!(
        responses.replies[0].1.as_ref().unwrap_err(),
        &AckError::Disconnected
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_relay_reaches_everyone_but_the_sender() {
    let io = quiet().build();
    let (tx, mut rx) = channel();
    io.of("/").on("chat", move |socket, event| {
        let tx = tx.clone();
        async move {
            let text: String = event.arg(0).unwrap();
            let _ = socket.broadcast().emit("chat", &text);
            let _ = tx.send(text);
        }
    });
    let server = TestServer::start(io).await;
    let mut clients = three(&server).await;
    clients[1].0.send(r#"42["chat","hi"]"#).await;
    assert_eq!(rx.recv().await, "hi");
    delivered(&mut clients, r#"42["chat","hi"]"#, [true, false, true]).await;
}
