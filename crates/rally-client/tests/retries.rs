//! At-least-once delivery (`retries`) and the default time limit on answers
//! (`ack_timeout`), against a Rally server of this file that answers only
//! some tries, on each transport; and the queue against the test servers
//! (Rally and the official Node.js server), which answer every try.

mod common;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use common::{Client, Kind, Mode, TestServer, within};
use rally_client::{AckError, Args, ManagerBuilder, Socket};
use serde_json::json;

/// The tries the server saw, in order: the key and its try number.
type Log = Arc<Mutex<Vec<(String, u32)>>>;

/// A server whose events take a key and count the tries of each key:
/// - `flaky` (key, n) answers `[key, try]` from the n-th try on;
/// - `drop` (key, n) closes the connection on the tries before the n-th,
///   answers from the n-th on;
/// - `silent` never answers.
async fn flaky_server() -> (String, Log) {
    let log = Log::default();
    let io = rally::Server::builder().build();
    let root = io.of("/");
    let counts: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let try_of = {
        let log = log.clone();
        move |key: &str| {
            let mut counts = counts.lock().expect("the counts");
            let n = counts.entry(key.to_owned()).or_default();
            *n += 1;
            log.lock().expect("the log").push((key.to_owned(), *n));
            *n
        }
    };
    let count = try_of.clone();
    root.on("flaky", move |_socket, mut event| {
        let key: String = event.arg(0).unwrap_or_default();
        let answer_on: u32 = event.arg(1).unwrap_or_default();
        let n = count(&key);
        async move {
            if n >= answer_on {
                let _ = event.ack(&json!([key, n]));
            }
        }
    });
    let count = try_of.clone();
    root.on("drop", move |socket, mut event| {
        let key: String = event.arg(0).unwrap_or_default();
        let answer_on: u32 = event.arg(1).unwrap_or_default();
        let n = count(&key);
        async move {
            if n < answer_on {
                if let Some(session) = socket.session() {
                    session.close();
                }
            } else {
                let _ = event.ack(&json!([key, n]));
            }
        }
    });
    root.on("silent", |_socket, _event| async {});
    let (url, _io) = rally_testkit::interop::start_server(io).await;
    (url, log)
}

async fn connected(
    url: &str,
    mode: Mode,
    options: impl FnOnce(ManagerBuilder) -> ManagerBuilder,
) -> (Client, Socket, common::Recorder) {
    let client = Client::with(url, mode, options);
    let (socket, rec) = client.socket("/");
    within("connect", socket.connect()).await.expect("connects");
    (client, socket, rec)
}

fn flaky(key: &str, answer_on: u32) -> Args {
    Args::new().arg(&key).arg(&answer_on)
}

fn tries(log: &Log) -> Vec<(String, u32)> {
    log.lock().expect("the log").clone()
}

fn seen(keys: &[(&str, u32)]) -> Vec<(String, u32)> {
    keys.iter().map(|&(k, n)| (k.to_owned(), n)).collect()
}

async fn retried_until_answered(mode: Mode) {
    let (url, log) = flaky_server().await;
    let (_client, socket, _rec) = connected(&url, mode, |b| {
        b.retries(3).ack_timeout(Duration::from_millis(200))
    })
    .await;
    let reply = within("the answer", socket.emit_with_ack("flaky", flaky("a", 3)))
        .await
        .expect("answered on the third try");
    assert_eq!(
        reply.arg::<(String, u32)>(0).expect("[key, try]"),
        ("a".into(), 3)
    );
    assert_eq!(tries(&log), seen(&[("a", 1), ("a", 2), ("a", 3)]));
}

async fn gives_up_after_the_retries(mode: Mode) {
    let (url, log) = flaky_server().await;
    let (_client, socket, _rec) = connected(&url, mode, |b| {
        b.retries(2).ack_timeout(Duration::from_millis(150))
    })
    .await;
    let given_up = within("the failure", socket.emit_with_ack("flaky", flaky("b", 10))).await;
    assert_eq!(given_up.unwrap_err(), AckError::Timeout);
    // The next emit goes out once the first was dropped, after 1 + 2 tries.
    within("the next", socket.emit_with_ack("flaky", flaky("c", 1)))
        .await
        .expect("answered");
    assert_eq!(tries(&log), seen(&[("b", 1), ("b", 2), ("b", 3), ("c", 1)]));
}

async fn one_at_a_time_in_order(mode: Mode) {
    let (url, log) = flaky_server().await;
    let (_client, socket, _rec) = connected(&url, mode, |b| {
        b.retries(3).ack_timeout(Duration::from_millis(150))
    })
    .await;
    // Plain emits go through the queue too, with an acknowledgement each.
    socket.emit("flaky", flaky("x", 2)).expect("emits");
    socket.emit("flaky", flaky("y", 1)).expect("emits");
    let last = socket.emit_with_ack("flaky", flaky("z", 2));
    within("the last answer", last).await.expect("answered");
    assert_eq!(
        tries(&log),
        seen(&[("x", 1), ("x", 2), ("y", 1), ("z", 1), ("z", 2)])
    );
}

