//! A socket's own listeners beside the namespace's (the reference's
//! `socket.on`, `once`, `off`, `onAny`, `onAnyOutgoing`, `socket.use` and
//! the `error` event): their order, the shared acknowledgement, removal
//! during a dispatch, panics, packet middlewares, and the official client.

mod support;

use std::{
    future::{Ready, ready},
    sync::{Arc, Weak},
};

use rally::{ConnectError, Event, Server, Socket};
use rally_testkit::{eventually, interop, node};
use support::{TestServer, Tx, channel, quiet};
use tokio::sync::Notify;

type Reports = Tx<(String, String)>;

/// Reports `name` with the event's first argument.
fn seen(tx: &Reports, name: &'static str, event: &Event) {
    let _ = tx.send((
        name.to_owned(),
        event.raw_arg(0).unwrap_or_default().to_owned(),
    ));
}

/// A listener that reports `name` and answers the ack with `name`.
fn acking(
    tx: &Reports,
    name: &'static str,
) -> impl Fn(Arc<Socket>, Event) -> Ready<()> + Send + Sync + 'static {
    let tx = tx.clone();
    move |_socket, mut event| {
        seen(&tx, name, &event);
        let _ = event.ack(name);
        ready(())
    }
}

/// A listener that only reports `name`.
fn quiet_listener(
    tx: &Reports,
    name: &'static str,
) -> impl Fn(Arc<Socket>, Event) -> Ready<()> + Send + Sync + 'static {
    let tx = tx.clone();
    move |_socket, event| {
        seen(&tx, name, &event);
        ready(())
    }
}

/// Runs `register` on every socket of `/` as it connects.
fn per_socket(io: &Server, register: impl Fn(&Arc<Socket>) + Send + Sync + 'static) {
    let register = Arc::new(register);
    io.of("/").on_connection(move |socket| {
        register(&socket);
        ready(())
    });
}

