//! `rally-bench recovery`: what connection state recovery buys and costs.
//!
//! 1. Delivery under drops: a steady broadcast to a room of clients, each of
//!    which loses its connection once for 2 s (the TCP connection reset, no
//!    close) and comes back, sending `{pid, offset}` when the server gave a
//!    `pid`. The figure is the share of broadcasts each client received, once
//!    (duplicates and reordering are counted apart), with recovery off and on.
//! 2. Broadcast throughput: deliveries per second to a room of clients with
//!    a bounded number of broadcasts in flight, recovery off and on (on, every
//!    broadcast also gets an offset and goes to the log).
//!
//! The Rally server runs in this process on a runtime of its own pinned to
//! the server CPU (its broadcaster is a task there), the clients on this
//! thread pinned to the load generator's CPU.

use std::{
    collections::HashSet,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use rally::{ConnectionStateRecovery, Server};
use tokio::sync::{Notify, oneshot};

use crate::ws::{CLOSE, TEXT, Ws, find, parse_num, text_frame};

/// Options of the scenario.
#[derive(Clone, Copy, Debug)]
struct Options {
    clients: usize,
    /// Broadcasts per second in the delivery part.
    rate: u64,
    /// How long the steady broadcast lasts.
    seconds: u64,
    /// How long each client stays away.
    drop_for: Duration,
    /// Clients of the throughput part.
    fanout_clients: usize,
    /// Broadcasts of the throughput part.
    fanout_broadcasts: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            clients: 50,
            rate: 500,
            seconds: 8,
            drop_for: Duration::from_secs(2),
            fanout_clients: 500,
            fanout_broadcasts: 2000,
        }
    }
}

/// Runs both parts and prints the figures (Markdown).
pub(crate) fn main(args: &[String]) -> Result<(), String> {
    let mut o = Options::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| -> Result<u64, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or(format!("{name} needs a number"))
        };
        match a.as_str() {
            "--clients" => o.clients = value("--clients")? as usize,
            "--rate" => o.rate = value("--rate")?.max(1),
            "--seconds" => o.seconds = value("--seconds")?.max(4),
            "--fanout-clients" => o.fanout_clients = value("--fanout-clients")? as usize,
            "--fanout-broadcasts" => o.fanout_broadcasts = value("--fanout-broadcasts")?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    crate::peer::raise_nofile();
    crate::peer::pin_self(crate::CLIENT_CPU)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let local = tokio::task::LocalSet::new();
    let mut lines = vec![
        format!(
            "## Connection state recovery: {} clients, {} broadcasts/s for {} s, each client away {} s once",
            o.clients,
            o.rate,
            o.seconds,
            o.drop_for.as_secs()
        ),
        String::new(),
        "| recovery | delivered | duplicates | out of order | recovered reconnections |".into(),
        "| --- | --- | --- | --- | --- |".into(),
    ];
    for on in [false, true] {
        eprintln!("delivery under drops, recovery {}", on_off(on));
        let d = local.block_on(&rt, delivery(o, on))?;
        lines.push(format!(
            "| {} | {:.3}% ({} of {}) | {} | {} | {} of {} |",
            on_off(on),
            d.delivered as f64 * 100.0 / d.expected.max(1) as f64,
            d.delivered,
            d.expected,
            d.duplicates,
            d.out_of_order,
            d.recovered,
            o.clients
        ));
    }
    lines.extend([
        String::new(),
        format!(
            "## Broadcast throughput: a room of {} clients, {} broadcasts, 8 in flight (best of 3)",
            o.fanout_clients, o.fanout_broadcasts
        ),
        String::new(),
        "| recovery | deliveries/s |".into(),
        "| --- | --- |".into(),
    ]);
    let mut rates = Vec::new();
    for on in [false, true] {
        let mut best: f64 = 0.0;
        for run in 1..=3 {
            let rate = local.block_on(&rt, throughput(o, on))?;
            eprintln!(
                "throughput, recovery {}, run {run}: {rate:.0}/s",
                on_off(on)
            );
            best = best.max(rate);
        }
        rates.push(best);
        lines.push(format!("| {} | {best:.0} |", on_off(on)));
    }
    lines.push(format!(
        "\nCost of recovery in broadcast throughput: {:.1}%",
        (1.0 - rates[1] / rates[0]) * 100.0
    ));
    println!("{}", lines.join("\n"));
    Ok(())
}

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

