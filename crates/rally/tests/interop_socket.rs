//! The official `socket.io-client` 4.8.4 against Rally, in each transport
//! mode (interop/socket-client.mjs), with the default parser and with
//! socket.io-msgpack-parser 3.0.2 on both sides.

use rally::Parser;
use rally_testkit::{interop, node};

async fn scenario(name: &str, mode: &str, parser: Parser) {
    let io = interop::serve_protocol(interop::lenient().parser(parser));
    let (url, _io) = interop::start_server(io).await;
    node::run("socket-client.mjs", &[name, mode, &url, parser.as_str()]).await;
}

macro_rules! interop {
    ($($test:ident => $name:literal),* $(,)?) => {
        mod polling { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $test() { super::scenario($name, "polling", rally::Parser::Json).await } )* }
        mod websocket { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $test() { super::scenario($name, "websocket", rally::Parser::Json).await } )* }
        mod upgrade { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $test() { super::scenario($name, "upgrade", rally::Parser::Json).await } )* }
        mod msgpack_polling { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $test() { super::scenario($name, "polling", rally::Parser::MsgPack).await } )* }
        mod msgpack_websocket { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $test() { super::scenario($name, "websocket", rally::Parser::MsgPack).await } )* }
        mod msgpack_upgrade { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $test() { super::scenario($name, "upgrade", rally::Parser::MsgPack).await } )* }
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
