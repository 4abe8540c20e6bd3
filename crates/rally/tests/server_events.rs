//! Server-side events (`server_side_emit`, `on_server_event`) on one node:
//! the in-memory adapter has no other node, and an adapter hands events in
//! through `dispatch_server_event`.

mod support;

use rally::{Server, ServerEvent};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

#[tokio::test]
async fn without_a_cluster_nobody_answers() {
    let io = Server::new();
    io.of("/").server_side_emit("hello", "world").unwrap();
    let answers = io
        .of("/")
        .server_side_emit_with_ack("hello", "world")
        .await
        .unwrap();
    assert!(answers.is_empty());
}

#[tokio::test]
async fn dispatched_events_reach_their_handler_and_answer() {
    let io = Server::new();
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    io.of("/")
        .on_server_event("hello", move |mut event: ServerEvent| {
            let seen_tx = seen_tx.clone();
            async move {
                let who: String = event.arg(0).unwrap();
                let _ = seen_tx.send((who.clone(), event.has_ack()));
                event.ack(&format!("hi {who}"));
                event.ack(&"only once");
            }
        });
    let (ack_tx, ack_rx) = oneshot::channel();
    let event = ServerEvent::new(vec![json!("hello"), json!("bob")], Some(ack_tx)).unwrap();
    io.of("/").dispatch_server_event(event);
    let answer = support::within("the answer", ack_rx).await.unwrap();
    assert_eq!(answer, json!("hi bob"));
    assert_eq!(seen.recv().await.unwrap(), ("bob".to_owned(), true));

    // Without an ack, and for an event nobody handles.
    let event = ServerEvent::new(vec![json!("hello"), json!("ann")], None).unwrap();
    io.of("/").dispatch_server_event(event);
    assert_eq!(seen.recv().await.unwrap(), ("ann".to_owned(), false));
    let (ack_tx, ack_rx) = oneshot::channel();
    io.of("/")
        .dispatch_server_event(ServerEvent::new(vec![json!("other")], Some(ack_tx)).unwrap());
    assert!(ack_rx.await.is_err());
}

#[test]
fn an_event_needs_a_name() {
    assert!(ServerEvent::new(vec![], None).is_none());
    assert!(ServerEvent::new(vec![json!(1)], None).is_none());
}
