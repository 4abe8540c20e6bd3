//! The load: every scenario runs on one single-threaded runtime (a
//! `LocalSet`), one small task per connection, pre-built frames, one write
//! per batch of reads.

use std::{
    cell::{Cell, RefCell},
    io,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    rc::Rc,
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use tokio::{sync::Notify, task::JoinHandle, time::sleep};

use crate::{
    http::{Http, parse_sid},
    peer::{cpu_times, machine_cpu_seconds, machine_steal_seconds, rss_bytes},
    ws::{CLOSE, PING, TEXT, Ws, parse_num, sio_connect, sio_connect_offering, text_frame},
};

/// Warm-up, length and count of the measured runs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    pub(crate) warmup: Duration,
    pub(crate) run: Duration,
    pub(crate) runs: usize,
}

/// What one scenario runs against.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Target {
    pub(crate) addr: SocketAddr,
    pub(crate) socketio: bool,
    pub(crate) pid: u32,
    pub(crate) timing: Timing,
    /// Offer permessage-deflate (and require it) on every connection.
    pub(crate) deflate: bool,
}

/// One measured run.
#[derive(Clone, Debug, Default)]
pub(crate) struct Sample {
    /// Operations per second (round trips, deliveries, setups).
    pub(crate) rate: f64,
    pub(crate) p50_us: u64,
    pub(crate) p99_us: u64,
    /// Server CPU milliseconds per 1,000 operations.
    pub(crate) cpu_ms_per_1k: f64,
    /// Server CPU use, in cores.
    pub(crate) server_cpu: f64,
    /// The share of the server's CPU time spent in the kernel.
    pub(crate) kernel_share: f64,
    /// Load generator CPU use, in cores (its one core saturates at 1.0).
    pub(crate) gen_cpu: f64,
    /// Idle density: server memory per client, bytes.
    pub(crate) bytes_per_client: Option<f64>,
    /// Idle density: the clients connected.
    pub(crate) clients: Option<usize>,
    /// Idle density: the kernel's TCP buffer memory (`mem` of
    /// `/proc/net/sockstat`, both ends of every loopback connection) per
    /// client, bytes.
    pub(crate) kernel_bytes_per_client: Option<f64>,
    /// Idle density: the growth of the kernel's unreclaimable slab
    /// (`SUnreclaim` in `/proc/meminfo`: socket structures, both ends) per
    /// client, bytes.
    pub(crate) kernel_slab_per_client: Option<f64>,
    /// Compression: bytes on the wire (frame header included) per message
    /// received, server to client.
    pub(crate) wire_bytes_per_op: Option<f64>,
    /// Compression: the server's RSS growth, bytes, from its clients
    /// connected to the first broadcast delivered to all of them.
    pub(crate) rss_first_message: Option<f64>,
    /// Compression: the server's RSS growth, bytes, from its clients
    /// connected to the end of the measured runs.
    pub(crate) rss_under_load: Option<f64>,
    pub(crate) errors: u64,
    /// CPU used meanwhile by other processes on the machine, in cores.
    pub(crate) other_cpu: f64,
    /// CPU time the hypervisor took from this machine meanwhile, in cores.
    pub(crate) steal_cpu: f64,
}

impl Sample {
    /// Whether other processes or the hypervisor took enough of the machine
    /// to make this run noisy.
    pub(crate) fn noisy(&self) -> bool {
        self.other_cpu > NOISY || self.steal_cpu > NOISY
    }
}

/// Other processes, or the hypervisor (steal time), using more than this
/// many cores make a run noisy: it is measured again (a bounded number of
/// times).
pub(crate) const NOISY: f64 = 0.25;

/// What the tasks of one scenario share: counters, the stop flag, latencies.
pub(crate) struct Shared {
    pub(crate) ops: Cell<u64>,
    /// Bytes on the wire of the messages counted in `ops` (when counted).
    pub(crate) wire: Cell<u64>,
    pub(crate) errors: Cell<u64>,
    pub(crate) stop: Cell<bool>,
    first_error: RefCell<Option<String>>,
    pub(crate) hist: RefCell<Histogram<u64>>,
}