/// The report `name=arg`.
fn x(report: &str) -> (String, String) {
    let (name, arg) = report.split_once('=').expect("name=arg");
    (name.to_owned(), arg.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_listeners_then_socket_listeners_in_order_and_the_first_ack_wins() {
    let io = quiet().build();
    let (tx, mut rx) = channel();
    io.of("/").on("e", quiet_listener(&tx, "ns1"));
    io.of("/").on("e", acking(&tx, "ns2"));
    let t = tx.clone();
    per_socket(&io, move |socket| {
        socket.on("e", quiet_listener(&t, "s1"));
        socket.on("e", acking(&t, "s2"));
    });
    let server = TestServer::start(io).await;
    let (mut client, _) = server.joined("/").await;
    client.send(r#"421["e",1]"#).await;
    assert_eq!(
        rx.take(4).await,
        [x("ns1=1"), x("ns2=1"), x("s1=1"), x("s2=1")]
    );
    // One answer, the first one given; the later `ack` sends nothing.
    client.expect(r#"431["ns2"]"#).await;
    client.sync().await;

    // Namespace::off removes the namespace's listeners; the socket's stay.
    server.io.of("/").off("e");
    client.send(r#"422["e",2]"#).await;
    assert_eq!(rx.take(2).await, [x("s1=2"), x("s2=2")]);
    client.expect(r#"432["s2"]"#).await;
    client.sync().await;
    rx.assert_empty();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_during_a_dispatch_takes_effect_from_the_next_event() {
    let io = quiet().build();
    let (tx, mut rx) = channel();
    let t = tx.clone();
    per_socket(&io, move |socket| {
        let first = t.clone();
        socket.on("x", move |socket, event| {
            seen(&first, "first", &event);
            socket.off("x");
            ready(())
        });
        socket.on("x", quiet_listener(&t, "second"));
        socket.on("y", quiet_listener(&t, "y"));
    });
    let server = TestServer::start(io).await;
    let (mut client, _) = server.joined("/").await;
    client.send(r#"42["x",1]"#).await;
    // As Node's EventEmitter: the dispatch goes on with the listeners it took.
    assert_eq!(rx.take(2).await, [x("first=1"), x("second=1")]);
    client.send(r#"42["x",2]"#).await;
    client.send(r#"42["y",3]"#).await;
    assert_eq!(rx.recv().await, x("y=3"));
    client.sync().await;
    rx.assert_empty();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_runs_for_the_next_event_only() {
    let io = quiet().build();
    let (tx, mut rx) = channel();
    let t = tx.clone();
    per_socket(&io, move |socket| {
        socket.once("hello", acking(&t, "once"));
        socket.on("hello", acking(&t, "on"));
    });
    let server = TestServer::start(io).await;
    let (mut client, _) = server.joined("/").await;
    client.send(r#"421["hello",1]"#).await;
    assert_eq!(rx.take(2).await, [x("once=1"), x("on=1")]);
    client.expect(r#"431["once"]"#).await;
    client.send(r#"422["hello",2]"#).await;
    assert_eq!(rx.recv().await, x("on=2"));
    client.expect(r#"432["on"]"#).await;
    client.sync().await;
    rx.assert_empty();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_listener_leaves_the_others_and_the_socket_alive() {
    let io = quiet().build();
    let (tx, mut rx) = channel();
    io.of("/").on("p", |_socket, _event| async move {
        panic!("a namespace listener panics");
    });
    let t = tx.clone();
    per_socket(&io, move |socket| {
        socket.on("p", |_socket, _event| async move {
            tokio::task::yield_now().await;
            panic!("a socket listener panics after waiting");
        });
        socket.on("p", |_socket, _event| -> Ready<()> {
            panic!("a socket listener panics before its future");
        });
        socket.on("p", acking(&t, "after"));
        socket.on_any(|_socket, _event| async move {
            panic!("a catch-all panics");
        });
        socket.on_any_outgoing(|_socket, _event, _args| panic!("an outgoing listener panics"));
        let out = t.clone();
        socket.on_any_outgoing(move |_socket, event, _args| {
            let _ = out.send(("out".to_owned(), event.to_owned()));
        });
    });
    let server = TestServer::start(io).await;
    let (mut client, id) = server.joined("/").await;
    for n in 1..=2 {
        client.send(&format!(r#"42{n}["p",{n}]"#)).await;
        assert_eq!(rx.recv().await, x(&format!("after={n}")));
        client.expect(&format!(r#"43{n}["after"]"#)).await;
    }
    let socket = server.socket("/", id);
    assert!(socket.connected());
    socket.emit("still", ()).unwrap();
    assert_eq!(rx.recv().await, x("out=still"));
    client.expect(r#"42["still"]"#).await;
    client.sync().await;
    rx.assert_empty();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packet_middlewares_change_refuse_and_keep_the_order() {
    let io = quiet().build();
    let (tx, mut rx) = channel();
    let gate = Arc::new(Notify::new());
    let (mw_tx, mut mw_rx) = channel();
    let t = tx.clone();
    let g = gate.clone();
    per_socket(&io, move |socket| {
        let gate = g.clone();
        let mw = mw_tx.clone();
        socket.use_middleware(move |_socket, mut event| {
            let gate = gate.clone();
            let mw = mw.clone();
            async move {
                let _ = mw.send(event.name().to_owned());
                // Wait truly: the event goes on in a task of its own.
                tokio::task::yield_now().await;
                if event.name() == "held" {
                    gate.notified().await;
                }
                match event.name() {
                    "forbidden" => Err(ConnectError::new("not allowed")),
                    "double" => {
                        let n: u32 = event.arg(0).unwrap_or_default();
                        event.set_args(&(n * 2)).expect("a number serializes");
                        Ok(event)
                    }
                    _ => Ok(event),
                }
            }
        });
        // A second middleware sees what the first let through, changed.
        let second = t.clone();
        socket.use_middleware(move |_socket, event| {
            seen(&second, "mw2", &event);
            ready(Ok(event))
        });
        for name in ["e1", "e2"] {
            let errors = t.clone();
            socket.on_error(move |_socket, err| {
                let _ = errors.send((name.to_owned(), err.to_string()));
                ready(())
            });
        }
        socket.on("double", acking(&t, "double"));
        socket.on("held", quiet_listener(&t, "held"));
        socket.on("next", quiet_listener(&t, "next"));
        socket.on("forbidden", quiet_listener(&t, "forbidden"));
        socket.on_any(quiet_listener(&t, "any"));
    });
    let server = TestServer::start(io).await;
    let (mut client, _) = server.joined("/").await;

    client.send(r#"421["double",21]"#).await;
    assert_eq!(rx.take(3).await, [x("mw2=42"), x("any=42"), x("double=42")]);
    client.expect(r#"431["double"]"#).await;

    client.send(r#"42["forbidden",1]"#).await;
    assert_eq!(rx.take(2).await, [x("e1=not allowed"), x("e2=not allowed")]);

    // A later event waits behind one whose middleware waits.
    client.send(r#"42["held",1]"#).await;
    client.send(r#"42["next",2]"#).await;
    assert_eq!(mw_rx.take(3).await, ["double", "forbidden", "held"]);
    client.sync().await;
    rx.assert_empty();
    mw_rx.assert_empty();
    gate.notify_one();
    assert_eq!(
        rx.take(6).await,
        [
            x("mw2=1"),
            x("any=1"),
            x("held=1"),
            x("mw2=2"),
            x("any=2"),
            x("next=2")
        ]
    );
    assert_eq!(mw_rx.recv().await, "next");
    client.sync().await;
    rx.assert_empty();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_middleware_drops_its_event_only() {
    let io = quiet().build();
    let (tx, mut rx) = channel();
    let t = tx.clone();
    per_socket(&io, move |socket| {
        socket.use_middleware(|_socket, event| {
            assert_ne!(event.name(), "sync-boom", "a middleware panics at once");
            async move {
                tokio::task::yield_now().await;
                assert_ne!(event.name(), "boom", "a middleware panics");
                Ok(event)
            }
        });
        socket.on_any(quiet_listener(&t, "any"));
    });
    let server = TestServer::start(io).await;
    let (mut client, _) = server.joined("/").await;
    client.send(r#"42["boom",1]"#).await;
    client.send(r#"42["fine",2]"#).await;
    client.send(r#"42["sync-boom",3]"#).await;
    client.send(r#"42["fine",4]"#).await;
    assert_eq!(rx.take(2).await, [x("any=2"), x("any=4")]);
    client.sync().await;
    rx.assert_empty();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_alls_add_up_in_order_with_prepend_and_off_any() {
    let io = quiet().build();
    let (tx, mut rx) = channel();
    io.of("/").on_any(quiet_listener(&tx, "ns"));
    let t = tx.clone();
    per_socket(&io, move |socket| {
        socket.on_any(acking(&t, "a"));
        socket.on_any(acking(&t, "b"));
        socket.prepend_any(acking(&t, "c"));
        socket.on("heard", acking(&t, "heard"));
    });
    let server = TestServer::start(io).await;
    let (mut client, id) = server.joined("/").await;
    // No listener of its own: the catch-alls share the ack, the first wins.
    client.send(r#"421["unheard",1]"#).await;
    assert_eq!(rx.take(4).await, [x("ns=1"), x("c=1"), x("a=1"), x("b=1")]);
    client.expect(r#"431["c"]"#).await;
    // With one, the ack is the listener's.
    client.send(r#"422["heard",2]"#).await;
    assert_eq!(
        rx.take(5).await,
        [x("ns=2"), x("c=2"), x("a=2"), x("b=2"), x("heard=2")]
    );
    client.expect(r#"432["heard"]"#).await;
    server.socket("/", id).off_any();
    client.send(r#"42["unheard",3]"#).await;
    assert_eq!(rx.recv().await, x("ns=3"));
    client.sync().await;
    rx.assert_empty();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outgoing_catch_alls_see_emits_and_broadcasts_but_not_acks() {
    let io = quiet().build();
    let (tx, mut rx) = channel();
    let ns_tx = tx.clone();
    io.of("/").on_any_outgoing(move |_socket, event, _args| {
        let _ = ns_tx.send(("ns".to_owned(), event.to_owned()));
    });
    io.of("/").on("ask", |_socket, mut event| async move {
        let _ = event.ack("answer");
    });
    let server = TestServer::start(io).await;
    let (mut watched, id) = server.joined("/").await;
    let (mut other, _) = server.joined("/").await;
    let socket = server.socket("/", id);
    for (name, first) in [("a", false), ("b", false), ("c", true)] {
        let tx = tx.clone();
        let listener = move |_socket: &Socket, event: &str, args: &rally::Args| {
            let _ = tx.send((name.to_owned(), format!("{event}={}", args.len())));
        };
        if first {
            socket.prepend_any_outgoing(listener);
        } else {
            socket.on_any_outgoing(listener);
        }
    }
    socket
        .emit("x", rally::Args::new().arg(&1).arg(&2))
        .unwrap();
    watched.expect(r#"42["x",1,2]"#).await;
    assert_eq!(
        rx.take(4).await,
        [x("ns=x"), x("c=x=2"), x("a=x=2"), x("b=x=2")]
    );
    // An acknowledgement is not an emit.
    watched.send(r#"421["ask"]"#).await;
    watched.expect(r#"431["answer"]"#).await;
    rx.assert_empty();
    // A broadcast reaching the socket is seen, as in the reference.
    // The other socket, without listeners of its own, only meets the
    // namespace's.
    server.io.emit("b", ()).unwrap();
    watched.expect(r#"42["b"]"#).await;
    other.expect(r#"42["b"]"#).await;
    let mut seen = rx.take(5).await;
    seen.sort();
    assert_eq!(
        seen,
        [x("a=b=0"), x("b=b=0"), x("c=b=0"), x("ns=b"), x("ns=b")]
    );
    socket.off_any_outgoing();
    socket.emit("y", ()).unwrap();
    watched.expect(r#"42["y"]"#).await;
    assert_eq!(rx.recv().await, x("ns=y"));
    watched.sync().await;
    rx.assert_empty();
}

/// With connection state recovery on, an emit to one socket goes through
/// the adapter's logged path: its outgoing listeners still see it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outgoing_catch_alls_see_logged_emits() {
    let io = quiet()
        .connection_state_recovery(rally::ConnectionStateRecovery::default())
        .build();
    let (tx, mut rx) = channel();
    let t = tx.clone();
    per_socket(&io, move |socket| {
        let tx = t.clone();
        socket.on_any_outgoing(move |_socket, event, _args| {
            let _ = tx.send(("out".to_owned(), event.to_owned()));
        });
    });
    let server = TestServer::start(io).await;
    let mut client = server.client().await;
    client.send(&support::connect_packet("/", None)).await;
    let reply = client.text().await;
    let id = rally::Sid::parse(&support::field(&reply, "sid"))
        .unwrap_or_else(|| panic!("no socket id in {reply}"));
    server.socket("/", id).emit("logged", ()).unwrap();
    assert_eq!(rx.recv().await, x("out=logged"));
    let frame = client.text().await;
    assert!(frame.starts_with(r#"42["logged""#), "{frame}");
}

/// Events waiting behind a middleware are bounded: a client far ahead of
/// it is disconnected, as one too slow for its outgoing queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_far_ahead_of_its_middleware_is_disconnected() {
    let io = quiet().build();
    let gate = Arc::new(Notify::new());
    let g = gate.clone();
    per_socket(&io, move |socket| {
        let gate = g.clone();
        socket.use_middleware(move |_socket, event| {
            let gate = gate.clone();
            async move {
                gate.notified().await;
                Ok(event)
            }
        });
    });
    let server = TestServer::start(io).await;
    let (mut client, _) = server.joined("/").await;
    // One held, 1024 waiting: still connected.
    for n in 0..1025 {
        client.send(&format!(r#"42["e",{n}]"#)).await;
    }
    client.sync().await;
    client.send(r#"42["e","one too many"]"#).await;
    client.expect_closed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_leaving_drops_its_listeners() {
    let io = quiet().build();
    let (tx, mut rx) = channel::<Weak<Socket>>();
    io.of("/").on_connection(move |socket| {
        // The listener holds its own socket, as Node.js closures often do.
        let held = socket.clone();
        socket.on("x", move |_socket, _event| {
            let _ = held.emit("y", ());
            ready(())
        });
        let _ = tx.send(Arc::downgrade(&socket));
        ready(())
    });
    let server = TestServer::start(io).await;
    let (mut client, _) = server.joined("/").await;
    let weak = rx.recv().await;
    client.send(r#"42["x"]"#).await;
    client.expect(r#"42["y"]"#).await;
    let socket = weak.upgrade().expect("connected");
    client.close().await;
    eventually("the socket to leave", || {
        let gone = !socket.connected();
        ready(gone)
    })
    .await;
    // Registered after leaving: ignored.
    socket.on("x", |_socket, _event| ready(()));
    drop(socket);
    eventually("the socket to be freed", || ready(weak.upgrade().is_none())).await;
}

/// A socket that registers nothing must cost nothing: the per-socket
/// listeners are one empty `OnceLock`, paid for by the ack table's
/// zero-sized hasher (184 bytes before this feature too, with a 40-byte
/// `Mutex<serde_json::Value>` for its data). The data field is left out of
/// the count: `serde_json`'s `preserve_order` feature, which another crate
/// of the workspace turns on, makes a `Value` larger in a workspace build.
#[cfg(target_pointer_width = "64")]
#[test]
fn an_idle_socket_did_not_grow() {
    let data = std::mem::size_of::<std::sync::Mutex<serde_json::Value>>();
    let rest = std::mem::size_of::<Socket>() - data;
    assert!(rest <= 184 - 40, "Socket is {rest} bytes besides its data");
}

/// The official client against listeners registered per socket (and the
/// namespace's removed): events, acks, and a packet middleware that waits.
async fn official_client(scenario: &str, mode: &str) {
    let io = interop::serve_protocol(interop::lenient());
    let root = io.of("/");
    root.off("message");
    root.off("message-with-ack");
    root.on_connection(|socket| async move {
        socket.use_middleware(|_socket, event| async move {
            tokio::task::yield_now().await;
            Ok(event)
        });
        socket.on("message", |socket, event| async move {
            let _ = socket.emit("message-back", event.to_args());
        });
        socket.on("message-with-ack", |_socket, mut event| async move {
            let args = event.to_args();
            let _ = event.ack(args);
        });
    });
    let (url, _io) = interop::start_server(io).await;
    node::run("socket-client.mjs", &[scenario, mode, &url, "json"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_client_events_reach_socket_listeners_over_websocket() {
    official_client("events", "websocket").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_client_acks_reach_socket_listeners_over_polling() {
    official_client("acks", "polling").await;
}

/// The call shapes a Node.js port writes, as they must keep compiling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::redundant_clone,
    reason = "written as a port from Node.js writes it"
)]
async fn the_node_shaped_calls_compile_and_run() {
    let io = quiet().build();
    let root = io.of("/");
    root.on("shout", |socket, _event| async move {
        let _ = socket.emit("heard", "first");
    });
    root.on("shout", |socket, _event| async move {
        let _ = socket.emit("heard", "second");
    });
    root.on_connection(|socket| async move {
        let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));

        let c = count.clone();
        socket.on("tick", move |socket, mut event| {
            let c = c.clone();
            async move {
                let n = c.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                let _ = event.ack(&n);
                let _ = socket.emit("pair", rally::Args::new().arg(&1).arg(&"two"));
            }
        });
        socket.once("hello", |socket, _event| async move {
            let _ = socket.emit("hi-once", ());
        });
        socket.on("untick", |socket, _event| async move {
            socket.off("tick");
        });

        socket.on_any(|_socket, event| async move {
            tracing::debug!(name = event.name(), "in");
        });
        socket.on_any_outgoing(|_socket, event_name, _args| {
            tracing::debug!(event_name, "out");
        });

        socket.use_middleware(|_socket, event| async move {
            if event.name() == "forbidden" {
                Err(ConnectError::new("not allowed"))
            } else {
                Ok(event)
            }
        });
        socket.on_error(|socket, err| async move {
            let _ = socket.emit("error-seen", &err.to_string());
        });
    });
    let server = TestServer::start(io).await;
    let (mut client, _) = server.joined("/").await;
    client.send(r#"42["shout"]"#).await;
    client.expect(r#"42["heard","first"]"#).await;
    client.expect(r#"42["heard","second"]"#).await;
    client.send(r#"421["tick"]"#).await;
    client.expect("431[1]").await;
    client.expect(r#"42["pair",1,"two"]"#).await;
    client.send(r#"42["hello"]"#).await;
    client.expect(r#"42["hi-once"]"#).await;
    client.send(r#"42["hello"]"#).await;
    client.send(r#"42["forbidden"]"#).await;
    client.expect(r#"42["error-seen","not allowed"]"#).await;
    client.send(r#"42["untick"]"#).await;
    client.send(r#"422["tick"]"#).await;
    client.sync().await;
}
