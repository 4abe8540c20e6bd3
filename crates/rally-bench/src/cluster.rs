//! `rally-bench cluster`: broadcasts across two Rally nodes through Redis.
//!
//! A `redis-server` of its own (a free port, no persistence), two Rally nodes
//! with the Redis adapter, each with `--clients` clients (500) in room
//! "room". A broadcaster on node A emits to the room with at most `--inflight`
//! broadcasts (8, then 32) not yet delivered to every client of the slower
//! node; each broadcast carries its send time. The figures, per mode
//! (`--modes classic,sharded`) and in-flight bound: deliveries per second and
//! delivery latency (p50, p99) on node B's clients (through Redis) and on
//! node A's (local). Printed as Markdown and written to
//! `bench/results/cluster.md`.
//!
//! Redis, both nodes and the broadcaster run on the server CPU (the nodes on
//! runtimes of their own, one thread each), the clients on this thread,
//! pinned to the load generator's CPU.

use std::{
    cell::RefCell,
    net::SocketAddr,
    path::PathBuf,
    process::{Child, Command, Stdio},
    rc::Rc,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use rally::Server;
use rally_redis::{Mode, RedisAdapter, RedisConfig};
use tokio::sync::{Notify, oneshot};

use crate::{
    report::{si, us},
    ws::{CLOSE, TEXT, Ws, parse_num, text_frame},
};

/// Options of the scenario.
#[derive(Clone, Debug)]
struct Options {
    /// Clients per node.
    clients: usize,
    /// Broadcasts in flight at most, one set of runs per value.
    inflight: Vec<u64>,
    /// Warm-up before the measured windows.
    warmup: Duration,
    /// Length of one measured window.
    window: Duration,
    /// Measured windows per mode (the median is reported).
    runs: usize,
    modes: Vec<Mode>,
    out: PathBuf,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            clients: 500,
            inflight: vec![8, 32],
            warmup: Duration::from_secs(2),
            window: Duration::from_secs(3),
            runs: 3,
            modes: vec![Mode::Classic, Mode::Sharded],
            out: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../bench/results")),
        }
    }
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| -> Result<&String, String> {
            it.next().ok_or(format!("{name} needs a value"))
        };
        let number = |name: &str, v: &str| -> Result<u64, String> {
            v.parse().map_err(|_| format!("{name}: not a number"))
        };
        match a.as_str() {
            "--clients" => o.clients = number(a, value(a)?)?.max(1) as usize,
            "--inflight" => {
                o.inflight = value(a)?
                    .split(',')
                    .map(|v| number(a, v).map(|n| n.max(1)))
                    .collect::<Result<_, _>>()?;
            }
            "--warmup" => o.warmup = Duration::from_secs(number(a, value(a)?)?),
            "--seconds" => o.window = Duration::from_secs(number(a, value(a)?)?.max(1)),
            "--runs" => o.runs = number(a, value(a)?)?.max(1) as usize,
            "--modes" => {
                o.modes = value(a)?
                    .split(',')
                    .map(|m| m.parse::<Mode>().map_err(|e| e.to_string()))
                    .collect::<Result<_, _>>()?;
            }
            "--out" => o.out = PathBuf::from(value(a)?),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(o)
}

fn mode_name(mode: Mode) -> String {
    format!("{mode:?}").to_lowercase()
}

