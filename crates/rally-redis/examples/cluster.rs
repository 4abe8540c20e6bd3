//! A cluster node: run it twice on one Redis (and Node.js socket.io nodes
//! with @socket.io/redis-adapter too, if you like); a client of either
//! node reaches the clients of both.
//!
//! ```text
//! redis-server --port 6379 &
//! cargo run -p rally-redis --example cluster -- 3000 redis://127.0.0.1:6379
//! cargo run -p rally-redis --example cluster -- 3001 redis://127.0.0.1:6379
//! cargo run -p rally-cli -- connect http://127.0.0.1:3000    # type: shout ["hi"]
//! cargo run -p rally-cli -- connect http://127.0.0.1:3001    # sees it
//! ```

use rally::Server;
use rally_redis::{RedisAdapter, RedisConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(3000);
    let url = args
        .next()
        .unwrap_or_else(|| "redis://127.0.0.1:6379".into());
    let redis = RedisAdapter::connect(&url, RedisConfig::new()).await?;
    let io = Server::builder().adapter(redis.factory()).build();
    io.of("/").on_connection(|socket| async move {
        // Reaches every client of every node (io.emit in Node).
        socket.on("shout", |socket, event| async move {
            let _ = socket.ns().emit("shout", event.to_args());
        });
        // How many sockets the whole cluster holds.
        socket.on("count", |socket, mut event| async move {
            let sockets = socket.ns().fetch_sockets().await.unwrap_or_default();
            let _ = event.ack(&sockets.len());
        });
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("node on http://127.0.0.1:{port}, cluster on {url}");
    rally::serve(listener, io).await?;
    Ok(())
}