impl Shared {
    pub(crate) fn new() -> Rc<Self> {
        Rc::new(Self {
            ops: Cell::new(0),
            wire: Cell::new(0),
            errors: Cell::new(0),
            stop: Cell::new(false),
            first_error: RefCell::new(None),
            hist: RefCell::new(Histogram::new_with_bounds(1, 120_000_000, 3).expect("bounds")),
        })
    }
}

pub(crate) fn micros(d: Duration) -> u64 {
    (d.as_micros() as u64).max(1)
}

/// Aborts the tasks when dropped.
pub(crate) struct Tasks(pub(crate) Vec<JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

/// Steal time below this many cores over a second counts as a calm spell.
const CALM: f64 = 0.1;

/// Waits, the load still running, for a second in which the hypervisor took
/// less than [`CALM`] cores, at most `limit`: on a shared host the steal
/// comes in spells, and a window started in one is wasted.
async fn wait_for_calm(limit: Duration) {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        let st0 = machine_steal_seconds();
        sleep(Duration::from_secs(1)).await;
        if machine_steal_seconds() - st0 < CALM {
            return;
        }
    }
}

/// Warm-up, then `runs` windows, each started in a calm spell when one
/// comes soon enough.
pub(crate) async fn measure(sh: &Shared, target: &Target) -> Vec<Sample> {
    sleep(target.timing.warmup).await;
    let mut out = Vec::new();
    let mut retries = target.timing.runs.div_ceil(2);
    let mut patience = Duration::from_secs(5);
    while out.len() < target.timing.runs {
        wait_for_calm(patience).await;
        sh.hist.borrow_mut().reset();
        let (ops0, err0, wire0) = (sh.ops.get(), sh.errors.get(), sh.wire.get());
        let s0 = cpu_times(Some(target.pid));
        let g0 = cpu_times(None).total();
        let m0 = machine_cpu_seconds();
        let st0 = machine_steal_seconds();
        let t0 = Instant::now();
        sleep(target.timing.run).await;
        let elapsed = t0.elapsed().as_secs_f64();
        let server_times = cpu_times(Some(target.pid)) - s0;
        let server = server_times.total();
        let gen_cpu = cpu_times(None).total() - g0;
        let other = (machine_cpu_seconds() - m0 - server - gen_cpu).max(0.0) / elapsed;
        let steal = (machine_steal_seconds() - st0).max(0.0) / elapsed;
        let ops = sh.ops.get() - ops0;
        let sample = {
            let h = sh.hist.borrow();
            Sample {
                rate: ops as f64 / elapsed,
                p50_us: h.value_at_quantile(0.5),
                p99_us: h.value_at_quantile(0.99),
                cpu_ms_per_1k: if ops > 0 {
                    server * 1e6 / ops as f64
                } else {
                    0.0
                },
                server_cpu: server / elapsed,
                kernel_share: if server > 0.0 {
                    server_times.system / server
                } else {
                    0.0
                },
                gen_cpu: gen_cpu / elapsed,
                bytes_per_client: None,
                clients: None,
                kernel_bytes_per_client: None,
                kernel_slab_per_client: None,
                wire_bytes_per_op: (sh.wire.get() > wire0 && ops > 0)
                    .then(|| (sh.wire.get() - wire0) as f64 / ops as f64),
                rss_first_message: None,
                rss_under_load: None,
                errors: sh.errors.get() - err0,
                other_cpu: other,
                steal_cpu: steal,
            }
        };
        crate::progress_sample(out.len() + 1, target.timing.runs, &sample);
        if sample.noisy() && retries > 0 {
            retries -= 1;
            // A noisy window: the next one waits longer for calm.
            patience = Duration::from_secs(30);
            eprintln!(
                "    noisy machine (other processes used {other:.2} cores, the hypervisor {steal:.2}): measuring again"
            );
            continue;
        }
        out.push(sample);
    }
    sh.stop.set(true);
    if let Some(e) = sh.first_error.borrow().as_ref() {
        eprintln!("    first error: {e}");
    }
    out
}