async fn kept_across_reconnections(mode: Mode) {
    let (url, log) = flaky_server().await;
    let (mut client, socket, mut rec) = connected(&url, mode, |b| b.retries(1)).await;
    // Without a time limit, a try lost with its connection is made again on
    // the next one, and does not count.
    let answer = socket.emit_with_ack("drop", flaky("k", 2));
    rec.disconnected().await;
    // While disconnected: queued, except volatile emits, which are dropped
    // (and skip the queue).
    socket.emit("flaky", flaky("queued", 1)).expect("emits");
    socket
        .volatile()
        .emit("flaky", flaky("lost", 1))
        .expect("emits");
    client.reconnected().await;
    let reply = within("the answer", answer).await.expect("answered");
    assert_eq!(
        reply.arg::<(String, u32)>(0).expect("[key, try]"),
        ("k".into(), 2)
    );
    within(
        "a barrier",
        socket.emit_with_ack("flaky", flaky("barrier", 1)),
    )
    .await
    .expect("answered");
    assert_eq!(
        tries(&log),
        seen(&[("k", 1), ("k", 2), ("queued", 1), ("barrier", 1)])
    );
}

async fn a_lost_try_with_a_time_limit_fails(mode: Mode) {
    let (url, log) = flaky_server().await;
    let (mut client, socket, mut rec) = connected(&url, mode, |b| {
        b.retries(1).ack_timeout(Duration::from_secs(10))
    })
    .await;
    // The first try fails with its connection; the second, on the next
    // connection, is answered.
    let answer = socket.emit_with_ack("drop", flaky("t", 2));
    rec.disconnected().await;
    let reply = within("the answer", answer).await.expect("answered");
    assert_eq!(
        reply.arg::<(String, u32)>(0).expect("[key, try]"),
        ("t".into(), 2)
    );
    // Two lost tries: the retry is spent, the emit fails.
    let answer = socket.emit_with_ack("drop", flaky("u", 3));
    rec.disconnected().await;
    rec.disconnected().await;
    let failed = within("the failure", answer).await;
    assert_eq!(failed.unwrap_err(), AckError::Disconnected);
    client.reconnected().await;
    within("a barrier", socket.emit_with_ack("flaky", flaky("end", 1)))
        .await
        .expect("answered");
    assert_eq!(
        tries(&log),
        seen(&[("t", 1), ("t", 2), ("u", 1), ("u", 2), ("end", 1)])
    );
}

async fn ack_timeout_alone(mode: Mode) {
    let (url, log) = flaky_server().await;
    let (_client, socket, _rec) =
        connected(&url, mode, |b| b.ack_timeout(Duration::from_millis(200))).await;
    let silent = within("the timeout", socket.emit_with_ack("silent", ())).await;
    assert_eq!(silent.unwrap_err(), AckError::Timeout);
    // No retry: the event went out once, and the next emits go at once.
    let answered = socket.emit_with_ack("flaky", flaky("once", 1));
    let slow = socket.emit_with_ack("flaky", flaky("never", 2));
    within("the answer", answered).await.expect("answered");
    let slow = within("the timeout", slow).await;
    assert_eq!(slow.unwrap_err(), AckError::Timeout);
    // A per-emit time limit wins over the default.
    let own = socket
        .timeout(Duration::from_secs(10))
        .emit_with_ack("flaky", flaky("own", 1));
    within("the answer", own).await.expect("answered");
    assert_eq!(tries(&log), seen(&[("once", 1), ("never", 1), ("own", 1)]));
}

async fn queued_with_the_test_servers(kind: Kind, mode: Mode) {
    let server = TestServer::start(kind).await;
    let (_client, socket, mut rec) = connected(&server.url(), mode, |b| {
        b.retries(2).ack_timeout(Duration::from_secs(5))
    })
    .await;
    rec.event("auth").await;
    let answers: Vec<_> = (0..10)
        .map(|i| socket.emit_with_ack("message-with-ack", &i))
        .collect();
    for (i, answer) in answers.into_iter().enumerate() {
        let reply = within("an answer", answer).await.expect("answered");
        assert_eq!(reply.arg::<usize>(0).expect("a number"), i);
    }
    // Volatile emits skip the queue: this one needs no answer.
    socket.volatile().emit("message", "direct").expect("emits");
    assert_eq!(rec.event("message-back").await, [json!("direct")]);
}

each_server_and_mode!(queued_with_the_test_servers);

macro_rules! each_mode {
    ($($test:ident),* $(,)?) => {
        mod polling { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $test() { super::$test(super::Mode::Polling).await } )* }
        mod websocket { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $test() { super::$test(super::Mode::WebSocket).await } )* }
        mod upgrade { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $test() { super::$test(super::Mode::Upgrade).await } )* }
    };
}

each_mode!(
    retried_until_answered,
    gives_up_after_the_retries,
    one_at_a_time_in_order,
    kept_across_reconnections,
    a_lost_try_with_a_time_limit_fails,
    ack_timeout_alone,
);
