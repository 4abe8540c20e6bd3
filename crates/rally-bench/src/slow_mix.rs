//! Slow-consumer mix: `clients` healthy clients in room `r` receive
//! `rate` broadcasts per second of `payload` bytes. A third of the way in,
//! `slow` clients join the room too: they answer pings (blindly, every
//! second) but never read. The server must drop each of them once its
//! outgoing queue is full, while the healthy clients' delivery latency
//! stays where it was before they came. The queue bound is the server's
//! default (4096 frames) unless `RALLY_BENCH_MAX_BUFFERED_FRAMES` is set.

use std::{
    cell::{Cell, RefCell},
    rc::Rc,
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use serde_json::json;
use tokio::time::sleep;

use crate::{
    hardening::{Opts, Report, Series, chart, connect, connect_many, histogram, ms, rss_mb},
    peer::Running,
    ws::{CLOSE, TEXT, Ws, parse_num, sio_connect, text_frame},
};

#[derive(Default)]
struct State {
    deliveries: Cell<u64>,
    errors: Cell<u64>,
    latency: RefCell<Option<Histogram<u64>>>,
    /// Slow clients connected, and those the server dropped.
    slow_in: Cell<usize>,
    slow_dropped: Cell<usize>,
}

struct Point {
    t: f64,
    p50_ms: f64,
    p99_ms: f64,
    deliveries_per_s: f64,
    rss_mb: f64,
    slow_in: usize,
    slow_dropped: usize,
}

pub(crate) async fn run(server: &Running, o: &Opts) -> Result<Report, String> {
    let healthy = connect_many(server.addr, o.clients, true, 64 * 1024).await?;
    let st = Rc::new(State::default());
    *st.latency.borrow_mut() = Some(histogram());
    let base = Instant::now();
    let mut tasks = Vec::new();
    for ws in healthy {
        tasks.push(tokio::task::spawn_local(receive(ws, st.clone(), base)));
    }
    let mut sender = sio_connect(server.addr, None, true, 16 * 1024)
        .await
        .map_err(|e| format!("sender: {e}"))?;
    let (rate, payload) = (o.rate, o.payload.max(24));
    tasks.push(tokio::task::spawn_local(async move {
        let mut frame = format!(r#"42["bcast","r","{}"]"#, "x".repeat(payload)).into_bytes();
        let at = r#"42["bcast","r",""#.len();
        let pong = text_frame(b"3");
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
        loop {
            tick.tick().await;
            let ts = format!("{:020}", base.elapsed().as_nanos());
            frame[at..at + 20].copy_from_slice(ts.as_bytes());
            if sender.send(&text_frame(&frame)).await.is_err() {
                return;
            }
            while let Some((op, r)) = sender.next_frame() {
                if op == TEXT && sender.data(r) == b"2" && sender.send(&pong).await.is_err() {
                    return;
                }
            }
            let _ = tokio::time::timeout(Duration::ZERO, sender.fill()).await;
        }
    }));

    let started = Instant::now();
    let slow_at = Duration::from_secs(o.duration / 3);
    let end = Duration::from_secs(o.duration);
    let mut slow_started = false;
    let mut points = Vec::new();
    let (mut d0, mut last) = (0, Instant::now());
    let mut rss_before_slow = 0.0;
    while started.elapsed() < end {
        sleep(Duration::from_secs(1)).await;
        if !slow_started && started.elapsed() >= slow_at {
            slow_started = true;
            rss_before_slow = rss_mb(server);
            eprintln!("    {} slow clients join", o.slow);
            for i in 0..o.slow {
                let (st, addr) = (st.clone(), server.addr);
                tasks.push(tokio::task::spawn_local(async move {
                    match connect(addr, None, true, 4096).await {
                        Ok(ws) => slow(ws, &st).await,
                        Err(e) => eprintln!("    slow client {i}: {e}"),
                    }
                }));
            }
        }
        if last.elapsed() >= Duration::from_secs(o.interval) || started.elapsed() >= end {
            let h = st
                .latency
                .replace(Some(histogram()))
                .unwrap_or_else(histogram);
            let d = st.deliveries.get();
            let p = Point {
                t: started.elapsed().as_secs_f64(),
                p50_ms: ms(&h, 0.5),
                p99_ms: ms(&h, 0.99),
                deliveries_per_s: (d - d0) as f64 / last.elapsed().as_secs_f64(),
                rss_mb: rss_mb(server),
                slow_in: st.slow_in.get(),
                slow_dropped: st.slow_dropped.get(),
            };
            eprintln!(
                "    {:>5.0} s  p50 {:.2} ms  p99 {:.2} ms  {:.0} deliveries/s  RSS {:.1} MB  slow: {} in, {} dropped",
                p.t, p.p50_ms, p.p99_ms, p.deliveries_per_s, p.rss_mb, p.slow_in, p.slow_dropped
            );
            points.push(p);
            (d0, last) = (d, Instant::now());
        }
    }
    for t in &tasks {
        t.abort();
    }
    Ok(report(
        o,
        &points,
        rss_before_slow,
        slow_at.as_secs_f64(),
        st.errors.get(),
    ))
}

/// A healthy client: reads every broadcast, records its latency.
async fn receive(mut ws: Ws, st: Rc<State>, base: Instant) {
    let pong = text_frame(b"3");
    loop {
        if ws.fill().await.is_err() {
            st.errors.set(st.errors.get() + 1);
            return;
        }
        let now = base.elapsed().as_nanos() as u64;
        let mut ping = false;
        while let Some((op, r)) = ws.next_frame() {
            if op == CLOSE {
                st.errors.set(st.errors.get() + 1);
                return;
            }
            let d = ws.data(r);
            if let Some(ts) = d.strip_prefix(br#"42["bcast",""#).and_then(parse_num) {
                if let Some(h) = st.latency.borrow_mut().as_mut() {
                    let _ = h.record((now.saturating_sub(ts) / 1000).max(1));
                }
                st.deliveries.set(st.deliveries.get() + 1);
            } else if d == b"2" {
                ping = true;
            }
        }
        if ping && ws.send(&pong).await.is_err() {
            st.errors.set(st.errors.get() + 1);
            return;
        }
    }
}

/// A slow client: a pong every second, never a read; counted as dropped
/// once a write fails (the server closed the connection).
async fn slow(mut ws: Ws, st: &State) {
    st.slow_in.set(st.slow_in.get() + 1);
    let pong = text_frame(b"3");
    loop {
        sleep(Duration::from_secs(1)).await;
        if ws.send(&pong).await.is_err() {
            st.slow_dropped.set(st.slow_dropped.get() + 1);
            return;
        }
    }
}

fn report(o: &Opts, points: &[Point], rss_before_slow: f64, slow_at: f64, errors: u64) -> Report {
    // Three phases: before the slow clients (the first interval, which
    // holds the connection setup, left out), while some are connected, and
    // after the server dropped them all.
    let before: Vec<&Point> = points
        .iter()
        .skip(1)
        .filter(|p| p.t <= slow_at + 0.5)
        .collect();
    let during: Vec<&Point> = points
        .iter()
        .filter(|p| p.t > slow_at + 0.5 && (p.slow_dropped < p.slow_in || p.slow_in == 0))
        .collect();
    let after: Vec<&Point> = points
        .iter()
        .filter(|p| p.t > slow_at + 0.5 && p.slow_in > 0 && p.slow_dropped == p.slow_in)
        .collect();
    // The median interval's p50 and the worst interval's p99 of a phase
    // (zero for a phase without a point).
    let phase = |ps: &[&Point]| {
        let mut p50: Vec<f64> = ps.iter().map(|p| p.p50_ms).collect();
        p50.sort_by(f64::total_cmp);
        let median = p50.get(p50.len() / 2).copied().unwrap_or(0.0);
        (median, ps.iter().map(|p| p.p99_ms).fold(0.0, f64::max))
    };
    let ((b50, b99), (d50, d99), (a50, a99)) = (phase(&before), phase(&during), phase(&after));
    let shown = |ps: &[&Point], p50: f64, p99: f64| {
        if ps.is_empty() {
            "n/a (no interval)".to_owned()
        } else {
            format!("{p50:.2} / {p99:.2} ms")
        }
    };
    let last = points.last();
    let dropped = last.map_or(0, |p| p.slow_dropped);
    let slow_in = last.map_or(0, |p| p.slow_in);
    let rss_end = last.map_or(0.0, |p| p.rss_mb);
    let rss_peak = points.iter().map(|p| p.rss_mb).fold(0.0, f64::max);
    let dropped_at = after.first().map(|p| p.t - slow_at);
    let queue = crate::serve::max_buffered_frames().unwrap_or(4096);
    let mut md = format!(
        "### Slow-consumer mix: {} healthy clients, {} slow, {} broadcasts/s of {} B, queue bound {queue} frames\n\n\
         Healthy clients' delivery latency (median interval p50 / worst interval p99): {} \
         before the slow clients came, {} while they were connected, {} \
         after the server dropped them. {dropped} of {slow_in} slow clients dropped{}. Server RSS \
         {rss_before_slow:.1} MB before them, at most {rss_peak:.1} MB, {rss_end:.1} MB at the end. \
         {errors} healthy clients lost.\n\n\
         | t (s) | p50 (ms) | p99 (ms) | deliveries/s | server RSS (MB) | slow in | slow dropped |\n\
         | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        o.clients,
        o.slow,
        o.rate,
        o.payload,
        shown(&before, b50, b99),
        shown(&during, d50, d99),
        shown(&after, a50, a99),
        dropped_at.map_or(String::new(), |s| format!(
            " (all within {s:.0} s of joining)"
        )),
    );
    for p in points {
        md.push_str(&format!(
            "| {:.0} | {:.2} | {:.2} | {:.0} | {:.1} | {} | {} |\n",
            p.t, p.p50_ms, p.p99_ms, p.deliveries_per_s, p.rss_mb, p.slow_in, p.slow_dropped
        ));
    }
    let svg = chart(
        &format!(
            "Slow-consumer mix: healthy clients' broadcast p99; {} slow clients join at {slow_at:.0} s",
            o.slow
        ),
        "ms",
        "clients",
        &[
            Series {
                name: "healthy p99 (ms)",
                color: "#d1495b",
                right: false,
                points: points.iter().map(|p| (p.t, p.p99_ms)).collect(),
            },
            Series {
                name: "slow clients connected",
                color: "#edae49",
                right: true,
                points: points
                    .iter()
                    .map(|p| (p.t, (p.slow_in - p.slow_dropped) as f64))
                    .collect(),
            },
        ],
    );
    let json = json!({
        "scenario": "slow-mix",
        "clients": o.clients,
        "slow": o.slow,
        "rate": o.rate,
        "payload": o.payload,
        "before": {"p50_ms": b50, "p99_ms": b99},
        "during": {"p50_ms": d50, "p99_ms": d99},
        "after": {"p50_ms": a50, "p99_ms": a99},
        "rss_peak_mb": rss_peak,
        "queue_bound_frames": crate::serve::max_buffered_frames().unwrap_or(4096),
        "slow_dropped": dropped,
        "slow_in": slow_in,
        "all_dropped_after_s": dropped_at,
        "healthy_lost": errors,
        "rss_before_slow_mb": rss_before_slow,
        "rss_end_mb": rss_end,
        "points": points.iter().map(|p| json!({
            "t": p.t, "p50_ms": p.p50_ms, "p99_ms": p.p99_ms, "deliveries_per_s": p.deliveries_per_s,
            "rss_mb": p.rss_mb, "slow_in": p.slow_in, "slow_dropped": p.slow_dropped,
        })).collect::<Vec<_>>(),
    });
    Report {
        markdown: md,
        json,
        svg,
    }
}
