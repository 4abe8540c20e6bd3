//! Rooms: join and leave, the operations on targeted sockets
//! (fetch_sockets, sockets_join, sockets_leave, disconnect_sockets) and
//! the adapter's room events.

mod support;

use std::sync::{Arc, Mutex};

use rally::{Room, adapter::RoomEvent};
use serde_json::json;
use support::{Frame, TestServer, channel, quiet};

fn sorted(rooms: &[Room]) -> Vec<String> {
    let mut rooms: Vec<String> = rooms.iter().map(|r| r.to_string()).collect();
    rooms.sort();
    rooms
}

fn with_id(id: impl ToString, rooms: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = rooms.iter().map(|r| (*r).to_owned()).collect();
    all.push(id.to_string());
    all.sort();
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_and_leave_decide_who_gets_room_emits() {
    let io = quiet().build();
    io.of("/").on("join", |socket, mut event| async move {
        let room: String = event.arg(0).unwrap_or_default();
        socket.join(room.as_str());
        let _ = event.ack(&room);
    });
    io.of("/").on("leave", |socket, mut event| async move {
        let room: String = event.arg(0).unwrap_or_default();
        socket.leave(&room);
        let _ = event.ack(&room);
    });
    let server = TestServer::start(io).await;
    let (mut a, a_id) = server.joined("/").await;
    let (mut b, b_id) = server.joined("/").await;
    a.send(r#"420["join","r"]"#).await;
    a.expect(r#"430["r"]"#).await;
    let sa = server.socket("/", a_id);
    assert_eq!(sorted(&sa.rooms()), with_id(a_id, &["r"]));

    server.io.to("r").emit("in-r", &1).unwrap();
    a.expect(r#"42["in-r",1]"#).await;
    b.sync().await;

    // Server-side joins: one room, several, then leaving one.
    let sb = server.socket("/", b_id);
    sb.join(["r", "s"]);
    sb.join(String::from("t"));
    assert_eq!(sorted(&sb.rooms()), with_id(b_id, &["r", "s", "t"]));
    server.io.to("r").emit("in-r", &2).unwrap();
    a.expect(r#"42["in-r",2]"#).await;
    b.expect(r#"42["in-r",2]"#).await;

    a.send(r#"421["leave","r"]"#).await;
    a.expect(r#"431["r"]"#).await;
    assert_eq!(sorted(&sa.rooms()), with_id(a_id, &[]));
    server.io.to("r").emit("in-r", &3).unwrap();
    b.expect(r#"42["in-r",3]"#).await;
    a.sync().await;
    // Leaving a room one is not in, or twice, is harmless.
    sa.leave("r");
    sa.leave("never");
    // Every socket is in its own room: emitting to an id reaches it.
    server.io.to(a_id).emit("direct", ()).unwrap();
    a.expect(r#"42["direct"]"#).await;
    b.sync().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_are_per_namespace() {
    let server = TestServer::start(quiet().build()).await;
    let _ = server.io.of("/custom");
    let mut client = server.client().await;
    let root = client.connect("/").await;
    let custom = client.connect("/custom").await;
    server.socket("/", root).join("r");
    server.io.of("/custom").to("r").emit("x", ()).unwrap();
    client.sync().await;
    server.socket("/custom", custom).join("r");
    server.io.of("/custom").to("r").emit("x", ()).unwrap();
    client.expect(r#"42/custom,["x"]"#).await;
    client.sync().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_sockets_describes_the_targets() {
    let io = quiet().build();
    io.of("/").on_connection(|socket| async move {
        let n: u32 = socket.auth::<serde_json::Value>().unwrap()["n"]
            .as_u64()
            .unwrap_or_default() as u32;
        socket.set_data(&json!({"n": n})).unwrap();
        if n % 2 == 0 {
            socket.join("even");
        }
    });
    let server = TestServer::start(io).await;
    let mut clients = Vec::new();
    let mut ids = Vec::new();
    for n in 0..3 {
        let mut client = server.client_with("who=me", &[]).await;
        ids.push(client.connect_auth("/", &format!(r#"{{"n":{n}}}"#)).await);
        // The connection handler (no waiting in it) has run before this.
        client.sync().await;
        clients.push(client);
    }
    let mut all = server.io.broadcast().fetch_sockets().await.unwrap();
    all.sort_by_key(|s| s.data::<serde_json::Value>().unwrap()["n"].as_u64());
    assert_eq!(all.len(), 3);
    for (n, socket) in all.iter().enumerate() {
        assert_eq!(socket.id(), ids[n]);
        assert_eq!(socket.data::<serde_json::Value>(), Some(json!({"n": n})));
        let expected: &[&str] = if n % 2 == 0 { &["even"] } else { &[] };
        assert_eq!(sorted(socket.rooms()), with_id(ids[n], expected));
        let handshake = socket.handshake();
        assert_eq!(handshake["auth"], json!({"n": n}));
        assert_eq!(handshake["query"]["who"], "me");
        assert_eq!(handshake["address"], "127.0.0.1");
        assert!(
            handshake["url"]
                .as_str()
                .is_some_and(|u| u.starts_with("/socket.io/?EIO=4&transport=websocket")),
            "{handshake}"
        );
    }
    let mut even: Vec<_> = server
        .io
        .to("even")
        .fetch_sockets()
        .await
        .unwrap()
        .iter()
        .map(|s| s.id())
        .collect();
    even.sort();
    let mut expected = vec![ids[0], ids[2]];
    expected.sort();
    assert_eq!(even, expected);
    let except: Vec<_> = server
        .io
        .except("even")
        .fetch_sockets()
        .await
        .unwrap()
        .iter()
        .map(|s| s.id())
        .collect();
    assert_eq!(except, [ids[1]]);
    assert!(
        server
            .io
            .to("nobody")
            .fetch_sockets()
            .await
            .unwrap()
            .is_empty()
    );

    // The handles act on the sockets.
    let one = server.io.to(ids[1]).fetch_sockets().await.unwrap();
    assert_eq!(one.len(), 1);
    one[0].emit("hello", "you").unwrap();
    clients[1].expect(r#"42["hello","you"]"#).await;
    one[0].join("late");
    assert_eq!(
        sorted(&server.socket("/", ids[1]).rooms()),
        with_id(ids[1], &["late"])
    );
    one[0].leave("late");
    assert_eq!(
        sorted(&server.socket("/", ids[1]).rooms()),
        with_id(ids[1], &[])
    );
    one[0].disconnect(false);
    clients[1].expect("41").await;
    for client in &mut clients {
        client.sync().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_join_and_sockets_leave() {
    let server = TestServer::start(quiet().build()).await;
    let (mut a, a_id) = server.joined("/").await;
    let (mut b, b_id) = server.joined("/").await;
    let (mut c, c_id) = server.joined("/").await;
    server.socket("/", a_id).join("a");
    server.socket("/", b_id).join("b");

    server.io.to(["a", "b"]).sockets_join(["x", "y"]);
    assert_eq!(
        sorted(&server.socket("/", a_id).rooms()),
        with_id(a_id, &["a", "x", "y"])
    );
    assert_eq!(
        sorted(&server.socket("/", b_id).rooms()),
        with_id(b_id, &["b", "x", "y"])
    );
    assert_eq!(
        sorted(&server.socket("/", c_id).rooms()),
        with_id(c_id, &[])
    );

    server.io.except("a").sockets_join("z");
    assert_eq!(
        sorted(&server.socket("/", c_id).rooms()),
        with_id(c_id, &["z"])
    );

    server.io.to("x").sockets_leave("y");
    server.io.broadcast().sockets_leave(vec!["x", "z"]);
    assert_eq!(
        sorted(&server.socket("/", a_id).rooms()),
        with_id(a_id, &["a"])
    );
    assert_eq!(
        sorted(&server.socket("/", b_id).rooms()),
        with_id(b_id, &["b"])
    );
    assert_eq!(
        sorted(&server.socket("/", c_id).rooms()),
        with_id(c_id, &[])
    );
    for client in [&mut a, &mut b, &mut c] {
        client.sync().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_sockets_without_and_with_close() {
    let io = quiet().build();
    let (tx, mut rx) = channel();
    io.of("/").on_disconnect(move |socket, reason| {
        let tx = tx.clone();
        async move {
            let _ = tx.send((socket.id(), reason));
        }
    });
    let _ = io.of("/custom");
    let server = TestServer::start(io).await;
    let (mut a, a_id) = server.joined("/").await;
    let (mut b, b_id) = server.joined("/").await;
    server.socket("/", a_id).join("r");

    // Without close: `41`, the connection stays (as in the reference).
    server.io.to("r").disconnect_sockets(false);
    a.expect("41").await;
    assert_eq!(
        rx.recv().await,
        (a_id, rally::DisconnectReason::ServerNamespaceDisconnect)
    );
    b.sync().await;
    a.sync().await;
    let a_again = a.connect("/").await;
    assert_ne!(a_again, a_id);

    // With close: `41` for every namespace, then an empty close frame.
    b.connect("/custom").await;
    server.io.to(b_id).disconnect_sockets(true);
    let mut got = Vec::new();
    loop {
        match b.recv().await {
            Frame::Text(t) => got.push(t),
            Frame::Close(code, _) => {
                assert_eq!(code, 1005);
                break;
            }
            other => panic!("unexpected {other:?} after {got:?}"),
        }
    }
    got.sort();
    assert_eq!(got, ["41", "41/custom,"]);
    assert_eq!(
        rx.recv().await,
        (b_id, rally::DisconnectReason::ServerNamespaceDisconnect)
    );
    a.sync().await;
    assert_eq!(server.io.connection_count(), 1);

    // io-wide.
    server.io.broadcast().disconnect_sockets(false);
    a.expect("41").await;
    assert_eq!(
        server.io.connection_count(),
        1,
        "the engine connection stays open"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_events_follow_joins_and_leaves() {
    let io = quiet().build();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    io.of("/").on_room_event(move |event| {
        sink.lock().unwrap().push(event.clone());
    });
    let take = || std::mem::take(&mut *events.lock().unwrap());
    let server = TestServer::start(io).await;

    let (_a, a_id) = server.joined("/").await;
    let a_room = Room::from(a_id.as_str());
    assert_eq!(
        take(),
        [
            RoomEvent::CreateRoom(a_room.clone()),
            RoomEvent::JoinRoom(a_room.clone(), a_id)
        ]
    );
    let (mut b, b_id) = server.joined("/").await;
    let b_room = Room::from(b_id.as_str());
    let _ = take();

    let r = Room::from("r");
    let (sa, sb) = (server.socket("/", a_id), server.socket("/", b_id));
    sa.join("r");
    assert_eq!(
        take(),
        [
            RoomEvent::CreateRoom(r.clone()),
            RoomEvent::JoinRoom(r.clone(), a_id)
        ]
    );
    sa.join("r");
    assert_eq!(take(), [], "joining twice changes nothing");
    sb.join("r");
    assert_eq!(take(), [RoomEvent::JoinRoom(r.clone(), b_id)]);
    sa.leave("r");
    assert_eq!(take(), [RoomEvent::LeaveRoom(r.clone(), a_id)]);
    sa.leave("r");
    assert_eq!(take(), []);

    // Leaving the namespace leaves every room; each emptied room is deleted
    // right after its leave-room.
    b.send("41").await;
    b.sync().await;
    let got = take();
    assert_eq!(got.len(), 4, "{got:?}");
    for room in [&r, &b_room] {
        let leave = got
            .iter()
            .position(|e| *e == RoomEvent::LeaveRoom(room.clone(), b_id))
            .unwrap_or_else(|| panic!("no leave-room {room} in {got:?}"));
        assert_eq!(
            got.get(leave + 1),
            Some(&RoomEvent::DeleteRoom(room.clone())),
            "{got:?}"
        );
    }
}
