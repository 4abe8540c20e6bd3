//! `rally-bench forward`: what session forwarding costs, a long-polling
//! round trip served through another node against the same served locally.
//!
//! A `redis-server` of its own (see `cluster.rs`) and two Rally nodes on it,
//! A and B, each on a current-thread runtime of its own thread, both with
//! the Redis adapter, its bus and `forward_sessions(true)`, served by
//! `rally::serve` (as `rally serve` serves), with the handlers of the other
//! scenarios (`echo` acked with its arguments). Each client opens its
//! session on node A (the handshake), then, on one keep-alive connection,
//! connects to `/` and does round trips, one at a time: a POST of
//! `42<id>["echo","<32 bytes>"]`, then GETs until the ack `43<id>` comes.
//! Two routes: `local`, every request to node A; `forwarded`, every request
//! after the handshake to node B, which sends it over Redis to node A and
//! answers with A's reply (so a round trip is two forwarded requests).
//!
//! Per mode (`--modes`, classic by default), client count (`--clients`, 1
//! then 100) and route: round trips per second, round-trip latency (p50,
//! p99), and CPU per round trip of node A's thread, node B's thread and the
//! redis-server process; the median of `--runs` windows (3), the two routes
//! alternating, each window with fresh clients after a warm-up (a window in
//! which other processes or the hypervisor took more than a quarter of a
//! core is measured again, at most `--runs` times per client count, and
//! each window first waits up to 30 s for a quiet second). Printed as
//! Markdown and written to `bench/results/forward.md`.
//!
//! Redis and both nodes run on the server CPU, the clients on this thread,
//! pinned to the load generator's CPU.

use std::{
    cell::RefCell,
    io,
    net::SocketAddr,
    path::PathBuf,
    rc::Rc,
    time::{Duration, Instant},
};

use rally::Server;
use rally_redis::{Mode, RedisAdapter, RedisConfig};
use tokio::sync::oneshot;

use crate::{
    cluster::{Redis, load_average},
    http::{Http, parse_sid},
    peer::{
        CpuTimes, cpu_times, machine_cpu_seconds, machine_steal_seconds, thread_cpu_times,
        thread_id,
    },
    report::{si, us},
    scenario::{NOISY, Shared, Tasks, micros, poll_until_connected},
    ws::{other, parse_num},
};

/// Options of the scenario.
#[derive(Clone, Debug)]
struct Options {
    /// Concurrent clients, one set of runs per value.
    clients: Vec<usize>,
    /// Warm-up of each window's clients before it is measured.
    warmup: Duration,
    /// Length of one measured window.
    window: Duration,
    /// Measured windows per cell (the median is reported).
    runs: usize,
    modes: Vec<Mode>,
    out: PathBuf,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            clients: vec![1, 100],
            warmup: Duration::from_secs(2),
            window: Duration::from_secs(3),
            runs: 3,
            modes: vec![Mode::Classic],
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
            "--clients" => {
                o.clients = value(a)?
                    .split(',')
                    .map(|v| number(a, v).map(|n| n.max(1) as usize))
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

/// Where the clients send their requests after the handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    /// To node A, which holds the session.
    Local,
    /// To node B, which forwards them to node A.
    Forwarded,
}

impl Route {
    fn name(self) -> &'static str {
        match self {
            Route::Local => "local",
            Route::Forwarded => "forwarded",
        }
    }
}

/// One measured window.
#[derive(Clone, Copy, Debug)]
struct Window {
    /// Round trips per second.
    rate: f64,
    p50_us: u64,
    p99_us: u64,
    /// CPU microseconds per round trip: node A's thread, node B's thread,
    /// redis-server.
    cpu_a: f64,
    cpu_b: f64,
    cpu_redis: f64,
    /// Requests node B forwarded, per round trip.
    forwarded: f64,
    /// The load generator's thread, in cores.
    gen_cpu: f64,
    /// Other processes of the machine, in cores.
    other_cpu: f64,
    /// What the hypervisor took from the machine, in cores.
    steal_cpu: f64,
    errors: u64,
}

impl Window {
    fn cpu_total(&self) -> f64 {
        self.cpu_a + self.cpu_b + self.cpu_redis
    }
}

