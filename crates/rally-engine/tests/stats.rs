//! The engine's counters, and a graceful shutdown of `serve_with_shutdown`.

mod common;

use std::time::Duration;

use common::*;
use rally_engine::{CloseReason, EngineIo, Handler, Message, Session};
use std::sync::Arc;
use tokio::net::TcpListener;

#[tokio::test]
async fn stats_count_handshakes_upgrades_packets_and_closes() {
    let mut server = TestServer::start(quiet_config()).await;
    let polling = server.open_polling().await;
    let (mut ws, ws_session, _) = server.open_websocket().await;
    let stats = server.engine.stats();
    assert_eq!(
        (stats.handshakes_polling, stats.handshakes_websocket),
        (1, 1)
    );
    assert_eq!((stats.open_polling, stats.open_websocket), (1, 1));

    polling.post_ok(b"4hello").await;
    server.expect_text("hello").await;
    ws_send_text(&mut ws, "4hi").await;
    server.expect_text("hi").await;
    assert_eq!(ws_expect_text(&mut ws).await, "4hi");
    let stats = server.engine.stats();
    assert_eq!((stats.packets_in, stats.bytes_in), (2, 7));
    // Echoes: "4hello" and "4hi" frames.
    assert!(stats.packets_out >= 2 && stats.bytes_out >= 9, "{stats:?}");

    ws_session.close();
    assert_eq!(server.expect_close().await, CloseReason::ForcedClose);
    let stats = server.engine.stats();
    assert_eq!((stats.open_polling, stats.open_websocket), (1, 0));
    let forced = stats
        .closes
        .iter()
        .find(|(r, _)| *r == CloseReason::ForcedClose);
    assert_eq!(forced, Some(&(CloseReason::ForcedClose, 1)));
}

struct Quiet;

impl Handler for Quiet {
    fn on_open(&self, _session: &Arc<Session>) {}
    fn on_message(&self, _session: &Arc<Session>, _message: Message) {}
}

#[tokio::test]
async fn serve_with_shutdown_stops_accepting_and_finishes_held_polls() {
    let engine = EngineIo::new(quiet_config(), Quiet);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(rally_engine::serve_with_shutdown(
        listener,
        engine.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    let http = Http { addr };
    let open = http.get("/engine.io/?EIO=4&transport=polling").await;
    let sid = open_sid(open.text());
    let held = {
        let target = polling_target(&sid);
        tokio::spawn(async move { Http { addr }.get(&target).await })
    };
    settle().await;
    stop.send(()).expect("the server listens");
    engine.close_all(CloseReason::ServerShuttingDown);
    assert_eq!(finish(held).await.assert_poll(), "1");
    within("serve_with_shutdown to return", served)
        .await
        .expect("the serve task")
        .expect("serve ends cleanly");
    let refused =
        tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr)).await;
    assert!(
        matches!(refused, Ok(Err(_))),
        "still accepting after shutdown"
    );
}

#[tokio::test]
async fn dropping_serve_ends_its_connections() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let engine = EngineIo::new(quiet_config(), Quiet);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let served = tokio::spawn(rally_engine::serve(listener, engine));
    let open = Http { addr }
        .get("/engine.io/?EIO=4&transport=polling")
        .await;
    let sid = open_sid(open.text());
    // A connection the server is serving (a POST answered on it), then a
    // long poll on it that the server holds (the ping is 20 s away).
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let target = polling_target(&sid);
    let post = format!("POST {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n4x");
    stream.write_all(post.as_bytes()).await.expect("write");
    let mut buf = vec![0; 4096];
    let n = stream.read(&mut buf).await.expect("the POST reply");
    assert!(
        buf[..n].ends_with(b"ok"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    let get = format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n");
    stream.write_all(get.as_bytes()).await.expect("write");
    settle().await;

    served.abort();
    let ended = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await;
    assert!(
        matches!(ended, Ok(Ok(0) | Err(_))),
        "the held poll outlived the dropped serve future: {ended:?}"
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still accepting"
    );
}