/// Runs every mode, prints the table (Markdown) and writes
/// `bench/results/cluster.md`.
pub(crate) fn main(args: &[String]) -> Result<(), String> {
    let o = parse(args)?;
    let nofile = crate::peer::raise_nofile();
    let needed = 2 * o.clients as u64 + 200;
    if needed > nofile {
        return Err(format!(
            "needs {needed} open files, the hard limit here is {nofile}"
        ));
    }
    crate::peer::pin_self(crate::CLIENT_CPU)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let local = tokio::task::LocalSet::new();
    let load_before = load_average();
    let redis = Redis::start()?;
    eprintln!(
        "redis-server on port {}; {} clients per node",
        redis.port, o.clients
    );
    let mut rows = Vec::new();
    for &mode in &o.modes {
        for &inflight in &o.inflight {
            eprintln!("mode {}, {inflight} in flight", mode_name(mode));
            let m = local.block_on(&rt, run_mode(&o, &redis.url(), mode, inflight))?;
            rows.push((mode, inflight, m));
        }
    }
    drop(redis);
    let load_after = load_average();
    let mut lines = vec![
        format!(
            "Two Rally nodes on one Redis, {} clients per node in one room; a broadcaster on node A \
             keeps at most `in flight` broadcasts not yet delivered to every client of the slower node; \
             each event carries its send time; median of {} windows of {} s after {} s of warm-up.",
            o.clients,
            o.runs,
            o.window.as_secs(),
            o.warmup.as_secs()
        ),
        String::new(),
        "| mode | in flight | node B, through Redis: deliveries/s | p50 | p99 | node A, local: deliveries/s | p50 | p99 | broadcasts/s | lost |"
            .into(),
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |".into(),
    ];
    for (mode, inflight, m) in &rows {
        lines.push(format!(
            "| {} | {inflight} | {} | {} | {} | {} | {} | {} | {} | {} |",
            mode_name(*mode),
            si(m.remote.rate),
            us(m.remote.p50_us),
            us(m.remote.p99_us),
            si(m.local.rate),
            us(m.local.p50_us),
            us(m.local.p99_us),
            si(m.broadcasts),
            m.lost
        ));
    }
    lines.extend([
        String::new(),
        format!(
            "Load average (1, 5, 15 min): {load_before} before, {load_after} after. \
             `lost`: messages for the other node that node A's adapter dropped."
        ),
    ]);
    let table = lines.join("\n");
    println!("{table}");
    std::fs::create_dir_all(&o.out).map_err(|e| format!("{}: {e}", o.out.display()))?;
    let file = o.out.join("cluster.md");
    let command = format!(
        "cargo run --release -p rally-bench -- cluster {}",
        args.join(" ")
    );
    let command = command.trim_end();
    std::fs::write(
        &file,
        format!("# Cluster: broadcasts through Redis\n\n`{command}`\n\n{table}\n"),
    )
    .map_err(|e| format!("{}: {e}", file.display()))?;
    eprintln!("wrote {}", file.display());
    Ok(())
}

/// `/proc/loadavg`'s first three fields.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

/// A `redis-server` of its own on a free port, no persistence, on the
/// server CPU; killed when dropped (also used by `forward.rs`).
pub(crate) struct Redis {
    pub(crate) port: u16,
    dir: PathBuf,
    child: Child,
}

