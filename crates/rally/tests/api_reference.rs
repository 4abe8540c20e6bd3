//! The rest of the reference server API: tuples as several arguments,
//! `socket.volatile/compress/timeout`, `leave` with any room set, the
//! server and namespace shortcuts (`timeout`, `fetch_sockets`),
//! `RemoteSocket::timeout`, `server_side_emit` with `Args`.

mod support;

use std::{collections::BTreeSet, time::Duration};

use rally::{AckError, DisconnectReason, EmitError, IntoRooms, Room, Sid};
use support::{TestServer, channel, quiet};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tuple_by_value_is_several_arguments_everywhere() {
    let io = quiet().build();
    io.of("/").on("pos", |socket, mut event| async move {
        let _ = event.ack((1, "two"));
        let _ = socket.emit("move", (1, 2));
        // One argument: a reference keeps a tuple whole (clippy would
        // drop the `&`, which spreads it).
        #[allow(clippy::needless_borrows_for_generic_args)]
        let _ = socket.emit("pair", &(1, 2));
        let _ = socket.emit("one", (7,));
        let _ = socket.emit("none", ());
        let _ = socket.emit("single", &5);
        let _ = socket
            .ns()
            .to(socket.id())
            .emit("broadcast", (3, "x", true));
    });
    let server = TestServer::start(io).await;
    let (mut client, _) = server.joined("/").await;
    client.send(r#"421["pos"]"#).await;
    client.expect(r#"431[1,"two"]"#).await;
    client.expect(r#"42["move",1,2]"#).await;
    client.expect(r#"42["pair",[1,2]]"#).await;
    client.expect(r#"42["one",7]"#).await;
    client.expect(r#"42["none"]"#).await;
    client.expect(r#"42["single",5]"#).await;
    client.expect(r#"42["broadcast",3,"x",true]"#).await;
    client.sync().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emit_with_ack_takes_tuples_too() {
    let server = TestServer::start(quiet().build()).await;
    let (mut client, id) = server.joined("/").await;
    let socket = server.socket("/", id);
    let task = tokio::spawn(async move { socket.emit_with_ack("sum", (2, 3)).await });
    client.expect(r#"420["sum",2,3]"#).await;
    client.send("430[5]").await;
    let reply = support::within("the ack", task).await.unwrap().unwrap();
    assert_eq!(reply.arg::<u32>(0).unwrap(), 5);

    let op = server.io.to(id);
    let task = tokio::spawn(async move {
        op.timeout(Duration::from_secs(5))
            .emit_with_ack("sum", (4, 5))
            .await
    });
    client.expect(r#"421["sum",4,5]"#).await;
    client.send("431[9]").await;
    let answers = support::within("the answers", task).await.unwrap().unwrap();
    assert!(answers.all_answered());
}

/// A client that does not poll: volatile emits past the queue bound are
/// dropped, and the socket stays; plain ones past it disconnect it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_volatile_drops_instead_of_disconnecting() {
    let io = quiet().max_buffered_frames(4).build();
    let (tx, mut left) = channel();
    io.of("/").on_disconnect(move |socket, reason| {
        let tx = tx.clone();
        async move {
            let _ = tx.send((socket.id(), reason));
        }
    });
    let server = TestServer::start(io).await;
    let polling = server.http().open_polling("/socket.io/").await;
    polling.post_ok(b"40").await;
    let connect = polling.records(1).await;
    let id = Sid::parse(&support::field(&connect[0], "sid")).unwrap();
    let socket = server.socket("/", id);
    for i in 0..10 {
        socket.volatile().emit("v", (i, "x")).unwrap();
    }
    // The flags chain; compress changes nothing.
    socket.compress(false).volatile().emit("w", &0).unwrap();
    assert!(socket.connected(), "volatile packets must not disconnect");
    let reply = polling.get().await;
    let records = reply.records();
    assert!(
        !records.is_empty() && records.len() <= 4,
        "between 1 and 4 of the volatile packets: {records:?}"
    );
    assert_eq!(records[0], r#"42["v",0,"x"]"#);
    left.assert_empty();
    for i in 0..5 {
        let _ = socket.emit("n", &i);
    }
    assert_eq!(left.recv().await, (id, DisconnectReason::TransportError));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_timeout_and_compress_keep_their_flags() {
    let server = TestServer::start(quiet().build()).await;
    let (mut client, id) = server.joined("/").await;
    let socket = server.socket("/", id);
    let op = socket.compress(false);
    assert!(!op.is_compressed());
    assert!(socket.volatile().is_compressed());
    op.emit("c", &1).unwrap();
    client.expect(r#"42["c",1]"#).await;
    let task = tokio::spawn(async move {
        socket
            .volatile()
            .timeout(Duration::from_millis(100))
            .emit_with_ack("q", ())
            .await
    });
    client.expect(r#"420["q"]"#).await;
    let outcome = support::within("the timeout", task).await.unwrap();
    assert!(matches!(outcome, Err(AckError::Timeout)), "{outcome:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leave_takes_any_room_set() {
    let server = TestServer::start(quiet().build()).await;
    let (_client, id) = server.joined("/").await;
    let socket = server.socket("/", id);
    let rooms = |socket: &rally::Socket| -> BTreeSet<String> {
        socket
            .rooms()
            .iter()
            .filter(|r| ***r != *id.as_str())
            .map(|r| r.to_string())
            .collect()
    };
    let d = String::from("d");
    let e: Room = Room::from("e");
    socket.join(["a", "b", "c"]);
    socket.join(&d);
    socket.join(e.clone());
    socket.join(vec![String::from("f"), String::from("g")]);
    socket.join((1..=2).map(|n| format!("t{n}")));
    assert_eq!(
        rooms(&socket),
        ["a", "b", "c", "d", "e", "f", "g", "t1", "t2"]
            .map(String::from)
            .into()
    );
    socket.leave(["a", "b"]);
    socket.leave(&d);
    socket.leave(&e);
    socket.leave(vec!["f"]);
    socket.leave(["t1", "t2"].iter());
    assert_eq!(rooms(&socket), ["c", "g"].map(String::from).into());
    socket.leave(String::from("g"));
    socket.leave("c");
    assert!(rooms(&socket).is_empty());
}

#[test]
fn into_rooms_covers_the_room_sets() {
    fn names(rooms: impl IntoRooms) -> Vec<String> {
        rooms.into_rooms().iter().map(|r| r.to_string()).collect()
    }
    let owned = String::from("s");
    let room = Room::from("r");
    let list = vec![String::from("v1"), String::from("v2")];
    assert_eq!(names("a"), ["a"]);
    assert_eq!(names(&owned), ["s"]);
    assert_eq!(names(owned.clone()), ["s"]);
    assert_eq!(names(room.clone()), ["r"]);
    assert_eq!(names(&room), ["r"]);
    assert_eq!(names(["x", "y"]), ["x", "y"]);
    assert_eq!(names([&owned]), ["s"]);
    assert_eq!(names(&list[..]), ["v1", "v2"]);
    assert_eq!(names(list.iter()), ["v1", "v2"]);
    assert_eq!(names(list.clone()), ["v1", "v2"]);
    assert_eq!(names(list.into_iter().filter(|r| r.ends_with('2'))), ["v2"]);
    assert_eq!(names(vec![room]), ["r"]);
    assert_eq!(
        names(BTreeSet::from([String::from("b"), String::from("a")])),
        ["a", "b"]
    );
    assert_eq!(names(["p"].into_iter().chain(["q"])), ["p", "q"]);
}

/// `io.timeout(d).emit_with_ack(..)` gathers the answers of every socket
/// and notes the one that did not answer in time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_timeout_gathers_answers_and_times_out_the_silent() {
    let server = TestServer::start(quiet().build()).await;
    let (mut a, a_id) = server.joined("/").await;
    let (mut b, b_id) = server.joined("/").await;
    let (mut silent, silent_id) = server.joined("/").await;
    let io = server.io.clone();
    let task = tokio::spawn(async move {
        io.timeout(Duration::from_millis(500))
            .emit_with_ack("survey", ("q", 1))
            .await
    });
    for (client, answer) in [(&mut a, "\"yes\""), (&mut b, "\"no\"")] {
        let packet = client.text().await;
        let id = packet
            .strip_prefix("42")
            .and_then(|p| p.strip_suffix(r#"["survey","q",1]"#))
            .unwrap_or_else(|| panic!("unexpected {packet:?}"));
        client.send(&format!("43{id}[{answer}]")).await;
    }
    assert!(silent.text().await.ends_with(r#"["survey","q",1]"#));
    let answers = support::within("the answers", task).await.unwrap().unwrap();
    assert!(!answers.all_answered());
    let mut got: Vec<(Sid, Option<String>)> = answers
        .replies
        .iter()
        .map(|(id, r)| (*id, r.as_ref().ok().map(|r| r.arg::<String>(0).unwrap())))
        .collect();
    got.sort();
    let mut expected = vec![
        (a_id, Some("yes".to_owned())),
        (b_id, Some("no".to_owned())),
        (silent_id, None),
    ];
    expected.sort();
    assert_eq!(got, expected);
    let silent_reply = answers.replies.iter().find(|(id, _)| *id == silent_id);
    assert!(matches!(silent_reply, Some((_, Err(AckError::Timeout)))));
    assert_eq!(answers.answers().count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_timeout_targets_that_namespace() {
    let io = quiet().build();
    let _ = io.of("/chat");
    let server = TestServer::start(io).await;
    let (mut root, _) = server.joined("/").await;
    let mut chat = server.client().await;
    chat.connect("/chat").await;
    chat.sync().await;
    let ns = server.io.of("/chat");
    let task = tokio::spawn(async move {
        ns.timeout(Duration::from_secs(5))
            .emit_with_ack("hi", ())
            .await
    });
    chat.expect(r#"42/chat,0["hi"]"#).await;
    chat.send(r#"43/chat,0[1]"#).await;
    let answers = support::within("the answers", task).await.unwrap().unwrap();
    assert!(answers.all_answered());
    assert_eq!(answers.answers().count(), 1);
    root.sync().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_sockets_shortcuts_and_remote_timeout() {
    let io = quiet().build();
    let _ = io.of("/chat");
    let server = TestServer::start(io).await;
    let (mut a, a_id) = server.joined("/").await;
    let (_b, b_id) = server.joined("/").await;
    let mut chat = server.client().await;
    let chat_id = chat.connect("/chat").await;
    chat.sync().await;

    let mut ids: Vec<Sid> = server
        .io
        .fetch_sockets()
        .await
        .unwrap()
        .iter()
        .map(rally::RemoteSocket::id)
        .collect();
    ids.sort();
    let mut expected = vec![a_id, b_id];
    expected.sort();
    assert_eq!(ids, expected);
    let chat_sockets = server.io.of("/chat").fetch_sockets().await.unwrap();
    assert_eq!(chat_sockets.len(), 1);
    assert_eq!(chat_sockets[0].id(), chat_id);

    let remote = server
        .io
        .fetch_sockets()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.id() == a_id)
        .unwrap();
    let task = tokio::spawn(async move {
        remote
            .timeout(Duration::from_secs(5))
            .emit_with_ack("ping", (1, 2))
            .await
    });
    a.expect(r#"420["ping",1,2]"#).await;
    a.send(r#"430["pong"]"#).await;
    let answers = support::within("the answer", task).await.unwrap().unwrap();
    assert_eq!(answers.replies.len(), 1);
    assert_eq!(answers.replies[0].0, a_id);
    assert_eq!(
        answers.answers().next().unwrap().arg::<String>(0).unwrap(),
        "pong"
    );
}

/// Without a cluster adapter a server-side emit goes nowhere, but its
/// name and arguments are still checked as an emit's.
#[test]
fn server_side_emit_takes_args() {
    let io = quiet().build();
    let root = io.of("/");
    root.server_side_emit("reload", ("all", 1)).unwrap();
    root.server_side_emit("reload", &serde_json::json!({"all": true}))
        .unwrap();
    root.server_side_emit("reload", ()).unwrap();
    assert!(matches!(
        root.server_side_emit("connect", ()),
        Err(EmitError::Reserved(_))
    ));
    assert!(matches!(
        root.server_side_emit("bin", rally::Args::new().binary(vec![1])),
        Err(EmitError::Serialize(_))
    ));
}
