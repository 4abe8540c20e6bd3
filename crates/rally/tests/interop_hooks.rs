//! The engine hooks as the official `socket.io-client` 4.8.4 sees them
//! (interop/hooks-client.mjs): cookies set on the handshake reply come back
//! on the later requests, the WebSocket upgrade included; a request
//! `allow_request` refuses is a `connect_error` for the client and a
//! `connection_error` for the server.

use std::sync::{Arc, Mutex};

use http::HeaderValue;
use rally::{Cookie, Refusal, Server};
use rally_testkit::{interop, node};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_of_the_handshake_reply_come_back_on_every_later_request() {
    // (transport, the request's Cookie header) of each request of a session.
    let seen = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let log = seen.clone();
    let io = Server::builder()
        .cookie(Cookie::default().name("sticky"))
        .on_initial_headers(|headers, _| {
            headers.append("set-cookie", HeaderValue::from_static("hook=initial"));
        })
        .on_headers(move |_, req| {
            let query = req.uri.query().unwrap_or_default();
            if query.contains("sid=") {
                let transport = if query.contains("transport=websocket") {
                    "websocket"
                } else {
                    "polling"
                };
                let cookie = req
                    .headers
                    .get("cookie")
                    .map_or("", |c| c.to_str().unwrap_or(""));
                log.lock()
                    .unwrap()
                    .push((transport.to_owned(), cookie.to_owned()));
            }
        })
        .build();
    io.of("/").on("ping", |_socket, mut event| async move {
        let _ = event.ack("pong");
    });
    let (url, _io) = interop::start_server(io).await;
    node::run("hooks-client.mjs", &["cookies", &url]).await;

    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter().any(|(transport, _)| transport == "websocket"),
        "{seen:?}"
    );
    for (transport, cookie) in &seen {
        let cookies: Vec<_> = cookie.split(';').map(str::trim).collect();
        assert!(cookies.contains(&"hook=initial"), "{transport}: {cookie:?}");
        assert!(
            cookies.iter().any(|c| c.starts_with("sticky=")),
            "{transport}: {cookie:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_handshake_is_a_connect_error_and_a_connection_error() {
    let refusals = Arc::new(Mutex::new(Vec::new()));
    let log = refusals.clone();
    let io = Server::builder()
        .allow_request_async(|req| {
            let allowed = req.uri.query().is_some_and(|q| q.contains("token=ok"));
            async move {
                if allowed {
                    Ok(())
                } else {
                    Err("no token".into())
                }
            }
        })
        .on_connection_error(move |err| {
            log.lock()
                .unwrap()
                .push((err.code, err.reason, err.message.to_owned()));
        })
        .build();
    let (url, _io) = interop::start_server(io).await;
    node::run("hooks-client.mjs", &["refused", &url]).await;
    assert_eq!(
        *refusals.lock().unwrap(),
        [(4, Refusal::Forbidden, "no token".to_owned())]
    );
}