/// A Rally server on a thread and runtime of its own, pinned to the server
/// CPU; every socket joins room "room".
struct Running {
    addr: SocketAddr,
    io: Server,
    handle: tokio::runtime::Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    fn start(recovery: bool) -> Result<Self, String> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let _ = crate::peer::pin_self(crate::SERVER_CPU);
            let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let mut builder = Server::builder();
                if recovery {
                    builder = builder.connection_state_recovery(ConnectionStateRecovery::default());
                }
                let io = builder.build();
                io.of("/").on_connection(|socket| async move {
                    if !socket.recovered() {
                        socket.join("room");
                    }
                });
                let Ok(listener) = tokio::net::TcpListener::bind("127.0.0.1:0").await else {
                    return;
                };
                let Ok(addr) = listener.local_addr() else {
                    return;
                };
                tokio::spawn(rally::serve(listener, io.clone()));
                let _ = ready_tx.send((addr, io, tokio::runtime::Handle::current()));
                let _ = stopped.await;
            });
            rt.shutdown_timeout(Duration::from_millis(200));
        });
        let (addr, io, handle) = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| "the Rally server did not start".to_owned())?;
        Ok(Self {
            addr,
            io,
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Opens a WebSocket session and sends the CONNECT for `/` with `auth`.
async fn open(addr: SocketAddr, auth: Option<String>) -> std::io::Result<Ws> {
    let mut ws = Ws::connect(
        addr,
        None,
        "/socket.io/?EIO=4&transport=websocket",
        64 * 1024,
    )
    .await?;
    ws.expect_text(b"0").await?;
    let connect = match auth {
        Some(auth) => format!("40{auth}"),
        None => "40".to_owned(),
    };
    ws.send(&text_frame(connect.as_bytes())).await?;
    Ok(ws)
}

/// The string value of `"name":"..."` in `d`.
fn string_field(d: &[u8], name: &str) -> Option<String> {
    let key = format!("\"{name}\":\"");
    let at = find(d, key.as_bytes())? + key.len();
    let len = d[at..].iter().position(|&c| c == b'"')?;
    Some(String::from_utf8_lossy(&d[at..at + len]).into_owned())
}

/// The offset ending an event (its last argument, a string), if any.
fn offset(d: &[u8]) -> Option<String> {
    let body = d.strip_suffix(b"\"]")?;
    let at = body.iter().rposition(|&c| c == b'"')?;
    (at > 0 && body[at - 1] == b',').then(|| String::from_utf8_lossy(&body[at + 1..]).into_owned())
}

#[derive(Default)]
struct Seen {
    ticks: Vec<u64>,
    recovered: bool,
}

/// One client of the delivery part: receives ticks until "end", away for
/// `drop_for` once at `drop_at`.
async fn client(addr: SocketAddr, drop_at: Instant, drop_for: Duration) -> Result<Seen, String> {
    let mut seen = Seen::default();
    let (mut sid, mut pid, mut last) = (None::<String>, None::<String>, None::<String>);
    let mut dropped = false;
    let pong = text_frame(b"3");
    let give_up = Instant::now() + Duration::from_secs(60);
    let mut auth = None;
    loop {
        let mut ws = open(addr, auth.take()).await.map_err(|e| e.to_string())?;
        loop {
            while let Some((op, r)) = ws.next_frame() {
                if op == CLOSE {
                    return Err("closed by the server".into());
                }
                if op != TEXT {
                    continue;
                }
                let d = ws.data(r).to_vec();
                if d == b"2" {
                    ws.send(&pong).await.map_err(|e| e.to_string())?;
                } else if d.starts_with(b"40{") {
                    let new_sid = string_field(&d, "sid");
                    if dropped && sid.is_some() && new_sid == sid {
                        seen.recovered = true;
                    }
                    sid = new_sid;
                    pid = string_field(&d, "pid");
                } else if d.starts_with(br#"42["tick","#) {
                    if let Some(n) = parse_num(&d[10..]) {
                        seen.ticks.push(n);
                    }
                    if pid.is_some() {
                        last = offset(&d).or(last);
                    }
                } else if d.starts_with(br#"42["end""#) {
                    ws.reset();
                    return Ok(seen);
                }
            }
            let deadline = if dropped { give_up } else { drop_at };
            match tokio::time::timeout_at(deadline.into(), ws.fill()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e.to_string()),
                Err(_) if dropped => return Err("no end within 60 s".into()),
                Err(_) => break,
            }
        }
        // The network goes away: a reset, nothing said; back after a while.
        ws.reset();
        dropped = true;
        tokio::time::sleep(drop_for).await;
        if let (Some(pid), Some(offset)) = (&pid, &last) {
            auth = Some(format!(r#"{{"pid":"{pid}","offset":"{offset}"}}"#));
        }
    }
}

struct Delivery {
    expected: u64,
    delivered: u64,
    duplicates: u64,
    out_of_order: u64,
    recovered: usize,
}

async fn delivery(o: Options, recovery: bool) -> Result<Delivery, String> {
    let server = Running::start(recovery)?;
    let total = o.rate * o.seconds;
    let start = Instant::now() + Duration::from_millis(500);
    let mut clients = Vec::with_capacity(o.clients);
    for i in 0..o.clients {
        // Drops spread over the broadcast, from 1 s to `seconds - 3` s in.
        let span = (o.seconds - 3) * 1000;
        let at = start + Duration::from_millis(1000 + span * i as u64 / o.clients as u64);
        clients.push(tokio::task::spawn_local(client(
            server.addr,
            at,
            o.drop_for,
        )));
    }
    // Every client in the room before the first tick.
    while server.io.of("/").sockets().len() < o.clients {
        if Instant::now() > start + Duration::from_secs(30) {
            return Err("the clients did not all connect".into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let io = server.io.clone();
    let period = Duration::from_nanos(1_000_000_000 / o.rate);
    let broadcaster = server.handle.spawn(async move {
        tokio::time::sleep_until(start.into()).await;
        let mut tick = tokio::time::interval(period);
        for n in 0..total {
            tick.tick().await;
            let _ = io.to("room").emit("tick", &n);
        }
        let _ = io.to("room").emit("end", ());
    });
    let mut result = Delivery {
        expected: total * o.clients as u64,
        delivered: 0,
        duplicates: 0,
        out_of_order: 0,
        recovered: 0,
    };
    for c in clients {
        let seen = c.await.map_err(|e| e.to_string())??;
        let unique: HashSet<u64> = seen.ticks.iter().copied().collect();
        result.delivered += unique.len() as u64;
        result.duplicates += (seen.ticks.len() - unique.len()) as u64;
        result.out_of_order += seen.ticks.windows(2).filter(|w| w[1] <= w[0]).count() as u64;
        result.recovered += usize::from(seen.recovered);
    }
    broadcaster.await.map_err(|e| e.to_string())?;
    Ok(result)
}

/// Deliveries per second to a room of clients, 8 broadcasts in flight.
async fn throughput(o: Options, recovery: bool) -> Result<f64, String> {
    let server = Running::start(recovery)?;
    let delivered = Arc::new(AtomicU64::new(0));
    let notify = Arc::new(Notify::new());
    let mut readers = Vec::new();
    for _ in 0..o.fanout_clients {
        let mut ws = open(server.addr, None).await.map_err(|e| e.to_string())?;
        ws.expect_text(b"40").await.map_err(|e| e.to_string())?;
        let (delivered, notify) = (delivered.clone(), notify.clone());
        readers.push(tokio::task::spawn_local(async move {
            let pong = text_frame(b"3");
            loop {
                if ws.fill().await.is_err() {
                    return;
                }
                let mut n = 0;
                let mut ping = false;
                while let Some((op, r)) = ws.next_frame() {
                    if op == TEXT {
                        let d = ws.data(r);
                        if d.starts_with(br#"42["b""#) {
                            n += 1;
                        } else if d == b"2" {
                            ping = true;
                        }
                    }
                }
                if ping && ws.send(&pong).await.is_err() {
                    return;
                }
                if n > 0 {
                    delivered.fetch_add(n, Ordering::Relaxed);
                    notify.notify_one();
                }
            }
        }));
    }
    while server.io.of("/").sockets().len() < o.fanout_clients {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let k = o.fanout_clients as u64;
    let total = o.fanout_broadcasts;
    let io = server.io.clone();
    let (d, nt) = (delivered.clone(), notify.clone());
    let started = Instant::now();
    let broadcaster = server.handle.spawn(async move {
        let payload = "x".repeat(32);
        let mut sent = 0;
        while sent < total {
            while sent < total && sent * k - d.load(Ordering::Relaxed) < 8 * k {
                let _ = io.to("room").emit("b", &payload);
                sent += 1;
            }
            nt.notified().await;
        }
    });
    let deadline = started + Duration::from_secs(120);
    while delivered.load(Ordering::Relaxed) < total * k {
        if Instant::now() > deadline {
            return Err("the deliveries did not all arrive within 120 s".into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    notify.notify_one();
    broadcaster.await.map_err(|e| e.to_string())?;
    for r in readers {
        r.abort();
    }
    Ok((total * k) as f64 / elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_offsets_and_fields() {
        assert_eq!(
            offset(br#"42["tick",5,"abc.17"]"#).as_deref(),
            Some("abc.17")
        );
        assert_eq!(offset(br#"42["tick",5]"#), None);
        assert_eq!(offset(br#"42["end"]"#), None);
        assert_eq!(
            string_field(br#"40{"sid":"a","pid":"b"}"#, "pid").as_deref(),
            Some("b")
        );
    }
}
