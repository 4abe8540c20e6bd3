//! Shared state, the axum way: `ServerBuilder::state` and `Socket::state`
//! from connection, event and disconnect handlers.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};

use support::{TestServer, channel, quiet};

struct App {
    greeting: String,
}

struct Visits(AtomicUsize);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_reach_the_states_set_on_the_builder() {
    let io = quiet()
        .state(App {
            greeting: "hi".into(),
        })
        .state(Visits(AtomicUsize::new(0)))
        .build();
    io.of("/").on_connection(|socket| async move {
        let app = socket.state::<App>().expect("set on the builder");
        let _ = socket.emit("welcome", &app.greeting);
        // A type never set is not there.
        let _ = socket.emit("missing", &socket.state::<String>().is_none());
    });
    io.of("/").on("visit", |socket, mut event| async move {
        let visits = socket.state::<Visits>().expect("set on the builder");
        let n = visits.0.fetch_add(1, Ordering::SeqCst) + 1;
        let _ = event.ack(&n);
    });
    let (tx, mut left) = channel();
    io.of("/").on_disconnect(move |socket, _reason| {
        let tx = tx.clone();
        async move {
            let visits = socket.state::<Visits>().map(|v| v.0.load(Ordering::SeqCst));
            let _ = tx.send(visits);
        }
    });
    let server = TestServer::start(io).await;
    assert_eq!(server.io.state::<App>().unwrap().greeting, "hi");

    let (mut a, mut b) = (server.client().await, server.client().await);
    for client in [&mut a, &mut b] {
        client.send("40").await;
        client.expect_connected("/").await;
        client.expect(r#"42["welcome","hi"]"#).await;
        client.expect(r#"42["missing",true]"#).await;
    }
    a.send(r#"421["visit"]"#).await;
    a.expect("431[1]").await;
    b.send(r#"427["visit"]"#).await;
    b.expect("437[2]").await;
    a.send("41").await;
    assert_eq!(left.recv().await, Some(2));
    b.sync().await;
}

#[test]
fn a_state_set_twice_keeps_the_last_value() {
    let io = quiet().state(1_u32).state(2_u32).state("text").build();
    assert_eq!(io.state::<u32>(), Some(&2));
    assert_eq!(io.state::<&str>(), Some(&"text"));
    assert_eq!(io.state::<u64>(), None);
}
