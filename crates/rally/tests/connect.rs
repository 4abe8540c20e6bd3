//! Namespace CONNECT, as the reference answers it:
//! replies, socket ids, auth, middlewares, the handshake.

mod support;

use std::{
    net::IpAddr,
    time::{Duration, SystemTime},
};

use rally::{Args, ConnectError};
use serde_json::json;
use support::{TestServer, channel, quiet};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_replies_with_a_fresh_socket_id_in_its_own_room() {
    let io = quiet().build();
    let (tx, mut rx) = channel();
    io.of("/").on_connection(move |socket| {
        let tx = tx.clone();
        async move {
            let rooms: Vec<String> = socket.rooms().iter().map(|r| r.to_string()).collect();
            let _ = tx.send((socket.id(), rooms, socket.ns().name().to_owned()));
            // As in the reference: the app's emit comes after the CONNECT reply.
            let _ = socket.emit("auth", Args::raw_json(socket.raw_auth()));
        }
    });
    let server = TestServer::start(io).await;
    let mut client = server.client().await;
    client.send("40").await;
    let id = client.expect_connected("/").await;
    client.expect(r#"42["auth",{}]"#).await;
    assert_ne!(
        id.as_str(),
        client.engine_sid,
        "socket id must differ from the engine sid"
    );

    let (seen, rooms, ns) = rx.recv().await;
    assert_eq!(seen, id);
    assert_eq!(
        rooms,
        vec![id.to_string()],
        "a socket is in the room of its own id"
    );
    assert_eq!(ns, "/");
    let socket = server.socket("/", id);
    assert!(socket.connected());
    assert_eq!(
        socket.session().map(|s| s.sid().to_string()),
        Some(client.engine_sid.clone())
    );
    client.sync().await;

    // Another connection gets another id.
    let mut other = server.client().await;
    let other_id = other.connect("/").await;
    other.expect(r#"42["auth",{}]"#).await;
    assert_ne!(other_id, id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_payload_is_seen_by_middlewares_and_handlers() {
    let io = quiet().build();
    let (mw_tx, mut mw_rx) = channel();
    let (tx, mut rx) = channel();
    io.of("/").use_middleware(move |socket| {
        let tx = mw_tx.clone();
        async move {
            let _ = tx.send((
                socket.auth::<serde_json::Value>().ok(),
                socket.raw_auth().to_owned(),
                socket.connected(),
            ));
            Ok(())
        }
    });
    io.of("/").on_connection(move |socket| {
        let tx = tx.clone();
        async move {
            let _ = tx.send((socket.raw_auth().to_owned(), socket.handshake().auth));
            let _ = socket.emit("auth", Args::raw_json(socket.raw_auth()));
        }
    });
    let server = TestServer::start(io).await;

    let mut client = server.client().await;
    client.send(r#"40{"token":1}"#).await;
    client.expect_connected("/").await;
    client.expect(r#"42["auth",{"token":1}]"#).await;
    let (auth, raw, connected) = mw_rx.recv().await;
    assert_eq!(auth, Some(json!({"token": 1})));
    assert_eq!(raw, r#"{"token":1}"#);
    assert!(!connected, "a socket in a middleware has not joined yet");
    assert_eq!(
        rx.recv().await,
        (r#"{"token":1}"#.to_owned(), json!({"token": 1}))
    );

    // No auth: `{}`.
    let mut bare = server.client().await;
    bare.connect("/").await;
    bare.expect(r#"42["auth",{}]"#).await;
    assert_eq!(mw_rx.recv().await.1, "{}");
    assert_eq!(rx.recv().await, ("{}".to_owned(), json!({})));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_are_multiplexed_on_one_connection() {
    let io = quiet().build();
    let (tx, mut rx) = channel();
    for nsp in ["/", "/custom"] {
        let tx = tx.clone();
        io.of(nsp).on_connection(move |socket| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((socket.ns().name().to_owned(), socket.id()));
                let _ = socket.emit("auth", Args::raw_json(socket.raw_auth()));
            }
        });
    }
    let server = TestServer::start(io).await;
    let mut client = server.client().await;

    let root = client.connect("/").await;
    client.expect(r#"42["auth",{}]"#).await;
    let custom = client.connect("/custom").await;
    client.expect(r#"42/custom,["auth",{}]"#).await;
    assert_ne!(root, custom);
    assert_eq!(rx.recv().await, ("/".to_owned(), root));
    assert_eq!(rx.recv().await, ("/custom".to_owned(), custom));
    assert_eq!(
        server.socket("/", root).session().map(|s| s.sid()),
        server.socket("/custom", custom).session().map(|s| s.sid()),
        "both sockets ride the same Engine.IO session"
    );

    // `40/custom` without the comma, and with auth.
    let mut bare = server.client().await;
    bare.send("40/custom").await;
    bare.expect_connected("/custom").await;
    bare.expect(r#"42/custom,["auth",{}]"#).await;
    let mut with_auth = server.client().await;
    with_auth.send(r#"40/custom,{"x":"y"}"#).await;
    with_auth.expect_connected("/custom").await;
    with_auth.expect(r#"42/custom,["auth",{"x":"y"}]"#).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_namespace_is_refused_and_the_connection_stays_usable() {
    let server = TestServer::start(quiet().build()).await;
    let mut client = server.client().await;
    client.send("40/unknown,").await;
    client
        .expect(r#"44/unknown,{"message":"Invalid namespace"}"#)
        .await;
    client.connect("/").await;
    client.send("40/other").await;
    client
        .expect(r#"44/other,{"message":"Invalid namespace"}"#)
        .await;
    client.sync().await;
    assert_eq!(server.io.connection_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn middleware_refusal_sends_connect_error_with_message_and_data() {
    let io = quiet().build();
    let (tx, mut rx) = channel::<String>();
    io.of("/mw").use_middleware(|_socket| async move {
        Err(ConnectError::new("nope").with_data(&json!({"a": 1})))
    });
    io.of("/mw2")
        .use_middleware(|_socket| async move { Err(ConnectError::new("plain")) });
    for nsp in ["/mw", "/mw2"] {
        let tx = tx.clone();
        io.of(nsp).on_connection(move |socket| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(socket.ns().name().to_owned());
            }
        });
    }
    let server = TestServer::start(io).await;
    let mut client = server.client().await;
    client.send("40/mw,").await;
    client
        .expect(r#"44/mw,{"message":"nope","data":{"a":1}}"#)
        .await;
    client.send("40/mw2,").await;
    client.expect(r#"44/mw2,{"message":"plain"}"#).await;
    // The connection stays open and usable.
    client.connect("/").await;
    client.sync().await;
    rx.assert_empty();
    assert!(server.io.of("/mw").sockets().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_error_message_is_json_escaped() {
    let io = quiet().build();
    io.of("/q").use_middleware(|_socket| async move {
        Err(ConnectError::new("say \"no\"\n").with_data(&json!(["x", null])))
    });
    let server = TestServer::start(io).await;
    let mut client = server.client().await;
    client.send("40/q,").await;
    client
        .expect(r#"44/q,{"message":"say \"no\"\n","data":["x",null]}"#)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_middlewares_run_in_order_then_the_connection_handler() {
    let io = quiet().build();
    let (tx, mut rx) = channel::<&'static str>();
    let ns = io.of("/");
    let t = tx.clone();
    ns.use_middleware(move |_socket| {
        let tx = t.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = tx.send("first (slow)");
            Ok(())
        }
    });
    let t = tx.clone();
    ns.use_middleware(move |socket| {
        let tx = t.clone();
        async move {
            tokio::task::yield_now().await;
            let _ = tx.send("second");
            socket.set_data(&json!({"from": "middleware"})).ok();
            Ok(())
        }
    });
    let t = tx.clone();
    ns.use_middleware(move |_socket| {
        let tx = t.clone();
        async move {
            let _ = tx.send("third");
            Ok(())
        }
    });
    let t = tx.clone();
    ns.on_connection(move |socket| {
        let tx = t.clone();
        async move {
            assert_eq!(socket.raw_data(), json!({"from": "middleware"}));
            let _ = tx.send("connection");
        }
    });
    // A refusal stops the chain.
    let stop = io.of("/stop");
    let t = tx.clone();
    stop.use_middleware(move |_socket| {
        let tx = t.clone();
        async move {
            tokio::task::yield_now().await;
            let _ = tx.send("refusing");
            Err(ConnectError::new("stop"))
        }
    });
    let t = tx.clone();
    stop.use_middleware(move |_socket| {
        let tx = t.clone();
        async move {
            let _ = tx.send("after the refusal");
            Ok(())
        }
    });
    let server = TestServer::start(io).await;
    let mut client = server.client().await;
    client.connect("/").await;
    assert_eq!(
        rx.take(4).await,
        ["first (slow)", "second", "third", "connection"]
    );
    client.send("40/stop,").await;
    client.expect(r#"44/stop,{"message":"stop"}"#).await;
    assert_eq!(rx.recv().await, "refusing");
    client.sync().await;
    rx.assert_empty();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_has_headers_query_address_url_issued_and_auth() {
    let io = quiet().build();
    let (tx, mut rx) = channel();
    io.of("/").on_connection(move |socket| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(socket.handshake());
        }
    });
    let server = TestServer::start(io).await;
    let before = SystemTime::now();
    let mut client = server
        .client_with("foo=bar&n=1", &[("x-custom", "yes")])
        .await;
    let after = SystemTime::now();
    client.connect_auth("/", r#"{"token":"abc"}"#).await;
    let h = rx.recv().await;
    assert_eq!(
        h.headers.get("x-custom").and_then(|v| v.to_str().ok()),
        Some("yes")
    );
    assert!(h.headers.contains_key("sec-websocket-key"));
    for pair in [
        ("EIO", "4"),
        ("transport", "websocket"),
        ("foo", "bar"),
        ("n", "1"),
    ] {
        assert!(
            h.query.contains(&(pair.0.to_owned(), pair.1.to_owned())),
            "query {:?} lacks {pair:?}",
            h.query
        );
    }
    let address = h.address.expect("the peer's address");
    assert_eq!(address.ip(), "127.0.0.1".parse::<IpAddr>().unwrap());
    assert_eq!(h.url, "/socket.io/?EIO=4&transport=websocket&foo=bar&n=1");
    assert!(
        h.issued >= before - Duration::from_secs(1) && h.issued <= after + Duration::from_secs(1),
        "issued {:?} not between {before:?} and {after:?}",
        h.issued
    );
    assert_eq!(h.auth, json!({"token": "abc"}));
    assert!(!h.secure);
    assert!(!h.xdomain, "no Origin header: not cross-domain");
}

/// A request with the `Secure` mark (which `serve_tls` puts on every
/// request it serves) makes a secure handshake; without it, only a proxy's
/// `X-Forwarded-Proto: https` does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_secure_follows_the_secure_mark() {
    let io = quiet().build();
    let (tx, mut rx) = channel();
    io.of("/").on_connection(move |socket| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(socket.handshake().secure);
        }
    });
    let marked = axum::Router::new()
        .layer(io.layer())
        .layer(axum::Extension(rally::Secure));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = tokio::spawn(rally::serve(listener, marked));
    let mut client = support::Client::open(addr, "", &[]).await;
    client.connect("/").await;
    assert!(rx.recv().await, "marked: secure");
    serving.abort();

    let server = TestServer::start(io).await;
    let mut client = server
        .client_with("", &[("x-forwarded-proto", "https")])
        .await;
    client.connect("/").await;
    assert!(rx.recv().await, "behind a proxy that says https: secure");
    let mut client = server.client().await;
    client.connect("/").await;
    assert!(!rx.recv().await, "neither: not secure");
}

/// The reference's `handshake.query` comes from `URL.searchParams`: values
/// are percent-decoded (`a%20b` → `a b`), as the engine's own
/// `Handshake::query` does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_query_is_percent_decoded() {
    let io = quiet().build();
    let (tx, mut rx) = channel();
    io.of("/").on_connection(move |socket| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(socket.handshake().query);
        }
    });
    let server = TestServer::start(io).await;
    let mut client = server.client_with("name=a%20b&e=%C3%A9", &[]).await;
    client.connect("/").await;
    let query = rx.recv().await;
    assert!(
        query.contains(&("name".to_owned(), "a b".to_owned())),
        "query {query:?}: `name=a%20b` should read `a b`"
    );
    assert!(
        query.contains(&("e".to_owned(), "é".to_owned())),
        "query {query:?}: `e=%C3%A9` should read `é`"
    );
}

/// The reference sets `xdomain: !!req.headers.origin` (socket.io 4.8.4
/// `buildHandshake`): any Origin header, even the server's own, makes it
/// true.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_xdomain_is_true_whenever_an_origin_is_sent() {
    let io = quiet().build();
    let (tx, mut rx) = channel();
    io.of("/").on_connection(move |socket| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(socket.handshake().xdomain);
        }
    });
    let server = TestServer::start(io).await;
    let origin = format!("http://{}", server.addr);
    let mut client = server.client_with("", &[("origin", &origin)]).await;
    client.connect("/").await;
    assert!(rx.recv().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_over_polling() {
    let io = quiet().build();
    io.of("/").on_connection(|socket| async move {
        let _ = socket.emit("auth", Args::raw_json(socket.raw_auth()));
    });
    let server = TestServer::start(io).await;
    let polling = server.http().open_polling("/socket.io/").await;
    polling.post_ok(br#"40{"t":2}"#).await;
    let records = polling.records(2).await;
    let reply = &records[0];
    assert!(
        reply.starts_with(r#"40{"sid":""#) && reply.len() == r#"40{"sid":""}"#.len() + 20,
        "CONNECT reply {reply:?}"
    );
    assert_ne!(support::field(reply, "sid"), polling.sid);
    assert_eq!(records[1], r#"42["auth",{"t":2}]"#);
}

/// Two `40` sent before the first finished connecting (an
/// async middleware) create two sockets. Both belong to the connection:
/// when it closes, both must leave (none may linger in the namespace).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_connects_in_flight_make_two_sockets_that_both_leave() {
    let io = quiet().build();
    io.of("/").use_middleware(|_socket| async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok(())
    });
    let (tx, mut rx) = channel();
    io.of("/").on_disconnect(move |socket, reason| {
        let tx = tx.clone();
        async move {
            let _ = tx.send((socket.id(), reason));
        }
    });
    let server = TestServer::start(io).await;
    let mut client = server.client().await;
    client.send("40").await;
    client.send("40").await;
    let first = client.expect_connected("/").await;
    let second = client.expect_connected("/").await;
    assert_ne!(first, second);
    client.close().await;
    let mut left = vec![rx.recv().await, rx.recv().await];
    left.sort_by_key(|(id, _)| *id);
    let mut expected = vec![
        (first, rally::DisconnectReason::TransportClose),
        (second, rally::DisconnectReason::TransportClose),
    ];
    expected.sort_by_key(|(id, _)| *id);
    assert_eq!(left, expected);
    assert!(server.io.of("/").sockets().is_empty());
}

/// A socket joined over polling keeps its id and rooms when its
/// connection upgrades to WebSocket; later packets go over the WebSocket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_survives_the_upgrade_to_websocket() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_websockets::{ClientBuilder, Message};

    let io = quiet().build();
    io.of("/").on("message", |socket, event| async move {
        let _ = socket.emit("message-back", event.to_args());
    });
    let server = TestServer::start(io).await;
    let polling = server.http().open_polling("/socket.io/").await;
    polling.post_ok(b"40").await;
    let records = polling.records(1).await;
    let id = rally::Sid::parse(&support::field(&records[0], "sid")).unwrap();
    let socket = server.socket("/", id);
    socket.join("r");
    assert_eq!(socket.transport(), Some(rally::Transport::Polling));

    let uri = format!(
        "ws://{}/socket.io/?EIO=4&transport=websocket&sid={}",
        server.addr, polling.sid
    );
    let (mut ws, _) = support::within(
        "the upgrade handshake",
        ClientBuilder::new().uri(&uri).unwrap().connect(),
    )
    .await
    .unwrap();
    ws.send(Message::text("2probe")).await.unwrap();
    let pong = support::within("3probe", ws.next()).await.unwrap().unwrap();
    assert_eq!(pong.as_text(), Some("3probe"));
    ws.send(Message::text("5")).await.unwrap();
    support::within("the upgrade", async {
        while socket.transport() != Some(rally::Transport::WebSocket) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;

    server.io.to("r").emit("after", &1).unwrap();
    let frame = support::within("an event over the WebSocket", ws.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(frame.as_text(), Some(r#"42["after",1]"#));
    ws.send(Message::text(r#"42["message","up"]"#))
        .await
        .unwrap();
    let frame = support::within("the echo", ws.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(frame.as_text(), Some(r#"42["message-back","up"]"#));
    assert_eq!(server.socket("/", id).id(), id);
}
