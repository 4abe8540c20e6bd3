//! Socket.IO v2 clients: the official socket.io-client 2.5.0 (Engine.IO
//! protocol 3, Socket.IO protocol 4) against Rally with `allow_eio3`, in
//! each transport mode (interop/socket-client-v2.mjs), a v4 client beside
//! it in the rooms scenario. Without `allow_eio3` a v2 client is refused.

use rally_testkit::{http::Http, interop, node};

async fn scenario(name: &str, mode: &str) {
    let io = interop::serve_protocol(interop::lenient().allow_eio3(true));
    let (url, _io) = interop::start_server(io).await;
    node::run("socket-client-v2.mjs", &[name, mode, &url]).await;
}

macro_rules! interop {
    ($($test:ident => $name:literal),* $(,)?) => {
        mod polling { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $test() { super::scenario($name, "polling").await } )* }
        mod websocket { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $test() { super::scenario($name, "websocket").await } )* }
        mod upgrade { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $test() { super::scenario($name, "upgrade").await } )* }
    };
}

interop! {
    connect => "connect",
    namespaces => "namespaces",
    events => "events",
    acks => "acks",
    binary => "binary",
    rooms => "rooms",
    connect_error => "connect-error",
    server_disconnect => "server-disconnect",
    reconnect => "reconnect",
}

#[tokio::test]
async fn without_allow_eio3_a_v2_client_is_refused() {
    let (url, _io) = interop::start().await;
    let addr = url
        .trim_start_matches("http://")
        .parse()
        .expect("an address");
    for target in [
        "/socket.io/?EIO=3&transport=polling",
        "/socket.io/?transport=polling",
    ] {
        Http::new(addr)
            .get(target)
            .await
            .assert_error(400, 5, "Unsupported protocol version");
    }
}