/// One row of the table: the median window of a cell.
struct Row {
    mode: Mode,
    clients: usize,
    route: Route,
    median: Window,
}

/// Runs every cell, prints the table (Markdown) and writes
/// `bench/results/forward.md`.
pub(crate) fn main(args: &[String]) -> Result<(), String> {
    let o = parse(args)?;
    let nofile = crate::peer::raise_nofile();
    let most = o.clients.iter().copied().max().unwrap_or(1);
    let needed = 2 * most as u64 + 200;
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
    eprintln!("redis-server on port {}", redis.port);
    let mut rows = Vec::new();
    for &mode in &o.modes {
        let a = Node::start(&redis.url(), mode)?;
        let b = Node::start(&redis.url(), mode)?;
        for &clients in &o.clients {
            let mut windows = [Vec::new(), Vec::new()];
            // Windows in which other processes took much of the machine
            // are measured again, a bounded number of times.
            let mut retries = o.runs;
            for run in 0..o.runs {
                // Every other run in reverse order: neither route gets
                // the machine's better spells.
                let order = if run % 2 == 0 {
                    [Route::Local, Route::Forwarded]
                } else {
                    [Route::Forwarded, Route::Local]
                };
                for route in order {
                    eprintln!(
                        "mode {}, {clients} clients, {}: run {}/{}",
                        mode_name(mode),
                        route.name(),
                        run + 1,
                        o.runs
                    );
                    let w = loop {
                        let w =
                            local.block_on(&rt, run_window(&o, &a, &b, &redis, route, clients))?;
                        progress(&w);
                        if (w.other_cpu <= NOISY && w.steal_cpu <= NOISY) || retries == 0 {
                            break w;
                        }
                        retries -= 1;
                        eprintln!("    noisy machine: measuring again");
                    };
                    windows[usize::from(route == Route::Forwarded)].push(w);
                }
            }
            for (route, mut ws) in [Route::Local, Route::Forwarded].into_iter().zip(windows) {
                ws.sort_by(|x, y| x.rate.total_cmp(&y.rate));
                rows.push(Row {
                    mode,
                    clients,
                    route,
                    median: ws[ws.len() / 2],
                });
            }
        }
        drop(b);
        drop(a);
    }
    drop(redis);
    let load_after = load_average();
    let table = markdown(&o, &rows, &load_before, &load_after);
    println!("{table}");
    std::fs::create_dir_all(&o.out).map_err(|e| format!("{}: {e}", o.out.display()))?;
    let file = o.out.join("forward.md");
    let command = format!(
        "cargo run --release -p rally-bench -- forward {}",
        args.join(" ")
    );
    let command = command.trim_end();
    std::fs::write(
        &file,
        format!("# Session forwarding: polling round trips through another node\n\n`{command}`\n\n{table}\n"),
    )
    .map_err(|e| format!("{}: {e}", file.display()))?;
    eprintln!("wrote {}", file.display());
    Ok(())
}

fn progress(w: &Window) {
    eprintln!(
        "    {} round trips/s  p50 {} p99 {}  CPU µs per round trip: A {:.1} B {:.1} redis {:.1} total {:.1}  \
         forwarded per round trip {:.2}  loadgen {:.0}%  other {:.2} cores  steal {:.2}{}",
        si(w.rate),
        us(w.p50_us),
        us(w.p99_us),
        w.cpu_a,
        w.cpu_b,
        w.cpu_redis,
        w.cpu_total(),
        w.forwarded,
        w.gen_cpu * 100.0,
        w.other_cpu,
        w.steal_cpu,
        if w.errors > 0 {
            format!("  {} errors", w.errors)
        } else {
            String::new()
        }
    );
}

