//! Cluster tests' pieces: Rally nodes on a Redis (or any) adapter, and the
//! Node.js side of a mixed cluster (`interop/redis-cluster.mjs`: official
//! clients, a Node.js socket.io node with the official Redis or Postgres
//! adapters, the emitters).

use std::{net::SocketAddr, sync::Arc};

use rally::{
    Parser, Server,
    adapter::{Adapter, AdapterContext},
};
use rally_redis::{Mode, RedisAdapter, RedisConfig};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::{eventually, node::JsonLines};

/// A Rally node on the cluster, serving on a free port (namespaces `/` and
/// `/admin`). Its sockets get `data = {name}` and join `rooms` from their
/// auth; it answers the server-side event `hello` with `ack-from-<port>`,
/// and without an ack asked tells its own clients (`got-hello`).
#[derive(Debug)]
pub struct RallyNode {
    /// The server.
    pub io: Server,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its adapter.
    pub redis: RedisAdapter,
}

impl RallyNode {
    /// A node on the Redis at `url`, in adapter mode `mode`.
    pub async fn start(url: &str, mode: Mode) -> Self {
        Self::start_with(url, RedisConfig::new().mode(mode)).await
    }

    /// A node on the Redis at `url` with the adapter configuration `config`.
    pub async fn start_with(url: &str, config: RedisConfig) -> Self {
        Self::start_parsed(url, config, Parser::Json).await
    }

    /// A node on the Redis at `url` with the adapter configuration `config`
    /// whose clients use `parser`.
    pub async fn start_parsed(url: &str, config: RedisConfig, parser: Parser) -> Self {
        let redis = RedisAdapter::connect(url, config)
            .await
            .expect("the adapter connects");
        let (io, addr) = serve_node(redis.factory(), parser).await;
        Self { io, addr, redis }
    }

    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The `name`s (from their data) of the sockets of the whole cluster in
    /// `room` (every socket when `None`), sorted.
    pub async fn names(&self, room: Option<&str>) -> Vec<String> {
        names(&self.io, room).await
    }

    /// Waits until the adapter counts `n` nodes on the main namespace.
    pub async fn wait_for_nodes(&self, n: usize) {
        wait_for_nodes(&self.io, n).await;
    }
}

/// Serves a cluster test node on a free port with the adapters `factory`
/// makes (namespaces `/` and `/admin`, as [`RallyNode`] describes), its
/// clients using `parser`.
pub async fn serve_node(
    factory: impl Fn(AdapterContext) -> Arc<dyn Adapter> + Send + Sync + 'static,
    parser: Parser,
) -> (Server, SocketAddr) {
    let io = Server::builder().adapter(factory).parser(parser).build();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("a local address");
    let tag = format!("ack-from-{}", addr.port());
    for nsp in ["/", "/admin"] {
        io.of(nsp).on_connection(|socket| async move {
            let auth: Value = socket.auth().unwrap_or(Value::Null);
            let _ = socket.set_data(&json!({"name": auth["name"]}));
            for room in auth["rooms"].as_array().into_iter().flatten() {
                if let Some(room) = room.as_str() {
                    socket.join(room);
                }
            }
        });
    }
    let main = io.of("/");
    io.of("/").on_server_event("hello", move |mut event| {
        let tag = tag.clone();
        let main = main.clone();
        async move {
            if event.has_ack() {
                event.ack(&tag);
            } else {
                let _ = main
                    .broadcast()
                    .local()
                    .emit("got-hello", &event.args().to_vec());
            }
        }
    });
    tokio::spawn(rally::serve(listener, io.clone()));
    (io, addr)
}

