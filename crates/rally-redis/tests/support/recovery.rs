//! What the recovery tests share: a TCP proxy whose target can change (a
//! client that drops on one node comes back on another through it), the
//! official client driven by `interop/recovery-client.mjs`, and Rally nodes
//! in streams mode with connection state recovery.

use std::{
    net::SocketAddr,
    process::Stdio,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use rally::{ConnectionStateRecovery, DisconnectReason, Server};
use rally_redis::{Mode, RedisAdapter, RedisConfig};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines},
    net::{TcpListener, TcpStream},
    process::{Child, ChildStdin, ChildStdout},
    sync::mpsc,
    task::AbortHandle,
};

use super::{DEADLINE, repo_root};

pub async fn within<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(DEADLINE, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out after {DEADLINE:?} waiting for {what}"))
}

/// A TCP proxy to one node, then (after [`switch`](Self::switch)) another.
pub struct Proxy {
    pub addr: SocketAddr,
    target: Arc<Mutex<SocketAddr>>,
    down: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<AbortHandle>>>,
    accept: AbortHandle,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let target = Arc::new(Mutex::new(target));
        let down = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (t, d, c) = (target.clone(), down.clone(), conns.clone());
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if d.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let to = *t.lock().unwrap();
                let Ok(server) = TcpStream::connect(to).await else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let task = tokio::spawn(forward(client, server));
                c.lock().unwrap().push(task.abort_handle());
            }
        })
        .abort_handle();
        Self {
            addr,
            target,
            down,
            conns,
            accept,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Refuses new connections (or takes them again).
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// New connections go to `target`.
    pub fn switch(&self, target: SocketAddr) {
        *self.target.lock().unwrap() = target;
    }

    /// Closes every connection it carries, both ways.
    pub fn kill(&self) {
        for task in self.conns.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.kill();
    }
}

async fn forward(client: TcpStream, server: TcpStream) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let mut up = [0u8; 16 * 1024];
    let mut down = [0u8; 16 * 1024];
    loop {
        tokio::select! {
            n = cr.read(&mut up) => match n {
                Ok(0) | Err(_) => return,
                Ok(n) => if sw.write_all(&up[..n]).await.is_err() { return },
            },
            n = sr.read(&mut down) => match n {
                Ok(0) | Err(_) => return,
                Ok(n) => if cw.write_all(&down[..n]).await.is_err() { return },
            },
        }
    }
}

/// The official client that reconnects (`interop/recovery-client.mjs`), one
/// JSON line per happening.
pub struct RecoveryClient {
    _child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    pub seen: Vec<Value>,
    next_ack: u64,
}

