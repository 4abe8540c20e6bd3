//! Outgoing listeners (`on_any_outgoing` and its kin) and removing an
//! event's handler (`off`). Against Rally and the official Node.js server,
//! on each transport.

mod common;

use common::{Client, Kind, Mode, TestServer, within};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// What an outgoing listener saw: its tag, the event's name and arguments.
type Seen = (&'static str, String, Vec<Value>);

fn record_outgoing(
    socket: &rally_client::Socket,
    tag: &'static str,
    tx: &mpsc::UnboundedSender<Seen>,
    prepend: bool,
) {
    let tx = tx.clone();
    let listener = move |_socket, event: rally_client::Event| {
        assert!(!event.wants_ack(), "an outgoing event has no ack to give");
        let values = event.to_values(|b| common::bytes(b));
        let _ = tx.send((tag, event.name().to_owned(), values));
        async {}
    };
    if prepend {
        socket.prepend_any_outgoing(listener);
    } else {
        socket.on_any_outgoing(listener);
    }
}

async fn outgoing_in_order(kind: Kind, mode: Mode) {
    let server = TestServer::start(kind).await;
    let client = Client::new(&server.url(), mode);
    let (socket, mut rec) = client.socket("/");
    let (tx, mut seen) = mpsc::unbounded_channel();
    record_outgoing(&socket, "second", &tx, false);
    record_outgoing(&socket, "first", &tx, true);

    // Buffered before the connection: seen when it goes out.
    socket.emit("message", "early").expect("emits");
    assert!(seen.try_recv().is_err(), "not sent yet");
    within("connect", socket.connect()).await.expect("connects");
    rec.event("auth").await;
    for i in 0..20 {
        socket.emit("message", &i).expect("emits");
    }
    let ack = socket.emit_with_ack("message-with-ack", "acked");
    within("ack", ack).await.expect("acked");

    let mut expected = vec![("message".to_owned(), vec![json!("early")])];
    expected.extend((0..20).map(|i| ("message".to_owned(), vec![json!(i)])));
    expected.push(("message-with-ack".to_owned(), vec![json!("acked")]));
    for (name, args) in expected {
        for tag in ["first", "second"] {
            let got = within("an outgoing event", seen.recv()).await;
            assert_eq!(got, Some((tag, name.clone(), args.clone())));
        }
    }

    // Removed: nothing more is seen (the echo of a later emit is the barrier).
    socket.off_any_outgoing();
    socket.emit("message", "unseen").expect("emits");
    assert_eq!(rec.event("message-back").await, [json!("early")]);
    loop {
        if rec.event("message-back").await == [json!("unseen")] {
            break;
        }
    }
    assert!(seen.try_recv().is_err(), "a listener still ran");
}

async fn off_removes_the_handler(kind: Kind, mode: Mode) {
    let server = TestServer::start(kind).await;
    let client = Client::new(&server.url(), mode);
    let (socket, mut rec) = client.socket("/");
    let (tx, mut handled) = mpsc::unbounded_channel();
    socket.on("message-back", move |_socket, event| {
        let _ = tx.send(event.arg::<Value>(0).unwrap_or_default());
        async {}
    });
    within("connect", socket.connect()).await.expect("connects");
    rec.event("auth").await;

    socket.emit("message", "handled").expect("emits");
    assert_eq!(rec.event("message-back").await, [json!("handled")]);
    assert_eq!(
        within("the handler", handled.recv()).await,
        Some(json!("handled"))
    );

    socket.off("message-back");
    socket.emit("message", "not handled").expect("emits");
    socket.emit("message", "barrier").expect("emits");
    // The catch-all still sees it; the removed handler does not (the events
    // of a socket are dispatched in order: once the barrier is seen, a
    // handler of the one before would have run).
    assert_eq!(rec.event("message-back").await, [json!("not handled")]);
    assert_eq!(rec.event("message-back").await, [json!("barrier")]);
    assert!(handled.try_recv().is_err(), "the removed handler ran");

    // A handler added again runs again.
    let (tx, mut again) = mpsc::unbounded_channel();
    socket.on("message-back", move |_socket, _event| {
        let _ = tx.send(());
        async {}
    });
    socket.emit("message", "again").expect("emits");
    assert_eq!(rec.event("message-back").await, [json!("again")]);
    assert_eq!(within("the new handler", again.recv()).await, Some(()));
}

each_server_and_mode!(outgoing_in_order, off_removes_the_handler);