impl Redis {
    pub(crate) fn start() -> Result<Self, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let dir =
            std::env::temp_dir().join(format!("rally-bench-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        // Started from a thread pinned to the server CPU: it inherits it.
        let spawn_dir = dir.clone();
        let child = std::thread::spawn(move || {
            crate::peer::pin_self(crate::SERVER_CPU)?;
            Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(&spawn_dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("redis-server (apt-get install redis-server): {e}"))
        })
        .join()
        .map_err(|_| "the thread starting redis-server panicked".to_owned())??;
        let redis = Self { port, dir, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !redis.answers() {
            if Instant::now() > deadline {
                return Err("redis-server did not answer PING within 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(redis)
    }

    fn answers(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        let mut buf = [0u8; 7];
        s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The process id of the redis-server.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Rally node with the Redis adapter on a thread and runtime of its own,
/// pinned to the server CPU; every socket joins room "room".
struct Node {
    addr: SocketAddr,
    io: Server,
    redis: RedisAdapter,
    handle: tokio::runtime::Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

type Started = Result<(SocketAddr, Server, RedisAdapter, tokio::runtime::Handle), String>;

impl Node {
    fn start(url: &str, mode: Mode) -> Result<Self, String> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Started>();
        let (stop, stopped) = oneshot::channel::<()>();
        let url = url.to_owned();
        let thread = std::thread::spawn(move || {
            let _ = crate::peer::pin_self(crate::SERVER_CPU);
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e.to_string()));
                    return;
                }
            };
            rt.block_on(async move {
                let started = async {
                    let redis = RedisAdapter::connect(&url, RedisConfig::new().mode(mode))
                        .await
                        .map_err(|e| e.to_string())?;
                    let io = Server::builder().adapter(redis.factory()).build();
                    io.of("/").on_connection(|socket| async move {
                        socket.join("room");
                    });
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                        .await
                        .map_err(|e| e.to_string())?;
                    let addr = listener.local_addr().map_err(|e| e.to_string())?;
                    tokio::spawn(rally::serve(listener, io.clone()));
                    Ok((addr, io, redis, tokio::runtime::Handle::current()))
                }
                .await;
                let ok = started.is_ok();
                let _ = ready_tx.send(started);
                if ok {
                    let _ = stopped.await;
                }
            });
            rt.shutdown_timeout(Duration::from_millis(200));
        });
        let (addr, io, redis, handle) = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| "the Rally node did not start".to_owned())??;
        Ok(Self {
            addr,
            io,
            redis,
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One side's figures in a window.
#[derive(Clone, Copy, Debug, Default)]
struct Side {
    rate: f64,
    p50_us: u64,
    p99_us: u64,
}

/// One mode's figures (the median window by node B's rate).
#[derive(Clone, Copy, Debug, Default)]
struct Measured {
    remote: Side,
    local: Side,
    broadcasts: f64,
    lost: u64,
}

/// What the clients of one node count: deliveries and their latency.
struct Counter {
    delivered: Arc<AtomicU64>,
    hist: RefCell<Histogram<u64>>,
}

impl Counter {
    fn new() -> Rc<Self> {
        Rc::new(Self {
            delivered: Arc::new(AtomicU64::new(0)),
            hist: RefCell::new(Histogram::new_with_bounds(1, 120_000_000, 3).expect("bounds")),
        })
    }
}

/// Aborts the tasks when dropped.
struct Tasks(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

async fn run_mode(o: &Options, url: &str, mode: Mode, inflight: u64) -> Result<Measured, String> {
    let a = Node::start(url, mode)?;
    let b = Node::start(url, mode)?;
    let base = Instant::now();
    let notify = Arc::new(Notify::new());
    let (local, remote) = (Counter::new(), Counter::new());
    let mut tasks = Tasks(Vec::with_capacity(2 * o.clients));
    for (node, counter) in [(&a, &local), (&b, &remote)] {
        for _ in 0..o.clients {
            let mut ws = Ws::connect(
                node.addr,
                None,
                "/socket.io/?EIO=4&transport=websocket",
                64 * 1024,
            )
            .await
            .map_err(|e| e.to_string())?;
            ws.expect_text(b"0").await.map_err(|e| e.to_string())?;
            ws.send(&text_frame(b"40"))
                .await
                .map_err(|e| e.to_string())?;
            ws.expect_text(b"40").await.map_err(|e| e.to_string())?;
            let (counter, notify) = (counter.clone(), notify.clone());
            tasks.0.push(tokio::task::spawn_local(async move {
                let _ = receive(ws, &counter, base, &notify).await;
            }));
        }
    }
    // Every socket in the room (joined in the connection handler).
    let deadline = Instant::now() + Duration::from_secs(30);
    while a.io.of("/").sockets().len() < o.clients || b.io.of("/").sockets().len() < o.clients {
        if Instant::now() > deadline {
            return Err("the clients did not all connect".into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let broadcaster = {
        let io = a.io.clone();
        let (stop, sent, notify) = (stop.clone(), sent.clone(), notify.clone());
        let (dl, dr) = (local.delivered.clone(), remote.delivered.clone());
        let (n, window) = (o.clients as u64, inflight);
        a.handle.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                // In flight: not yet delivered to every client of the slower node.
                let done = dl.load(Ordering::Relaxed).min(dr.load(Ordering::Relaxed));
                if (sent.load(Ordering::Relaxed) * n).saturating_sub(done) < window * n {
                    let ts = base.elapsed().as_nanos() as u64;
                    let _ = io.to("room").emit("b", &ts);
                    sent.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                // A delivery wakes it; the timeout only lets it see `stop`.
                let _ = tokio::time::timeout(Duration::from_millis(100), notify.notified()).await;
            }
        })
    };
    tokio::time::sleep(o.warmup).await;
    let mut windows = Vec::with_capacity(o.runs);
    for run in 1..=o.runs {
        local.hist.borrow_mut().reset();
        remote.hist.borrow_mut().reset();
        let (l0, r0, s0) = (
            local.delivered.load(Ordering::Relaxed),
            remote.delivered.load(Ordering::Relaxed),
            sent.load(Ordering::Relaxed),
        );
        let t0 = Instant::now();
        tokio::time::sleep(o.window).await;
        let elapsed = t0.elapsed().as_secs_f64();
        let side = |c: &Counter, before: u64| {
            let h = c.hist.borrow();
            Side {
                rate: (c.delivered.load(Ordering::Relaxed) - before) as f64 / elapsed,
                p50_us: h.value_at_quantile(0.5),
                p99_us: h.value_at_quantile(0.99),
            }
        };
        let m = Measured {
            remote: side(&remote, r0),
            local: side(&local, l0),
            broadcasts: (sent.load(Ordering::Relaxed) - s0) as f64 / elapsed,
            lost: a.redis.dropped(),
        };
        eprintln!(
            "    run {run}/{}: node B {} /s p50 {} p99 {} · node A {} /s p50 {} p99 {} · {} broadcasts/s",
            o.runs,
            si(m.remote.rate),
            us(m.remote.p50_us),
            us(m.remote.p99_us),
            si(m.local.rate),
            us(m.local.p50_us),
            us(m.local.p99_us),
            si(m.broadcasts)
        );
        windows.push(m);
    }
    stop.store(true, Ordering::Relaxed);
    notify.notify_one();
    let _ = broadcaster.await;
    drop(tasks);
    // Let the closed connections go before the nodes stop.
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(b);
    drop(a);
    windows.sort_by(|x, y| x.remote.rate.total_cmp(&y.remote.rate));
    Ok(windows[windows.len() / 2])
}

/// One client: counts the broadcasts `42["b",<send time in ns>]` and records
/// their latency; answers pings; wakes the broadcaster.
async fn receive(mut ws: Ws, c: &Counter, base: Instant, notify: &Notify) -> std::io::Result<()> {
    let pong = text_frame(b"3");
    loop {
        ws.fill().await?;
        let now = base.elapsed().as_nanos() as u64;
        let (mut n, mut ping) = (0, false);
        {
            let mut hist = c.hist.borrow_mut();
            while let Some((op, r)) = ws.next_frame() {
                if op == CLOSE {
                    return Err(std::io::ErrorKind::ConnectionAborted.into());
                }
                if op != TEXT {
                    continue;
                }
                let d = ws.data(r);
                if let Some(ts) = d.strip_prefix(br#"42["b","#).and_then(parse_num) {
                    let _ = hist.record((now.saturating_sub(ts) / 1000).max(1));
                    n += 1;
                } else if d == b"2" {
                    ping = true;
                }
            }
        }
        if n > 0 {
            c.delivered.fetch_add(n, Ordering::Relaxed);
            notify.notify_one();
        }
        if ping {
            ws.send(&pong).await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags() {
        let args: Vec<String> = [
            "--clients",
            "50",
            "--modes",
            "sharded",
            "--seconds",
            "2",
            "--inflight",
            "1,16",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let o = parse(&args).unwrap();
        assert_eq!(o.clients, 50);
        assert_eq!(o.modes, vec![Mode::Sharded]);
        assert_eq!(o.window, Duration::from_secs(2));
        assert_eq!(o.inflight, vec![1, 16]);
        assert!(parse(&["--modes".to_owned(), "ring".to_owned()]).is_err());
        assert!(parse(&["--bogus".to_owned()]).is_err());
    }
}
