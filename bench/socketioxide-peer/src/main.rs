//! socketioxide peer for rally-bench. Usage: `socketioxide-peer PORT [current|multi]`
//! (the tokio runtime: multi-threaded, as `#[tokio::main]` builds it, unless `current`).
//!
//! The bench protocol: namespace `/`; `echo` is acked with its own argument;
//! `join(room)` joins the room and is acked with the room; `bcast(room, payload)`
//! emits `bcast(payload)` to every socket in the room (the sender included).

use hyper_util::rt::TokioIo;
use serde_json::Value;
use socketioxide::{
    SocketIo,
    extract::{AckSender, Data, SocketRef},
};
use tokio::net::TcpListener;

fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("usage: socketioxide-peer PORT [current|multi]");
    let mut runtime = match std::env::args().nth(2).as_deref() {
        Some("current") => tokio::runtime::Builder::new_current_thread(),
        None | Some("multi") => tokio::runtime::Builder::new_multi_thread(),
        Some(other) => panic!("unknown runtime {other}: current or multi"),
    };
    runtime
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(serve(port));
}

async fn serve(port: u16) {
    let (svc, io) = SocketIo::new_svc();
    let io2 = io.clone();
    io.ns("/", async move |socket: SocketRef| {
        socket.on("echo", async |Data(data): Data<Value>, ack: AckSender| {
            let _ = ack.send(&data);
        });
        socket.on(
            "join",
            async |socket: SocketRef, Data(room): Data<String>, ack: AckSender| {
                socket.join(room.clone());
                let _ = ack.send(&room);
            },
        );
        let io = io2.clone();
        socket.on(
            "bcast",
            async move |Data((room, payload)): Data<(String, Value)>| {
                let _ = io.to(room).emit("bcast", &payload).await;
            },
        );
    });
    let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
    println!("listening {port}");
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let _ = stream.set_nodelay(true);
        let svc = svc.clone();
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades()
                .await;
        });
    }
}