impl RecoveryClient {
    pub fn start(url: &str) -> Self {
        let mut child = tokio::process::Command::new("node")
            .arg(repo_root().join("interop/recovery-client.mjs"))
            .args([url, "websocket"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs");
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Self {
            _child: child,
            stdin,
            lines,
            seen: Vec::new(),
            next_ack: 0,
        }
    }

    pub async fn next(&mut self) -> Value {
        let line = within("the client's next line", self.lines.next_line())
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("the client exited; it saw {:#?}", self.seen));
        let value: Value = serde_json::from_str(&line).unwrap();
        self.seen.push(value.clone());
        value
    }

    /// Lines up to the first of type `kind`: (those before, that one).
    pub async fn until(&mut self, kind: &str) -> (Vec<Value>, Value) {
        let mut before = Vec::new();
        loop {
            let line = self.next().await;
            if line["type"] == kind {
                return (before, line);
            }
            before.push(line);
        }
    }

    /// The next event `name` (skipping other lines).
    pub async fn event(&mut self, name: &str) -> Vec<Value> {
        loop {
            let line = self.next().await;
            if line["type"] == "event" && line["event"] == name {
                return line["args"].as_array().cloned().unwrap_or_default();
            }
        }
    }

    /// Emits with an ack; the answer and the lines before it.
    pub async fn ask(&mut self, event: &str, args: Value) -> (Vec<Value>, Vec<Value>) {
        let id = self.next_ack;
        self.next_ack += 1;
        let line = format!(
            "{}\n",
            json!({"cmd": "emit", "event": event, "args": args, "id": id})
        );
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        let (before, ack) = self.until("ack").await;
        assert_eq!(ack["id"], id, "{ack}");
        (before, ack["args"].as_array().cloned().unwrap_or_default())
    }

    /// Connects (fresh), checks the welcome carries an offset, joins room
    /// "news" as "ada"; the socket id.
    pub async fn join_news(&mut self) -> String {
        let (_, connect) = self.until("connect").await;
        assert_eq!(connect["recovered"], false, "{connect}");
        let id = connect["id"].as_str().unwrap().to_owned();
        let welcome = self.event("welcome").await;
        assert_eq!(welcome[0], json!({"id": id, "recovered": false}));
        assert!(welcome[1].is_string(), "an offset: {welcome:?}");
        let (_, room) = self.ask("join", json!(["news", "ada"])).await;
        assert_eq!(room, [json!("news")]);
        id
    }

    /// After a recovered reconnection: the 50 ticks came, in order, once
    /// each, with their offsets; the id, rooms and data are back.
    pub async fn check_recovered(&mut self, id: &str) {
        self.check_recovered_ticks(id, 50).await;
    }

    /// The same with `ticks` ticks.
    pub async fn check_recovered_ticks(&mut self, id: &str, ticks: i64) {
        let (before, connect) = self.until("connect").await;
        assert_eq!(connect["recovered"], true, "{connect}; before: {before:#?}");
        assert_eq!(connect["id"], id);
        let (mut after, me) = self.ask("whoami", json!([])).await;
        // The welcome of the connection handler goes through the stream
        // (it carries an offset): it may come after the direct answer.
        if !after.iter().any(|l| l["event"] == "welcome") {
            let (more, welcome) = self.until("event").await;
            after.extend(more);
            after.push(welcome);
        }
        let events: Vec<&Value> = before
            .iter()
            .chain(&after)
            .filter(|l| l["type"] == "event")
            .collect();
        let got: Vec<i64> = events
            .iter()
            .filter(|e| e["event"] == "tick")
            .map(|e| e["args"][0].as_i64().unwrap())
            .collect();
        assert_eq!(got, (0..ticks).collect::<Vec<_>>(), "{events:#?}");
        // Each with its offset (a stream entry id), in stream order.
        let offsets: Vec<(u64, u64)> = events
            .iter()
            .filter(|e| e["event"] == "tick")
            .map(|e| {
                let offset = e["args"][1].as_str().expect("an offset");
                let (ms, seq) = offset.split_once('-').expect("an entry id");
                (ms.parse().unwrap(), seq.parse().unwrap())
            })
            .collect();
        assert!(offsets.windows(2).all(|w| w[0] < w[1]), "{offsets:?}");
        let welcome: Vec<&&Value> = events.iter().filter(|e| e["event"] == "welcome").collect();
        assert_eq!(welcome.len(), 1, "{events:#?}");
        assert_eq!(welcome[0]["args"][0], json!({"id": id, "recovered": true}));
        assert_eq!(
            events.len(),
            usize::try_from(ticks + 1).unwrap(),
            "nothing else came: {events:#?}"
        );
        let mut rooms = vec![id.to_owned(), "news".to_owned()];
        rooms.sort();
        assert_eq!(
            me[0],
            json!({"id": id, "rooms": rooms, "data": {"name": "ada"}, "recovered": true})
        );
    }
}

/// A Rally node in streams mode with connection state recovery (ping every
/// 300 ms, timeout 200 ms), serving the recovery tests' events as the
/// Node.js node of `interop/redis-cluster.mjs` does.
pub struct RecoveryNode {
    pub io: Server,
    pub addr: SocketAddr,
    pub disconnects: mpsc::UnboundedReceiver<DisconnectReason>,
}

impl RecoveryNode {
    pub async fn start(url: &str, recovery: ConnectionStateRecovery) -> Self {
        let config = RedisConfig::new()
            .mode(Mode::Streams)
            .connection_state_recovery(recovery.clone());
        let redis = RedisAdapter::connect(url, config).await.unwrap();
        let io = Server::builder()
            .ping_interval(Duration::from_millis(300))
            .ping_timeout(Duration::from_millis(200))
            .connection_state_recovery(recovery)
            .adapter(redis.factory())
            .build();
        let root = io.of("/");
        root.on_connection(|socket| async move {
            let _ = socket.emit(
                "welcome",
                &json!({"id": socket.id().as_str(), "recovered": socket.recovered()}),
            );
        });
        root.on("join", |socket, mut event| async move {
            let room: String = event.arg(0).unwrap_or_default();
            let name: String = event.arg(1).unwrap_or_default();
            socket.join(room.as_str());
            let _ = socket.set_data(&json!({ "name": name }));
            let _ = event.ack(&room);
        });
        root.on("whoami", |socket, mut event| async move {
            let mut rooms: Vec<String> = socket.rooms().iter().map(|r| r.to_string()).collect();
            rooms.sort();
            let _ = event.ack(&json!({
                "id": socket.id().as_str(),
                "rooms": rooms,
                "data": socket.raw_data(),
                "recovered": socket.recovered(),
            }));
        });
        let (tx, disconnects) = mpsc::unbounded_channel();
        root.on_disconnect(move |_socket, reason| {
            let _ = tx.send(reason);
            async {}
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(rally::serve(listener, io.clone()));
        Self {
            io,
            addr,
            disconnects,
        }
    }

    pub async fn disconnected(&mut self) -> DisconnectReason {
        within("the node's disconnect", self.disconnects.recv())
            .await
            .unwrap()
    }

    /// Waits until Redis counts `n` nodes.
    pub async fn wait_for_nodes(&self, n: usize) {
        within(&format!("{n} nodes"), async {
            while self.io.of("/").adapter().server_count().await != n {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
    }
}

/// An integer reply of one command on a fresh raw connection.
pub async fn redis_int(port: u16, args: &[&str]) -> i64 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut line = format!("*{}\r\n", args.len());
    for arg in args {
        line.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream.write_all(line.as_bytes()).await.unwrap();
    let mut reply = BufReader::new(stream);
    let mut first = String::new();
    reply.read_line(&mut first).await.unwrap();
    first
        .trim_end()
        .strip_prefix(':')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("an integer reply: {first:?}"))
}

/// Waits until the stream holds at least `n` entries (everything sent has
/// reached Redis).
pub async fn wait_for_entries(port: u16, n: i64) {
    within(&format!("{n} stream entries"), async {
        while redis_int(port, &["XLEN", "socket.io"]).await < n {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}