/// The table, one row per cell, then what forwarding added per client
/// count.
fn markdown(o: &Options, rows: &[Row], load_before: &str, load_after: &str) -> String {
    let mut lines = vec![
        format!(
            "Two Rally nodes on one Redis (one runtime thread each; Redis and both nodes on the server CPU). Each \
             client opens its session on node A, then does round trips one at a time: POST \
             `42<id>[\"echo\",<32 B>]`, GET until the ack. `local`: every request to node A; `forwarded`: every \
             request after the handshake to node B, which forwards it to A over Redis. Median of {} windows of \
             {} s (by rate), each with fresh clients after {} s of warm-up. CPU in µs per round trip; `load generator`: its one thread's use of its core.",
            o.runs,
            o.window.as_secs(),
            o.warmup.as_secs()
        ),
        String::new(),
        "| mode | clients | route | round trips/s | p50 | p99 | CPU node A | CPU node B | CPU redis | CPU total | forwarded requests per round trip | load generator |"
            .into(),
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |".into(),
    ];
    for r in rows {
        let m = &r.median;
        lines.push(format!(
            "| {} | {} | {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} | {:.0}% |",
            mode_name(r.mode),
            r.clients,
            r.route.name(),
            si(m.rate),
            us(m.p50_us),
            us(m.p99_us),
            m.cpu_a,
            m.cpu_b,
            m.cpu_redis,
            m.cpu_total(),
            m.forwarded,
            m.gen_cpu * 100.0
        ));
    }
    lines.push(String::new());
    for pair in rows.chunks(2) {
        let [l, f] = pair else { continue };
        let (l, f) = (&l.median, &f.median);
        lines.push(format!(
            "- {}, {} client{}: forwarding costs {:.1} µs more CPU per round trip ({:.1}× local), \
             p50 {}, p99 {}, {:.2}× the round trips/s.",
            mode_name(pair[0].mode),
            pair[0].clients,
            if pair[0].clients == 1 { "" } else { "s" },
            f.cpu_total() - l.cpu_total(),
            f.cpu_total() / l.cpu_total().max(f64::MIN_POSITIVE),
            signed_us(f.p50_us, l.p50_us),
            signed_us(f.p99_us, l.p99_us),
            f.rate / l.rate.max(f64::MIN_POSITIVE)
        ));
    }
    let busy = rows
        .iter()
        .map(|r| r.median.other_cpu + r.median.steal_cpu)
        .fold(0.0_f64, f64::max);
    for r in rows.iter().filter(|r| r.median.errors > 0) {
        lines.push(format!(
            "- {}, {} clients, {}: {} client(s) failed in the reported window.",
            mode_name(r.mode),
            r.clients,
            r.route.name(),
            r.median.errors
        ));
    }
    lines.extend([
        String::new(),
        format!(
            "Load average (1, 5, 15 min): {load_before} before, {load_after} after; other processes and the \
             hypervisor took at most {busy:.2} cores in a reported window."
        ),
    ]);
    lines.join("\n")
}

/// `later - earlier` microseconds, readable, with its sign.
fn signed_us(later: u64, earlier: u64) -> String {
    if later >= earlier {
        format!("+{}", us(later - earlier))
    } else {
        format!("−{}", us(earlier - later))
    }
}