/// Source address for the `i`-th of many connections: past 10,000 they are
/// spread over 127.0.0.2 and up, 10,000 each (from one address, the
/// kernel's search for a free port slows down well before the ~28,000
/// ephemeral ports run out, more so with an earlier cell's TIME_WAITs).
fn source(i: usize, total: usize) -> Option<IpAddr> {
    (total > 10_000).then(|| IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + (i / 10_000) as u8)))
}

/// Opens `n` Socket.IO connections, `concurrency` at a time, each optionally
/// joined to room `r`, within `limit`.
pub(crate) async fn connect_all(
    target: &Target,
    n: usize,
    join: bool,
    buf: usize,
    limit: Duration,
) -> Result<Vec<Ws>, String> {
    let next = Rc::new(Cell::new(0usize));
    let out: Rc<RefCell<Vec<Ws>>> = Rc::new(RefCell::new(Vec::with_capacity(n)));
    let failed: Rc<RefCell<Option<String>>> = Rc::default();
    let mut workers = Vec::new();
    let started = Instant::now();
    for _ in 0..256.min(n) {
        let (next, out, failed, target) = (next.clone(), out.clone(), failed.clone(), *target);
        workers.push(tokio::task::spawn_local(async move {
            loop {
                let i = next.get();
                if i >= n || failed.borrow().is_some() {
                    return;
                }
                next.set(i + 1);
                let conn = async {
                    let mut ws = sio_connect_offering(
                        target.addr,
                        source(i, n),
                        target.socketio,
                        buf,
                        target.deflate,
                    )
                    .await?;
                    if join {
                        ws.send(&text_frame(br#"420["join","r"]"#)).await?;
                        ws.expect_text(b"430").await?;
                    }
                    Ok::<_, io::Error>(ws)
                };
                // A connection that hangs is tried again, once.
                let mut result = tokio::time::timeout(Duration::from_secs(10), conn).await;
                if result.is_err() {
                    eprintln!("    connection {i} timed out after 10 s: trying again");
                    let conn = async {
                        let mut ws = sio_connect_offering(
                            target.addr,
                            source(i, n),
                            target.socketio,
                            buf,
                            target.deflate,
                        )
                        .await?;
                        if join {
                            ws.send(&text_frame(br#"420["join","r"]"#)).await?;
                            ws.expect_text(b"430").await?;
                        }
                        Ok::<_, io::Error>(ws)
                    };
                    result = tokio::time::timeout(Duration::from_secs(10), conn).await;
                }
                let result = result.unwrap_or_else(|_| Err(crate::ws::other("timed out twice")));
                match result {
                    Ok(ws) => out.borrow_mut().push(ws),
                    Err(e) => {
                        failed
                            .borrow_mut()
                            .get_or_insert(format!("connection {i}: {e}"));
                        return;
                    }
                }
                if i % 2000 == 1999 {
                    eprintln!("    connected {}/{n}", i + 1);
                }
            }
        }));
    }
    let all = async {
        for w in workers {
            let _ = w.await;
        }
    };
    if tokio::time::timeout(limit, all).await.is_err() {
        return Err(format!(
            "only {} of {n} connected within {:?}",
            out.borrow().len(),
            limit
        ));
    }
    if let Some(e) = failed.borrow_mut().take() {
        return Err(e);
    }
    eprintln!(
        "    {n} connections in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(std::mem::take(&mut *out.borrow_mut()))
}

/// Acked round trips: each connection keeps `inflight` `echo` events with a
/// `payload`-byte string in flight.
pub(crate) async fn ack(
    target: Target,
    conns: usize,
    inflight: usize,
    payload: usize,
) -> Result<Vec<Sample>, String> {
    let sh = Shared::new();
    let buf = (inflight * (payload + 64)).max(16 * 1024);
    let wss = connect_all(&target, conns, false, buf, Duration::from_secs(60)).await?;
    let body = "x".repeat(payload);
    let frames: Rc<Vec<Vec<u8>>> = Rc::new(
        (0..inflight)
            .map(|i| text_frame(format!("42{i}[\"echo\",\"{body}\"]").as_bytes()))
            .collect(),
    );
    let tasks = Tasks(
        wss.into_iter()
            .map(|ws| {
                let (sh, frames) = (sh.clone(), frames.clone());
                tokio::task::spawn_local(async move {
                    if ack_loop(ws, &frames, &sh).await.is_err() && !sh.stop.get() {
                        sh.errors.set(sh.errors.get() + 1);
                    }
                })
            })
            .collect(),
    );
    let samples = measure(&sh, &target).await;
    drop(tasks);
    Ok(samples)
}

async fn ack_loop(mut ws: Ws, frames: &[Vec<u8>], sh: &Shared) -> io::Result<()> {
    let k = frames.len();
    let mut sent = vec![Instant::now(); k];
    let mut wbuf: Vec<u8> = frames.concat();
    ws.send(&wbuf).await?;
    wbuf.clear();
    let pong = text_frame(b"3");
    loop {
        ws.fill().await?;
        let now = Instant::now();
        let mut done = 0;
        {
            let mut hist = sh.hist.borrow_mut();
            while let Some((op, r)) = ws.next_frame() {
                match op {
                    TEXT => {}
                    CLOSE => return Err(io::ErrorKind::ConnectionAborted.into()),
                    PING => continue,
                    _ => continue,
                }
                let d = ws.data(r);
                if d.len() > 2 && (d.starts_with(b"43") || d.starts_with(b"42")) {
                    if let Some(id) = parse_num(&d[2..]).map(|n| n as usize).filter(|&n| n < k) {
                        let _ = hist.record(micros(now - sent[id]));
                        done += 1;
                        if !sh.stop.get() {
                            wbuf.extend_from_slice(&frames[id]);
                            sent[id] = now;
                        }
                    }
                } else if d == b"2" {
                    wbuf.extend_from_slice(&pong);
                }
            }
        }
        sh.ops.set(sh.ops.get() + done);
        if !wbuf.is_empty() {
            ws.send(&wbuf).await?;
            wbuf.clear();
        }
    }
}

/// Broadcast fan-out: `clients` sockets join room `r`; one more socket sends
/// `bcast("r", payload)` with a send timestamp in the payload, keeping at most
/// `window` broadcasts not yet delivered to every client.
pub(crate) async fn fanout(
    target: Target,
    clients: usize,
    window: u64,
) -> Result<Vec<Sample>, String> {
    let sh = Shared::new();
    let base = Instant::now();
    let wss = connect_all(&target, clients, true, 64 * 1024, Duration::from_secs(120)).await?;
    let mut sender = sio_connect(target.addr, None, true, 16 * 1024)
        .await
        .map_err(|e| format!("sender: {e}"))?;
    let sent = Rc::new(Cell::new(0u64));
    let notify = Rc::new(Notify::new());
    let n = clients as u64;
    let mut handles = Vec::with_capacity(clients + 1);
    for ws in wss {
        let (sh, sent, notify) = (sh.clone(), sent.clone(), notify.clone());
        handles.push(tokio::task::spawn_local(async move {
            if receive_loop(ws, &sh, base, &sent, &notify, n, window)
                .await
                .is_err()
                && !sh.stop.get()
            {
                sh.errors.set(sh.errors.get() + 1);
            }
        }));
    }
    {
        let (sh, sent, notify) = (sh.clone(), sent.clone(), notify.clone());
        handles.push(tokio::task::spawn_local(async move {
            let mut template = text_frame(br#"42["bcast","r","00000000000000000000xxxxxxxxxxxx"]"#);
            let at = 6 + 16;
            let pong = text_frame(b"3");
            let mut wbuf = Vec::new();
            while !sh.stop.get() {
                let in_flight = sent.get() * n - sh.ops.get();
                if in_flight >= window * n {
                    tokio::select! {
                        () = notify.notified() => {}
                        r = sender.fill() => {
                            if r.is_err() { return; }
                            while let Some((op, r)) = sender.next_frame() {
                                if op == TEXT && sender.data(r) == b"2" {
                                    let _ = sender.send(&pong).await;
                                }
                            }
                        }
                    }
                    continue;
                }
                let count = ((window * n - in_flight) / n).max(1);
                for _ in 0..count {
                    let ts = format!("{:020}", base.elapsed().as_nanos());
                    template[at..at + 20].copy_from_slice(ts.as_bytes());
                    wbuf.extend_from_slice(&template);
                }
                sent.set(sent.get() + count);
                if sender.send(&wbuf).await.is_err() {
                    return;
                }
                wbuf.clear();
            }
        }));
    }
    let tasks = Tasks(handles);
    let samples = measure(&sh, &target).await;
    drop(tasks);
    Ok(samples)
}

async fn receive_loop(
    mut ws: Ws,
    sh: &Shared,
    base: Instant,
    sent: &Cell<u64>,
    notify: &Notify,
    n: u64,
    window: u64,
) -> io::Result<()> {
    let pong = text_frame(b"3");
    loop {
        ws.fill().await?;
        let now = base.elapsed().as_nanos() as u64;
        let mut done = 0;
        let mut ping = false;
        {
            let mut hist = sh.hist.borrow_mut();
            while let Some((op, r)) = ws.next_frame() {
                if op == CLOSE {
                    return Err(io::ErrorKind::ConnectionAborted.into());
                }
                if op != TEXT {
                    continue;
                }
                let d = ws.data(r);
                if d.starts_with(br#"42["bcast",""#) {
                    if let Some(ts) = parse_num(&d[12..]) {
                        let _ = hist.record((now.saturating_sub(ts) / 1000).max(1));
                        done += 1;
                    }
                } else if d == b"2" {
                    ping = true;
                }
            }
        }
        sh.ops.set(sh.ops.get() + done);
        if sent.get() * n - sh.ops.get() < window * n {
            notify.notify_one();
        }
        if ping {
            ws.send(&pong).await?;
        }
    }
}

/// Idle density: `clients` connected sockets that only answer pings; the
/// server's resident memory per client.
pub(crate) async fn idle(target: Target, clients: usize) -> Result<Vec<Sample>, String> {
    let before = rss_bytes(target.pid);
    let wss = connect_all(&target, clients, false, 512, Duration::from_secs(180)).await?;
    let tasks = Tasks(
        wss.into_iter()
            .map(|mut ws| {
                tokio::task::spawn_local(async move {
                    let pong = text_frame(b"3");
                    while let Ok((op, r)) = ws.next().await {
                        if op == TEXT && ws.data(r) == b"2" && ws.send(&pong).await.is_err() {
                            return;
                        }
                    }
                })
            })
            .collect(),
    );
    // Let the server settle, then read its memory a few times; keep the last.
    sleep(target.timing.warmup.max(Duration::from_secs(1))).await;
    let after = rss_bytes(target.pid);
    drop(tasks);
    let per = after.saturating_sub(before) as f64 / clients as f64;
    let sample = Sample {
        bytes_per_client: Some(per),
        ..Sample::default()
    };
    eprintln!(
        "    server RSS {:.1} MB -> {:.1} MB: {:.0} B per client",
        before as f64 / 1e6,
        after as f64 / 1e6,
        per
    );
    Ok(vec![sample])
}

/// Connection setup: `workers` clients each connect (handshake plus
/// namespace connect), then drop the connection (with a reset, so no
/// TIME_WAIT piles up), over and over. `polling`: start on long-polling and
/// upgrade to WebSocket, as the official client does by default.
pub(crate) async fn setup(
    target: Target,
    workers: usize,
    polling: bool,
) -> Result<Vec<Sample>, String> {
    let sh = Shared::new();
    let counter = Rc::new(Cell::new(0usize));
    let tasks = Tasks(
        (0..workers)
            .map(|_| {
                let (sh, counter) = (sh.clone(), counter.clone());
                tokio::task::spawn_local(async move {
                    while !sh.stop.get() {
                        let i = counter.get();
                        counter.set(i + 1);
                        let src = Some(IpAddr::V4(Ipv4Addr::new(
                            127,
                            0,
                            1 + (i % 250) as u8,
                            1 + (i / 250 % 250) as u8,
                        )));
                        let t0 = Instant::now();
                        let r = if polling {
                            setup_polling(target.addr, src).await
                        } else {
                            sio_connect(target.addr, src, target.socketio, 4096)
                                .await
                                .map(Ws::reset)
                        };
                        match r {
                            Ok(()) => {
                                let _ = sh.hist.borrow_mut().record(micros(t0.elapsed()));
                                sh.ops.set(sh.ops.get() + 1);
                            }
                            Err(e) => {
                                sh.errors.set(sh.errors.get() + 1);
                                sh.first_error
                                    .borrow_mut()
                                    .get_or_insert_with(|| e.to_string());
                                sleep(Duration::from_millis(5)).await;
                            }
                        }
                    }
                })
            })
            .collect(),
    );
    let samples = measure(&sh, &target).await;
    drop(tasks);
    Ok(samples)
}

/// GETs until the namespace CONNECT reply (`40...`) arrives (a server may
/// answer a first poll with something else, such as a noop).
pub(crate) async fn poll_until_connected(http: &mut Http, path: &str) -> io::Result<()> {
    for _ in 0..4 {
        let (status, body) = http.request("GET", path, b"").await?;
        if status != 200 {
            return Err(crate::ws::other(format!("connect: status {status}")));
        }
        if body.split(|&b| b == 0x1e).any(|p| p.starts_with(b"40")) {
            return Ok(());
        }
    }
    Err(crate::ws::other("no namespace CONNECT reply"))
}

async fn setup_polling(addr: SocketAddr, src: Option<IpAddr>) -> io::Result<()> {
    let mut http = Http::connect(addr, src).await?;
    let (status, open) = http
        .request("GET", "/socket.io/?EIO=4&transport=polling", b"")
        .await?;
    if status != 200 {
        return Err(crate::ws::other(format!("handshake: {status}")));
    }
    let sid = parse_sid(&open).ok_or_else(|| crate::ws::other("no sid"))?;
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    let (status, _) = http.request("POST", &path, b"40").await?;
    if status != 200 {
        return Err(crate::ws::other(format!("post: {status}")));
    }
    poll_until_connected(&mut http, &path).await?;
    let ws_path = format!("/socket.io/?EIO=4&transport=websocket&sid={sid}");
    let mut ws = Ws::connect(addr, src, &ws_path, 4096).await?;
    ws.send(&text_frame(b"2probe")).await?;
    ws.expect_text(b"3probe").await?;
    ws.send(&text_frame(b"5")).await?;
    ws.reset();
    http.reset();
    Ok(())
}

/// Long-polling message throughput: each client keeps `inflight` acked
/// `echo` events in flight over HTTP long-polling only (POSTs carry the
/// events, joined by the record separator; a GET is always pending).
pub(crate) async fn polling(
    target: Target,
    conns: usize,
    inflight: usize,
) -> Result<Vec<Sample>, String> {
    let sh = Shared::new();
    let mut handles = Vec::new();
    for _ in 0..conns {
        let sh = sh.clone();
        let (poster, getter, sid) = polling_open(target.addr)
            .await
            .map_err(|e| format!("polling connect: {e}"))?;
        let state = Rc::new(PollState {
            sent: RefCell::new(vec![None; inflight]),
            pong: Cell::new(false),
            notify: Notify::new(),
        });
        let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
        {
            let (sh, state, path) = (sh.clone(), state.clone(), path.clone());
            handles.push(tokio::task::spawn_local(async move {
                if poll_get_loop(getter, &path, &sh, &state).await.is_err() && !sh.stop.get() {
                    sh.errors.set(sh.errors.get() + 1);
                }
            }));
        }
        handles.push(tokio::task::spawn_local(async move {
            if poll_post_loop(poster, &path, &sh, &state).await.is_err() && !sh.stop.get() {
                sh.errors.set(sh.errors.get() + 1);
            }
        }));
    }
    let tasks = Tasks(handles);
    let samples = measure(&sh, &target).await;
    drop(tasks);
    Ok(samples)
}

const PAYLOAD32: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

struct PollState {
    sent: RefCell<Vec<Option<Instant>>>,
    pong: Cell<bool>,
    notify: Notify,
}

async fn polling_open(addr: SocketAddr) -> io::Result<(Http, Http, String)> {
    let mut http = Http::connect(addr, None).await?;
    let (_, open) = http
        .request("GET", "/socket.io/?EIO=4&transport=polling", b"")
        .await?;
    let sid = parse_sid(&open).ok_or_else(|| crate::ws::other("no sid"))?;
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    http.request("POST", &path, b"40").await?;
    poll_until_connected(&mut http, &path).await?;
    let getter = Http::connect(addr, None).await?;
    Ok((http, getter, sid))
}

async fn poll_post_loop(mut http: Http, path: &str, sh: &Shared, st: &PollState) -> io::Result<()> {
    let mut body = Vec::new();
    loop {
        body.clear();
        let now = Instant::now();
        if st.pong.replace(false) {
            body.push(b'3');
        }
        for (id, slot) in st.sent.borrow_mut().iter_mut().enumerate() {
            if slot.is_none() {
                if !body.is_empty() {
                    body.push(0x1e);
                }
                body.extend_from_slice(format!("42{id}[\"echo\",\"{PAYLOAD32}\"]").as_bytes());
                *slot = Some(now);
            }
        }
        if body.is_empty() || sh.stop.get() {
            st.notify.notified().await;
            continue;
        }
        let (status, _) = http.request("POST", path, &body).await?;
        if status != 200 {
            return Err(crate::ws::other(format!("post: {status}")));
        }
    }
}

async fn poll_get_loop(mut http: Http, path: &str, sh: &Shared, st: &PollState) -> io::Result<()> {
    loop {
        let (status, body) = http.request("GET", path, b"").await?;
        if status != 200 {
            return Err(crate::ws::other(format!("get: {status}")));
        }
        let now = Instant::now();
        let mut done = 0;
        let mut pong = false;
        for packet in body.split(|&b| b == 0x1e) {
            if packet.starts_with(b"43") {
                if let Some(id) = parse_num(&packet[2..]).map(|n| n as usize) {
                    if let Some(Some(t)) = st.sent.borrow_mut().get_mut(id).map(Option::take) {
                        let _ = sh.hist.borrow_mut().record(micros(now - t));
                        done += 1;
                    }
                }
            } else if packet == b"2" {
                pong = true;
            } else if packet.starts_with(b"1") {
                return Err(crate::ws::other("closed"));
            }
        }
        sh.ops.set(sh.ops.get() + done);
        if pong {
            st.pong.set(true);
        }
        st.notify.notify_one();
    }
}
