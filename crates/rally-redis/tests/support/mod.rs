//! What the cluster tests share: a real `redis-server` on a free port, Rally
//! nodes on it, and the Node.js driver (`interop/redis-cluster.mjs`) with
//! official clients, a Node.js node and the emitter.
//!
//! Every wait has a deadline; nothing sleeps to decide an outcome.

#![allow(dead_code, unreachable_pub)]

pub mod recovery;

use std::{net::SocketAddr, path::PathBuf, process::Stdio, time::Duration};

use rally::Server;
use rally_redis::{Mode, RedisAdapter, RedisConfig};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    process::{Child, ChildStdin, Command},
    sync::mpsc,
};

/// How long any one expected step may take.
pub const DEADLINE: Duration = Duration::from_secs(20);

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A `redis-server` of its own: a free port, a temporary directory, no
/// persistence; killed on drop.
pub struct RedisServer {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts one (Debian's `redis-server`: `scripts/test.sh` installs it).
    pub async fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("rally-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut server = Self {
            port,
            dir,
            child: None,
        };
        server.spawn().await;
        server
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server runs (apt-get install redis-server; scripts/test.sh does it)");
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)).await {
                let _ = stream.write_all(b"PING\r\n").await;
                let mut buf = [0u8; 7];
                if stream.read_exact(&mut buf).await.is_ok() && &buf == b"+PONG\r\n" {
                    return;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "redis-server did not start"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills it (connections drop at once).
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts it again on the same port.
    pub async fn restart(&mut self) {
        self.kill().await;
        self.spawn().await;
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Rally node on the cluster, serving on a free port (namespaces `/` and
/// `/admin`). Its sockets get
/// `data = {name}` and join `rooms` from their auth; it answers the
/// server-side event `hello` with `ack-from-<port>`.
pub struct RallyNode {
    pub io: Server,
    pub addr: SocketAddr,
    pub redis: RedisAdapter,
}

impl RallyNode {
    pub async fn start(url: &str, mode: Mode) -> Self {
        Self::start_with(url, RedisConfig::new().mode(mode)).await
    }

    pub async fn start_with(url: &str, config: RedisConfig) -> Self {
        let redis = RedisAdapter::connect(url, config).await.unwrap();
        let io = Server::builder().adapter(redis.factory()).build();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
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
        // Answers "hello" with its tag; without an ack asked, tells its own
        // clients what it got (so a test can see it).
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
        Self { io, addr, redis }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits until Redis counts `n` nodes on the main namespace.
    pub async fn wait_for_nodes(&self, n: usize) {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            if self.io.of("/").adapter().server_count().await == n {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "never saw {n} nodes"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The Node.js side: `node interop/redis-cluster.mjs <redisUrl>`.
pub struct Driver {
    stdin: ChildStdin,
    lines: mpsc::UnboundedReceiver<Value>,
    seen: Vec<Value>,
    next_id: u64,
    _child: Child,
}

impl Driver {
    pub async fn start(redis_url: &str) -> Self {
        let interop = repo_root().join("interop");
        assert!(
            interop.join("node_modules").is_dir(),
            "interop/node_modules is missing: run `bash scripts/test.sh` (or `cd interop && npm ci`)"
        );
        let mut child = Command::new("node")
            .arg(interop.join("redis-cluster.mjs"))
            .arg(redis_url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                match serde_json::from_str(&line) {
                    Ok(value) => {
                        if tx.send(value).is_err() {
                            return;
                        }
                    }
                    Err(_) => eprintln!("driver: {line}"),
                }
            }
        });
        Self {
            stdin,
            lines,
            seen: Vec::new(),
            next_id: 0,
            _child: child,
        }
    }

    pub async fn send(&mut self, command: Value) {
        let mut line = command.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await.unwrap();
    }

    /// The first line (seen before or coming) that `matches`, taken out.
    pub async fn expect(&mut self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.seen.iter().position(&matches) {
            return self.seen.remove(i);
        }
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(line)) if matches(&line) => return line,
                Ok(Some(line)) => {
                    assert!(line.get("error").is_none(), "driver error: {line}");
                    self.seen.push(line);
                }
                Ok(None) => panic!("the driver exited while waiting for {what}"),
                Err(_) => panic!(
                    "timed out waiting for {what}; lines so far: {:#?}",
                    self.seen
                ),
            }
        }
    }

    /// Connects client `name` to `url`, in `rooms`; its socket id.
    pub async fn client(&mut self, name: &str, url: &str, rooms: &[&str]) -> String {
        self.send(json!({"cmd": "client", "name": name, "url": url, "rooms": rooms}))
            .await;
        let line = self
            .expect(&format!("client {name} connected"), |l| {
                l["ok"] == "client" && l["name"] == name
            })
            .await;
        line["id"].as_str().unwrap().to_owned()
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
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        let got: Vec<_> = self.seen.iter().filter(|l| l["event"] == event).collect();
        assert!(got.is_empty(), "unexpected {event}: {got:?}");
    }

    /// Every line seen so far (and not taken).
    pub fn seen_events(&mut self) -> Vec<Value> {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        self.seen.clone()
    }

    /// Starts the Node.js node; its URL.
    pub async fn serve(&mut self, mode: &str) -> String {
        self.send(json!({"cmd": "serve", "port": 0, "mode": mode}))
            .await;
        let line = self
            .expect("the node.js node", |l| l["ok"] == "serve")
            .await;
        format!("http://127.0.0.1:{}", line["port"])
    }

    /// Runs an operation on the Node.js node (or, with `cmd` "emitter",
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

    pub async fn op(&mut self, op: Value) -> Value {
        self.run("op", op).await
    }

    pub async fn emitter(&mut self, op: Value) -> Value {
        self.run("emitter", op).await
    }
}