/// A Rally node with the Redis adapter, its bus and session forwarding, on
/// a current-thread runtime of a thread of its own pinned to the server
/// CPU.
struct Node {
    addr: SocketAddr,
    io: Server,
    /// The id of the node's thread (its CPU time is the node's).
    tid: i32,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

type Started = Result<(SocketAddr, Server, i32), String>;

impl Node {
    fn start(url: &str, mode: Mode) -> Result<Self, String> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Started>();
        let (stop, stopped) = oneshot::channel::<()>();
        let url = url.to_owned();
        let thread = std::thread::spawn(move || {
            let _ = crate::peer::pin_self(crate::SERVER_CPU);
            let rt = match tokio::runtime::Builder::new_current_thread()
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
                    let io = Server::builder()
                        .adapter(redis.factory())
                        .bus(redis.bus())
                        .forward_sessions(true)
                        .build();
                    crate::serve::handlers(&io);
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                        .await
                        .map_err(|e| e.to_string())?;
                    let addr = listener.local_addr().map_err(|e| e.to_string())?;
                    tokio::spawn(rally::serve(listener, io.clone()));
                    Ok((addr, io, thread_id()))
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
        let (addr, io, tid) = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| "the Rally node did not start".to_owned())??;
        Ok(Self {
            addr,
            io,
            tid,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    fn cpu(&self) -> CpuTimes {
        thread_cpu_times(self.tid)
    }

    /// Requests this node sent to another so far.
    fn forwarded(&self) -> u64 {
        self.io
            .forward_stats()
            .map_or(0, |s| s.polls.saturating_add(s.posts))
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

/// How long one request may take before the client counts an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// 32 bytes of payload, as the polling scenario of the main run.
const PAYLOAD32: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

/// Connects `clients` clients by `route`, warms up, measures one window,
/// then closes the clients' sessions.
async fn run_window(
    o: &Options,
    a: &Node,
    b: &Node,
    redis: &Redis,
    route: Route,
    clients: usize,
) -> Result<Window, String> {
    let to = match route {
        Route::Local => a.addr,
        Route::Forwarded => b.addr,
    };
    wait_for_quiet(redis, QUIET_PATIENCE).await;
    let sh = Shared::new();
    let first_error: Rc<RefCell<Option<String>>> = Rc::default();
    let mut handles = Vec::with_capacity(clients);
    for i in 0..clients {
        let (http, path) = open(a.addr, to)
            .await
            .map_err(|e| format!("client {i}: {e}"))?;
        let (sh, first_error) = (sh.clone(), first_error.clone());
        handles.push(tokio::task::spawn_local(async move {
            if let Err(e) = round_trips(http, &path, &sh).await {
                sh.errors.set(sh.errors.get() + 1);
                first_error.borrow_mut().get_or_insert(e.to_string());
            }
        }));
    }
    let tasks = Tasks(handles);
    tokio::time::sleep(o.warmup).await;
    sh.hist.borrow_mut().reset();
    let me = thread_id();
    let (ops0, err0, fwd0) = (sh.ops.get(), sh.errors.get(), b.forwarded());
    let (a0, b0, r0, g0) = (
        a.cpu(),
        b.cpu(),
        cpu_times(Some(redis.pid())),
        thread_cpu_times(me),
    );
    let p0 = cpu_times(None);
    let (m0, st0) = (machine_cpu_seconds(), machine_steal_seconds());
    let t0 = Instant::now();
    tokio::time::sleep(o.window).await;
    let elapsed = t0.elapsed().as_secs_f64();
    let (ca, cb, cr, cg) = (
        (a.cpu() - a0).total(),
        (b.cpu() - b0).total(),
        (cpu_times(Some(redis.pid())) - r0).total(),
        (thread_cpu_times(me) - g0).total(),
    );
    let ours = (cpu_times(None) - p0).total() + cr;
    let other_cpu = ((machine_cpu_seconds() - m0 - ours) / elapsed).max(0.0);
    let steal_cpu = ((machine_steal_seconds() - st0) / elapsed).max(0.0);
    let ops = sh.ops.get() - ops0;
    let per = |cpu: f64| {
        if ops > 0 { cpu * 1e6 / ops as f64 } else { 0.0 }
    };
    let window = {
        let h = sh.hist.borrow();
        Window {
            rate: ops as f64 / elapsed,
            p50_us: h.value_at_quantile(0.5),
            p99_us: h.value_at_quantile(0.99),
            cpu_a: per(ca),
            cpu_b: per(cb),
            cpu_redis: per(cr),
            forwarded: if ops > 0 {
                (b.forwarded() - fwd0) as f64 / ops as f64
            } else {
                0.0
            },
            gen_cpu: cg / elapsed,
            other_cpu,
            steal_cpu,
            errors: sh.errors.get() - err0,
        }
    };
    // The clients finish their round trip and close their sessions.
    sh.stop.set(true);
    let mut tasks = tasks;
    let all = async {
        for t in &mut tasks.0 {
            let _ = t.await;
        }
    };
    if tokio::time::timeout(REQUEST_TIMEOUT, all).await.is_err() {
        eprintln!("    some clients did not finish their round trip");
    }
    drop(tasks);
    if let Some(e) = first_error.borrow().as_ref() {
        eprintln!("    first error: {e}");
    }
    if ops == 0 {
        return Err("no round trip in the window".into());
    }
    Ok(window)
}

/// How long a window waits for the machine to be quiet before it starts.
const QUIET_PATIENCE: Duration = Duration::from_secs(30);

/// Waits, the clients not yet started, for a second in which other
/// processes and the hypervisor took at most [`NOISY`] cores, at most
/// `limit`: the builds that share this machine come and go.
async fn wait_for_quiet(redis: &Redis, limit: Duration) {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        let ours0 = cpu_times(None).total() + cpu_times(Some(redis.pid())).total();
        let (m0, st0) = (machine_cpu_seconds(), machine_steal_seconds());
        tokio::time::sleep(Duration::from_secs(1)).await;
        let ours = cpu_times(None).total() + cpu_times(Some(redis.pid())).total() - ours0;
        let other = machine_cpu_seconds() - m0 - ours;
        if other <= NOISY && machine_steal_seconds() - st0 <= NOISY {
            return;
        }
    }
    eprintln!("    the machine stayed busy for {limit:?}: measuring anyway");
}

/// A session opened on `owner` (the handshake), then connected to `/`
/// through `to`: the connection to `to` and the session's polling path.
async fn open(owner: SocketAddr, to: SocketAddr) -> io::Result<(Http, String)> {
    let mut http = Http::connect(owner, None).await?;
    let (status, body) = http
        .request("GET", "/socket.io/?EIO=4&transport=polling", b"")
        .await?;
    if status != 200 {
        return Err(other(format!("handshake: status {status}")));
    }
    let sid = parse_sid(&body).ok_or_else(|| other("no sid"))?;
    if to != owner {
        http.reset();
        http = Http::connect(to, None).await?;
    }
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    let (status, _) = http.request("POST", &path, b"40").await?;
    if status != 200 {
        return Err(other(format!("connect: status {status}")));
    }
    poll_until_connected(&mut http, &path).await?;
    Ok((http, path))
}

/// One request, within [`REQUEST_TIMEOUT`], answered 200: its body.
async fn request(http: &mut Http, method: &str, path: &str, body: &[u8]) -> io::Result<Vec<u8>> {
    let (status, body) = tokio::time::timeout(REQUEST_TIMEOUT, http.request(method, path, body))
        .await
        .map_err(|_| other(format!("{method} timed out")))??;
    if status != 200 {
        return Err(other(format!("{method}: status {status}")));
    }
    Ok(body)
}

/// Round trips until told to stop, then closes the session (a POST of
/// the close packet).
async fn round_trips(mut http: Http, path: &str, sh: &Shared) -> io::Result<()> {
    let mut pong = false;
    let mut body = Vec::with_capacity(64);
    let mut id: u64 = 0;
    while !sh.stop.get() {
        body.clear();
        if pong {
            // The answer to a ping the last GET carried.
            body.extend_from_slice(b"3\x1e");
            pong = false;
        }
        body.extend_from_slice(format!("42{id}[\"echo\",\"{PAYLOAD32}\"]").as_bytes());
        let t0 = Instant::now();
        request(&mut http, "POST", path, &body).await?;
        let mut acked = false;
        while !acked {
            let reply = request(&mut http, "GET", path, b"").await?;
            for packet in reply.split(|&b| b == 0x1e) {
                if packet == b"2" {
                    pong = true;
                } else if packet.first() == Some(&b'1') {
                    return Err(other("the session closed"));
                } else if let Some(rest) = packet.strip_prefix(b"43") {
                    acked |= parse_num(rest) == Some(id);
                }
            }
        }
        let _ = sh.hist.borrow_mut().record(micros(t0.elapsed()));
        sh.ops.set(sh.ops.get() + 1);
        id += 1;
    }
    request(&mut http, "POST", path, b"1").await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags() {
        let args: Vec<String> = [
            "--clients",
            "1,50",
            "--modes",
            "classic,sharded",
            "--runs",
            "5",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let o = parse(&args).unwrap();
        assert_eq!(o.clients, vec![1, 50]);
        assert_eq!(o.modes, vec![Mode::Classic, Mode::Sharded]);
        assert_eq!(o.runs, 5);
        assert_eq!(parse(&[]).unwrap().clients, vec![1, 100]);
        assert!(parse(&["--modes".to_owned(), "ring".to_owned()]).is_err());
        assert!(parse(&["--bogus".to_owned()]).is_err());
    }
}