/// The `name`s (from their data) of the sockets of the whole cluster in
/// `room` (every socket when `None`), sorted.
pub async fn names(io: &Server, room: Option<&str>) -> Vec<String> {
    let op = match room {
        Some(room) => io.to(room),
        None => io.broadcast(),
    };
    let mut names: Vec<String> = op
        .fetch_sockets()
        .await
        .expect("fetch_sockets answers")
        .iter()
        .filter_map(|s| s.data::<Value>()?["name"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// Waits until the adapter of `io` counts `n` nodes on the main namespace.
pub async fn wait_for_nodes(io: &Server, n: usize) {
    eventually(&format!("{n} nodes"), || async move {
        io.of("/").adapter().server_count().await == n
    })
    .await;
}

/// The Node.js side: `node interop/redis-cluster.mjs <redisUrl>`, driven by
/// JSON commands.
#[derive(Debug)]
pub struct Driver {
    lines: JsonLines,
    next_id: u64,
    parser: Parser,
}

impl Driver {
    /// Starts the driver on the Redis at `redis_url`.
    pub async fn start(redis_url: &str) -> Self {
        Self::start_parsed(redis_url, Parser::Json).await
    }

    /// Starts the driver on the Redis at `redis_url`; its clients and its
    /// Node.js node use `parser`.
    pub async fn start_parsed(redis_url: &str, parser: Parser) -> Self {
        Self {
            lines: JsonLines::start("redis-cluster.mjs", &[redis_url]),
            next_id: 0,
            parser,
        }
    }

    /// Sends one command.
    pub async fn send(&mut self, command: Value) {
        self.lines.send(&command).await;
    }

    /// The first line (seen before or coming) that `matches`, taken out.
    pub async fn expect(&mut self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        self.lines.expect(what, matches).await
    }

    /// Connects client `name` to `url`, in `rooms`; its socket id.
    pub async fn client(&mut self, name: &str, url: &str, rooms: &[&str]) -> String {
        let parser = self.parser.as_str();
        self.send(
            json!({"cmd": "client", "name": name, "url": url, "rooms": rooms, "parser": parser}),
        )
        .await;
        let line = self
            .expect(&format!("client {name} connected"), |l| {
                l["ok"] == "client" && l["name"] == name
            })
            .await;
        line["id"].as_str().expect("a socket id").to_owned()
    }

    /// Waits for client `client` to get event `event`; its arguments.
    pub async fn event(&mut self, client: &str, event: &str) -> Value {
        self.expect(&format!("{event} at {client}"), |l| {
            l["event"] == event && l["client"] == client
        })
        .await["args"]
            .clone()
    }

    /// Checks that no client got `event` so far (call after a later event
    /// that proves the earlier one had its chance).
    pub fn none_yet(&mut self, event: &str) {
        let got: Vec<_> = self
            .lines
            .drain()
            .into_iter()
            .filter(|l| l["event"] == event)
            .collect();
        assert!(got.is_empty(), "unexpected {event}: {got:?}");
    }

    /// Every line seen so far (and not taken).
    pub fn seen_events(&mut self) -> Vec<Value> {
        self.lines.drain()
    }

    /// Starts the Node.js node in adapter mode `mode`; its URL.
    pub async fn serve(&mut self, mode: &str) -> String {
        let parser = self.parser.as_str();
        self.send(json!({"cmd": "serve", "port": 0, "mode": mode, "parser": parser}))
            .await;
        let line = self
            .expect("the node.js node", |l| l["ok"] == "serve")
            .await;
        format!("http://127.0.0.1:{}", line["port"])
    }

    /// Runs an operation on the Node.js node (or, with `cmd` `emitter`,
    /// through the emitter); its result.
    pub async fn run(&mut self, cmd: &str, mut op: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        op["cmd"] = json!(cmd);
        op["id"] = json!(id);
        self.send(op.clone()).await;
        let line = self
            .expect(&format!("the answer to {op}"), |l| l["id"] == id)
            .await;
        assert!(line.get("error").is_none(), "{op} failed: {line}");
        line["result"].clone()
    }

    /// [`run`](Self::run) on the Node.js node.
    pub async fn op(&mut self, op: Value) -> Value {
        self.run("op", op).await
    }

    /// [`run`](Self::run) through the emitter.
    pub async fn emitter(&mut self, op: Value) -> Value {
        self.run("emitter", op).await
    }
}
