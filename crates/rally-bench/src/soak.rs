//! Soak: `clients` connections held for `duration` seconds while a share
//! of them (`churn` per second) disconnects and comes back, and `probes`
//! of them send one acked `echo` per second. Every `interval` the server's
//! RSS and the probes' latency are recorded: both must stay flat after the
//! warm-up (the first fifth of the run).

use std::{
    cell::{Cell, RefCell},
    net::SocketAddr,
    rc::Rc,
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use serde_json::json;
use tokio::{sync::Notify, time::sleep};

use crate::{
    hardening::{
        Opts, Report, Rng, Series, chart, connect, connect_many, histogram, ms, rss_mb, source,
    },
    peer::Running,
    ws::{CLOSE, TEXT, Ws, text_frame},
};

#[derive(Default)]
struct State {
    connected: Cell<usize>,
    churned: Cell<u64>,
    acks: Cell<u64>,
    errors: Cell<u64>,
    first_error: RefCell<Option<String>>,
    latency: RefCell<Option<Histogram<u64>>>,
}

impl State {
    fn error(&self, e: impl ToString) {
        self.errors.set(self.errors.get() + 1);
        self.first_error
            .borrow_mut()
            .get_or_insert_with(|| e.to_string());
    }
}

/// One point of the time series.
struct Point {
    t: f64,
    connected: usize,
    rss_mb: f64,
    p50_ms: f64,
    p99_ms: f64,
    acks_per_s: f64,
    churned: u64,
    errors: u64,
}

pub(crate) async fn run(server: &Running, o: &Opts) -> Result<Report, String> {
    let rss_empty = rss_mb(server);
    let wss = connect_many(server.addr, o.clients, false, 512).await?;
    let st = Rc::new(State::default());
    st.connected.set(wss.len());
    *st.latency.borrow_mut() = Some(histogram());
    let probes = o.probes.min(o.clients);
    let mut kicks = Vec::new();
    let mut tasks = Vec::new();
    for (i, ws) in wss.into_iter().enumerate() {
        let st = st.clone();
        if i < probes {
            tasks.push(tokio::task::spawn_local(probe(ws, st)));
        } else {
            let kick = Rc::new(Notify::new());
            kicks.push(kick.clone());
            let (addr, n) = (server.addr, o.clients);
            tasks.push(tokio::task::spawn_local(member(ws, addr, i, n, kick, st)));
        }
    }

    let started = Instant::now();
    let mut rng = Rng::new(1);
    let mut owed = 0.0;
    let mut points = Vec::new();
    let (mut acks0, mut last) = (0, Instant::now());
    let end = Duration::from_secs(o.duration);
    while started.elapsed() < end {
        sleep(Duration::from_secs(1)).await;
        owed += o.churn * kicks.len() as f64;
        while owed >= 1.0 && !kicks.is_empty() {
            kicks[(rng.next() % kicks.len() as u64) as usize].notify_one();
            owed -= 1.0;
        }
        if last.elapsed() >= Duration::from_secs(o.interval) || started.elapsed() >= end {
            let h = st
                .latency
                .replace(Some(histogram()))
                .unwrap_or_else(histogram);
            let acks = st.acks.get();
            let p = Point {
                t: started.elapsed().as_secs_f64(),
                connected: st.connected.get(),
                rss_mb: rss_mb(server),
                p50_ms: ms(&h, 0.5),
                p99_ms: ms(&h, 0.99),
                acks_per_s: (acks - acks0) as f64 / last.elapsed().as_secs_f64(),
                churned: st.churned.get(),
                errors: st.errors.get(),
            };
            eprintln!(
                "    {:>5.0} s  {} connected  RSS {:.1} MB  p50 {:.2} ms  p99 {:.2} ms  {:.0} acks/s  {} churned  {} errors",
                p.t, p.connected, p.rss_mb, p.p50_ms, p.p99_ms, p.acks_per_s, p.churned, p.errors
            );
            points.push(p);
            (acks0, last) = (acks, Instant::now());
        }
    }
    for t in &tasks {
        t.abort();
    }
    if let Some(e) = st.first_error.borrow().as_ref() {
        eprintln!("    first error: {e}");
    }
    Ok(report(
        o,
        rss_empty,
        &points,
        st.first_error.borrow().clone(),
    ))
}

/// A client that answers pings and, when kicked, drops its connection and
/// opens a new one (a churned client).
async fn member(mut ws: Ws, addr: SocketAddr, i: usize, n: usize, kick: Rc<Notify>, st: Rc<State>) {
    let pong = text_frame(b"3");
    loop {
        let (kicked, mut closed) = tokio::select! {
            () = kick.notified() => (true, false),
            r = ws.fill() => (false, r.is_err()),
        };
        while let Some((op, r)) = ws.next_frame() {
            let ping = op == TEXT && ws.data(r) == b"2";
            if op == CLOSE || (ping && ws.send(&pong).await.is_err()) {
                closed = true;
            }
        }
        if !kicked && !closed {
            continue;
        }
        if closed {
            st.error(format!("client {i}: the server closed the connection"));
        } else {
            st.churned.set(st.churned.get() + 1);
        }
        ws.reset();
        st.connected.set(st.connected.get() - 1);
        ws = loop {
            match connect(addr, source(i, n), false, 512).await {
                Ok(ws) => break ws,
                Err(e) => {
                    st.error(format!("client {i} reconnecting: {e}"));
                    sleep(Duration::from_secs(1)).await;
                }
            }
        };
        st.connected.set(st.connected.get() + 1);
    }
}

/// A client that sends one acked `echo` per second and records how long
/// the ack takes.
async fn probe(mut ws: Ws, st: Rc<State>) {
    for id in 0u64.. {
        sleep(Duration::from_secs(1)).await;
        let t0 = Instant::now();
        let frame = text_frame(format!(r#"42{id}["echo","probe"]"#).as_bytes());
        let ack = format!("43{id}[");
        let round = async {
            ws.send(&frame).await?;
            ws.expect_text(ack.as_bytes()).await
        };
        match tokio::time::timeout(Duration::from_secs(10), round).await {
            Ok(Ok(_)) => {
                let us = (t0.elapsed().as_micros() as u64).max(1);
                if let Some(h) = st.latency.borrow_mut().as_mut() {
                    let _ = h.record(us);
                }
                st.acks.set(st.acks.get() + 1);
            }
            Ok(Err(e)) => {
                st.error(format!("probe: {e}"));
                return;
            }
            Err(_) => st.error("probe: no ack within 10 s"),
        }
    }
}

fn report(o: &Opts, rss_empty: f64, points: &[Point], first_error: Option<String>) -> Report {
    let warm = o.duration as f64 / 5.0;
    let after: Vec<&Point> = points.iter().filter(|p| p.t >= warm).collect();
    let rss_warm = after.first().map_or(0.0, |p| p.rss_mb);
    let rss_end = points.last().map_or(0.0, |p| p.rss_mb);
    let rss_max = after.iter().map(|p| p.rss_mb).fold(0.0, f64::max);
    let p99_max = after.iter().map(|p| p.p99_ms).fold(0.0, f64::max);
    let growth = if rss_warm > 0.0 {
        (rss_end - rss_warm) / rss_warm * 100.0
    } else {
        0.0
    };
    // Allocators take a while to reach their steady state under churn:
    // the growth over the second half tells a leak from a warm-up.
    let half = o.duration as f64 / 2.0;
    let rss_half = points
        .iter()
        .find(|p| p.t >= half)
        .map_or(0.0, |p| p.rss_mb);
    let growth_half = if rss_half > 0.0 {
        (rss_end - rss_half) / rss_half * 100.0
    } else {
        0.0
    };
    let churned = points.last().map_or(0, |p| p.churned);
    let errors = points.last().map_or(0, |p| p.errors);
    let mut md = format!(
        "### Soak: {} clients, {} s, {:.1}% churn per second\n\n\
         Server RSS {rss_empty:.1} MB empty; {rss_warm:.1} MB after the warm-up ({warm:.0} s), \
         {rss_end:.1} MB at the end ({growth:+.1}%; {growth_half:+.1}% over the second half), \
         at most {rss_max:.1} MB after the warm-up. \
         Probe ack latency (worst p99 of an interval after the warm-up): {p99_max:.2} ms. \
         {churned} clients churned, {errors} errors.\n\n\
         | t (s) | connected | server RSS (MB) | ack p50 (ms) | ack p99 (ms) | acks/s | churned | errors |\n\
         | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        o.clients,
        o.duration,
        o.churn * 100.0
    );
    for p in points {
        md.push_str(&format!(
            "| {:.0} | {} | {:.1} | {:.2} | {:.2} | {:.0} | {} | {} |\n",
            p.t, p.connected, p.rss_mb, p.p50_ms, p.p99_ms, p.acks_per_s, p.churned, p.errors
        ));
    }
    if let Some(e) = &first_error {
        md.push_str(&format!("\nFirst error: {e}\n"));
    }
    let svg = chart(
        &format!(
            "Soak: {} clients, {:.1}%/s churn: server RSS and probe ack p99 over time",
            o.clients,
            o.churn * 100.0
        ),
        "MB",
        "ms",
        &[
            Series {
                name: "server RSS (MB)",
                color: "#00798c",
                right: false,
                points: points.iter().map(|p| (p.t, p.rss_mb)).collect(),
            },
            Series {
                name: "ack p99 (ms)",
                color: "#d1495b",
                right: true,
                points: points.iter().map(|p| (p.t, p.p99_ms)).collect(),
            },
        ],
    );
    let json = json!({
        "scenario": "soak",
        "clients": o.clients,
        "duration_s": o.duration,
        "churn_per_s": o.churn,
        "probes": o.probes,
        "rss_empty_mb": rss_empty,
        "rss_after_warmup_mb": rss_warm,
        "rss_end_mb": rss_end,
        "rss_growth_pct": growth,
        "rss_growth_second_half_pct": growth_half,
        "p99_max_ms": p99_max,
        "first_error": first_error,
        "points": points.iter().map(|p| json!({
            "t": p.t, "connected": p.connected, "rss_mb": p.rss_mb, "p50_ms": p.p50_ms,
            "p99_ms": p.p99_ms, "acks_per_s": p.acks_per_s, "churned": p.churned, "errors": p.errors,
        })).collect::<Vec<_>>(),
    });
    Report {
        markdown: md,
        json,
        svg,
    }
}
