//! Events both ways: typed arguments, catch-alls, event middlewares,
//! reserved names, ordering, and the packets the reference's parser accepts.

mod support;

use std::{collections::HashMap, time::Duration};

use rally::{AckError, Args, ConnectError, EmitError};
use serde::Deserialize;
use serde_json::json;
use support::{TestServer, channel, quiet};

const RESERVED: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

#[derive(Debug, Deserialize, PartialEq)]
struct Chat {
    room: String,
    text: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_get_typed_arguments() {
    let io = quiet().build();
    let (tx, mut rx) = channel();
    io.of("/").on("pair", move |_socket, event| {
        let tx = tx.clone();
        async move {
            let _ = tx.send((
                event.name().to_owned(),
                event.len(),
                event.arg::<String>(0).ok(),
                event.arg::<u32>(1).ok(),
                event.args::<(String, u32)>().ok(),
                event.arg::<Option<u32>>(7).ok(),
                event.arg::<u32>(7).is_err(),
                event.raw_arg(1).map(str::to_owned),
                event.wants_ack(),
            ));
        }
    });
    let (chat_tx, mut chat_rx) = channel();
    io.of("/").on("chat", move |_socket, event| {
        let tx = chat_tx.clone();
        async move {
            let _ = tx.send((event.arg::<Chat>(0).ok(), event.arg::<u32>(0).is_err()));
        }
    });
    let server = TestServer::start(io).await;
    let (mut client, _) = server.joined("/").await;
    client.send(r#"42["pair","a",2]"#).await;
    assert_eq!(
        rx.recv().await,
        (
            "pair".to_owned(),
            2,
            Some("a".to_owned()),
            Some(2),
            Some(("a".to_owned(), 2)),
            Some(None),
            true,
            Some("2".to_owned()),
            false
        )
    );
    client.send(r#"42["chat",{"room":"r1","text":"hi"}]"#).await;
    assert_eq!(
        chat_rx.recv().await,
        (
            Some(Chat {
                room: "r1".into(),
                text: "hi".into()
            }),
            true
        )
    );
    // The reference's parser reads `42/,[…]` as namespace `/`.
    client.send(r#"42/,["pair","b",3]"#).await;
    assert_eq!(rx.recv().await.2, Some("b".to_owned()));
    client.sync().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_relay_arguments_unchanged() {
    let io = quiet().build();
    for nsp in ["/", "/custom"] {
        io.of(nsp).on("message", |socket, event| async move {
            let _ = socket.emit("message-back", event.to_args());
        });
    }
    let server = TestServer::start(io).await;
    let (mut client, _) = server.joined("/").await;
    client.send(r#"42["message",1,"x",{"a":[1,2]},null]"#).await;
    client
        .expect(r#"42["message-back",1,"x",{"a":[1,2]},null]"#)
        .await;
    client.send(r#"42["message"]"#).await;
    client.expect(r#"42["message-back"]"#).await;
    client.connect("/custom").await;
    client.send(r#"42/custom,["message",9]"#).await;
    client.expect(r#"42/custom,["message-back",9]"#).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_emits_encode_like_the_reference() {
    let server = TestServer::start(quiet().build()).await;
    let (mut client, id) = server.joined("/").await;
    let socket = server.socket("/", id);
    socket.emit("q-noack", &1).unwrap();
    client.expect(r#"42["q-noack",1]"#).await;
    socket.emit("e", ()).unwrap();
    client.expect(r#"42["e"]"#).await;
    socket
        .emit(
            "d",
            Args::new()
                .arg(&"s")
                .arg(&1.5)
                .arg(&json!(null))
                .arg(&json!({"u": [1]})),
        )
        .unwrap();
    client.expect(r#"42["d","s",1.5,null,{"u":[1]}]"#).await;
    // As in the reference: a placeholder-shaped object without binary is plain JSON.
    socket
        .emit("z", &json!({"_placeholder": true, "num": 0}))
        .unwrap();
    client
        .expect(r#"42["z",{"_placeholder":true,"num":0}]"#)
        .await;
    socket.emit("a\"b\n", "é/").unwrap();
    client.expect("42[\"a\\\"b\\n\",\"é/\"]").await;

    let _ = server.io.of("/custom");
    let (mut custom_client, custom_id) = server.joined("/custom").await;
    server.socket("/custom", custom_id).emit("c", "x").unwrap();
    custom_client.expect(r#"42/custom,["c","x"]"#).await;
    client.sync().await;
}

/// The reference calls `onAny` listeners for every incoming event, before
/// (and in addition to) the event's own handler (`Socket.onevent`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_any_sees_every_event_before_its_handler() {
    let io = quiet().build();
    let (tx, mut rx) = channel();
    let known_tx = tx.clone();
    io.of("/").on("known", move |_socket, mut event| {
        let tx = known_tx.clone();
        async move {
            let _ = tx.send((
                "handler",
                event.name().to_owned(),
                event.len(),
                event.wants_ack(),
            ));
            let _ = event.ack("from the handler");
        }
    });
    io.of("/").on_any(move |_socket, mut event| {
        let tx = tx.clone();
        async move {
            let _ = tx.send((
                "any",
                event.name().to_owned(),
                event.len(),
                event.wants_ack(),
            ));
            let _ = event.ack("from on_any");
        }
    });
    let server = TestServer::start(io).await;
    let (mut client, _) = server.joined("/").await;
    client.send(r#"42["known",1]"#).await;
    assert_eq!(
        rx.take(2).await,
        [
            ("any", "known".into(), 1, false),
            ("handler", "known".into(), 1, false)
        ]
    );
    // With its own handler, the event's ack belongs to the handler.
    client.send(r#"423["known",1]"#).await;
    assert_eq!(
        rx.take(2).await,
        [
            ("any", "known".into(), 1, false),
            ("handler", "known".into(), 1, true)
        ]
    );
    client.expect(r#"433["from the handler"]"#).await;
    // Without one, on_any gets it whole.
    client.send(r#"424["other",1,2]"#).await;
    assert_eq!(rx.recv().await, ("any", "other".into(), 2, true));
    client.expect(r#"434["from on_any"]"#).await;
    // As in the reference: a number is a name; `42` alone is an event without a name.
    client.send(r#"42[1,"x"]"#).await;
    assert_eq!(rx.recv().await, ("any", "1".into(), 1, false));
    client.send("42").await;
    assert_eq!(rx.recv().await, ("any", String::new(), 0, false));
    // `42 ["a"]`: the space passes the reference's digit test (ack id 0).
    client.send(r#"42 ["a"]"#).await;
    assert_eq!(rx.recv().await, ("any", "a".into(), 0, true));
    client.expect(r#"430["from on_any"]"#).await;
    client.sync().await;
    rx.assert_empty();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_any_outgoing_sees_socket_emits() {
    let io = quiet().build();
    let (tx, mut rx) = channel();
    io.of("/").on_any_outgoing(move |socket, event, args| {
        let _ = tx.send((socket.id(), event.to_owned(), args.len()));
    });
    let server = TestServer::start(io).await;
    let (mut client, id) = server.joined("/").await;
    let socket = server.socket("/", id);
    socket.emit("x", Args::new().arg(&1).arg(&2)).unwrap();
    client.expect(r#"42["x",1,2]"#).await;
    assert_eq!(rx.recv().await, (id, "x".to_owned(), 2));
    // A refused emit is not seen.
    assert!(socket.emit("connect", ()).is_err());
    client.sync().await;
    rx.assert_empty();
}

/// The reference's in-memory adapter calls `notifyOutgoingListeners` for
/// each socket a broadcast reaches (socket.io-adapter `broadcast`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_any_outgoing_sees_broadcasts_like_the_reference() {
    let io = quiet().build();
    let (tx, mut rx) = channel();
    io.of("/").on_any_outgoing(move |socket, event, _args| {
        let _ = tx.send((socket.id(), event.to_owned()));
    });
    let server = TestServer::start(io).await;
    let (mut client, id) = server.joined("/").await;
    server.io.emit("b", &1).unwrap();
    client.expect(r#"42["b",1]"#).await;
    assert_eq!(rx.recv().await, (id, "b".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_middleware_rejects_events_before_their_handler() {
    let io = quiet().build();
    let (mw_tx, mut mw) = channel();
    let (tx, mut rx) = channel();
    io.of("/").use_event_middleware(move |_socket, event| {
        let _ = mw_tx.send(("first", event.name().to_owned()));
        if event.name() == "forbidden" {
            Err(ConnectError::new("not allowed"))
        } else {
            Ok(())
        }
    });
    let (mw2_tx, mut mw2) = channel();
    io.of("/").use_event_middleware(move |_socket, event| {
        let _ = mw2_tx.send(event.arg::<u32>(0).ok());
        Ok(())
    });
    io.of("/").on_any(move |_socket, event| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(event.name().to_owned());
        }
    });
    let server = TestServer::start(io).await;
    let (mut client, _) = server.joined("/").await;
    client.send(r#"42["forbidden",1]"#).await;
    client.send(r#"42["fine",2]"#).await;
    assert_eq!(
        mw.take(2).await,
        [("first", "forbidden".into()), ("first", "fine".into())]
    );
    assert_eq!(
        mw2.recv().await,
        Some(2),
        "the second middleware only sees what the first let through"
    );
    assert_eq!(rx.recv().await, "fine");
    // The refusal stays server-side (reference: `_onerror` emits a local
    // `error` event): nothing goes on the wire, the connection stays up.
    client.sync().await;
    rx.assert_empty();
    mw2.assert_empty();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserved_names_are_refused_by_every_emit() {
    let server = TestServer::start(quiet().build()).await;
    let (mut client, id) = server.joined("/").await;
    let socket = server.socket("/", id);
    for name in RESERVED {
        let reserved = EmitError::Reserved(name.to_owned());
        assert_eq!(socket.emit(name, &1), Err(reserved.clone()), "{name}");
        assert_eq!(server.io.emit(name, &1), Err(reserved.clone()), "{name}");
        assert_eq!(
            server.io.to("room").emit(name, ()),
            Err(reserved.clone()),
            "{name}"
        );
        assert_eq!(socket.broadcast().emit(name, ()), Err(reserved.clone()));
        assert_eq!(
            socket
                .timeout(Duration::from_millis(100))
                .emit_with_ack(name, ())
                .await
                .unwrap_err(),
            AckError::Emit(reserved.clone())
        );
        assert!(matches!(
            server.io.broadcast().emit_with_ack(name, ()).await,
            Err(AckError::Emit(EmitError::Reserved(n))) if n == name
        ));
    }
    // Not reserved.
    socket.emit("error", "e").unwrap();
    client.expect(r#"42["error","e"]"#).await;
    client.sync().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unserializable_arguments_are_refused() {
    let server = TestServer::start(quiet().build()).await;
    let (mut client, id) = server.joined("/").await;
    let socket = server.socket("/", id);
    let bad: HashMap<(u8, u8), u8> = HashMap::from([((1, 2), 3)]);
    assert!(matches!(
        socket.emit("x", &bad),
        Err(EmitError::Serialize(_))
    ));
    assert!(matches!(
        server.io.emit("x", Args::new().arg(&1).arg(&bad)),
        Err(EmitError::Serialize(_))
    ));
    client.sync().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_handled_in_arrival_order_per_socket() {
    const N: u32 = 100;
    let io = quiet().build();
    let (start_tx, mut starts) = channel();
    let (done_tx, mut done) = channel();
    io.of("/").on("seq", move |_socket, event| {
        let (start_tx, done_tx) = (start_tx.clone(), done_tx.clone());
        async move {
            let i: u32 = event.arg(0).unwrap();
            let _ = start_tx.send(i);
            // Some handlers wait, some finish at once.
            if i % 3 == 1 {
                tokio::time::sleep(Duration::from_millis(u64::from(i % 5))).await;
            } else if i % 3 == 2 {
                tokio::task::yield_now().await;
            }
            let _ = done_tx.send(i);
        }
    });
    let server = TestServer::start(io).await;
    let (mut client, _) = server.joined("/").await;
    for i in 0..N {
        client.send(&format!(r#"42["seq",{i}]"#)).await;
    }
    let started = starts.take(N as usize).await;
    assert_eq!(
        started,
        (0..N).collect::<Vec<_>>(),
        "handlers start in arrival order"
    );
    let mut finished = done.take(N as usize).await;
    finished.sort_unstable();
    assert_eq!(finished, (0..N).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emits_to_a_disconnected_socket_fail() {
    let server = TestServer::start(quiet().build()).await;
    let (mut client, id) = server.joined("/").await;
    let socket = server.socket("/", id);
    client.send("41").await;
    client.sync().await;
    assert!(!socket.connected());
    assert_eq!(socket.emit("x", ()), Err(EmitError::Disconnected));
    assert!(matches!(
        socket.emit_with_ack("x", ()).await,
        Err(AckError::Emit(EmitError::Disconnected) | AckError::Disconnected)
    ));
    client.sync().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_does_not_take_the_server_down() {
    let io = quiet().build();
    io.of("/").on("boom", |_socket, _event| async move {
        panic!("handler panic (expected by the test)");
    });
    io.of("/").on("later", |socket, _event| async move {
        tokio::task::yield_now().await;
        let _ = socket.emit("alive", ());
    });
    io.of("/").on("boom-later", |_socket, _event| async move {
        tokio::task::yield_now().await;
        panic!("async handler panic (expected by the test)");
    });
    let server = TestServer::start(io).await;
    let (mut client, _) = server.joined("/").await;
    client.send(r#"42["boom"]"#).await;
    client.send(r#"42["boom-later"]"#).await;
    client.send(r#"42["later"]"#).await;
    client.expect(r#"42["alive"]"#).await;
    client.sync().await;
    let (mut other, _) = server.joined("/").await;
    other.send(r#"42["later"]"#).await;
    other.expect(r#"42["alive"]"#).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_in_one_polling_payload_are_handled_in_order() {
    let io = quiet().build();
    let (tx, mut rx) = channel();
    io.of("/").on_any(move |_socket, event| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(event.name().to_owned());
        }
    });
    let server = TestServer::start(io).await;
    let polling = server.http().open_polling("/socket.io/").await;
    polling
        .post_ok(b"40\x1e42[\"a\"]\x1e42[\"b\"]\x1e42[\"c\\u0064\"]")
        .await;
    assert_eq!(rx.take(3).await, ["a", "b", "cd"]);
    let connect = polling.records(1).await;
    assert!(connect[0].starts_with(r#"40{"sid":""#), "{connect:?}");
}
