//! The official `socket.io-client` 4.8.4 against Rally, in each transport
//! mode (interop/socket-client.mjs).

use rally_testkit::{interop, node};

async fn scenario(name: &str, mode: &str) {
    let (url, _io) = interop::start().await;
    node::run("socket-client.mjs", &[name, mode, &url]).await;
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
