//! Reconnect storm: `clients` connections are dropped at once (every TCP
//! connection reset together, as when a load balancer or a network path
//! goes away), and each client reconnects as the official one does: the
//! first attempt after its backoff delay (1 s ± 50%), then doubling up to
//! 5 s between failed attempts, each with the client's 20 s timeout. The
//! figures: how long until every client is back, how the reconnections
//! spread, and every refused attempt with its cause (there should be none).

use std::{
    cell::{Cell, RefCell},
    collections::BTreeMap,
    rc::Rc,
    time::{Duration, Instant},
};

use serde_json::json;
use tokio::{sync::Notify, time::sleep};

use crate::{
    hardening::{
        Opts, Report, Rng, Series, backoff, chart, connect, connect_many, histogram, ms, rss_mb,
        source,
    },
    peer::Running,
    ws::{CLOSE, TEXT, Ws, text_frame},
};

#[derive(Default)]
struct State {
    dropped: Cell<bool>,
    /// When each client came back, in ms after the drop.
    back_ms: RefCell<Vec<u64>>,
    attempts: Cell<u64>,
    /// Failed attempts by cause.
    failures: RefCell<BTreeMap<String, u64>>,
    /// Clients whose connection ended before the drop.
    lost_early: Cell<u64>,
}

pub(crate) async fn run(server: &Running, o: &Opts) -> Result<Report, String> {
    let wss = connect_many(server.addr, o.clients, false, 512).await?;
    let st = Rc::new(State::default());
    let drop_now = Rc::new(Notify::new());
    let t_drop = Rc::new(Cell::new(Instant::now()));
    let mut tasks = Vec::new();
    for (i, ws) in wss.into_iter().enumerate() {
        let (st, drop_now, t_drop) = (st.clone(), drop_now.clone(), t_drop.clone());
        let (addr, n) = (server.addr, o.clients);
        tasks.push(tokio::task::spawn_local(async move {
            let Some(ws) = hold(ws, &st, &drop_now).await else {
                st.lost_early.set(st.lost_early.get() + 1);
                return;
            };
            ws.reset();
            let mut rng = Rng::new(i as u64);
            for attempt in 0u32.. {
                sleep(backoff(attempt, &mut rng)).await;
                st.attempts.set(st.attempts.get() + 1);
                let conn = connect(addr, source(i, n), false, 512);
                let cause = match tokio::time::timeout(Duration::from_secs(20), conn).await {
                    Ok(Ok(ws)) => {
                        st.back_ms
                            .borrow_mut()
                            .push(t_drop.get().elapsed().as_millis() as u64);
                        answer_pings(ws).await;
                        return;
                    }
                    Ok(Err(e)) => e.to_string(),
                    Err(_) => "timed out after 20 s".to_owned(),
                };
                *st.failures.borrow_mut().entry(cause).or_default() += 1;
            }
        }));
    }
    // Let the server settle with every client connected, then drop them all.
    sleep(Duration::from_secs(2)).await;
    let rss_before = rss_mb(server);
    t_drop.set(Instant::now());
    st.dropped.set(true);
    drop_now.notify_waiters();
    eprintln!(
        "    dropped {} connections at once; server RSS {rss_before:.1} MB",
        o.clients
    );

    let mut timeline = vec![(0.0, 0.0)];
    let mut rss_peak = rss_before;
    let deadline = Duration::from_secs(o.duration);
    let expected = o.clients - st.lost_early.get() as usize;
    let mut last_print = Instant::now();
    while st.back_ms.borrow().len() < expected && t_drop.get().elapsed() < deadline {
        sleep(Duration::from_millis(100)).await;
        let back = st.back_ms.borrow().len();
        timeline.push((t_drop.get().elapsed().as_secs_f64(), back as f64));
        rss_peak = rss_peak.max(rss_mb(server));
        if last_print.elapsed() >= Duration::from_secs(1) {
            eprintln!(
                "    {:>5.1} s  {back}/{expected} back  {} attempts  {} failed",
                t_drop.get().elapsed().as_secs_f64(),
                st.attempts.get(),
                st.failures.borrow().values().sum::<u64>()
            );
            last_print = Instant::now();
        }
    }
    let all_back = t_drop.get().elapsed();
    sleep(Duration::from_secs(1)).await;
    let rss_after = rss_mb(server);
    for t in &tasks {
        t.abort();
    }

    let back = st.back_ms.borrow();
    let mut h = histogram();
    for &b in back.iter() {
        let _ = h.record((b * 1000).max(1));
    }
    let failures = st.failures.borrow();
    let failed: u64 = failures.values().sum();
    let complete = back.len() == expected;
    let mut md = format!(
        "### Reconnect storm: {} clients dropped at once\n\n\
         {} of {expected} clients back{} {:.1} s after the drop ({} attempts, {failed} refused or failed; \
         {} connections had ended before the drop). Reconnected after: p50 {:.0} ms, p99 {:.0} ms, \
         last {:.0} ms (the official backoff alone puts the first attempt between 500 and 1500 ms). \
         Server RSS {rss_before:.1} MB before the drop, at most {rss_peak:.1} MB during the storm, \
         {rss_after:.1} MB after.\n",
        o.clients,
        back.len(),
        if complete {
            ", all of them,"
        } else {
            " (not all)"
        },
        all_back.as_secs_f64(),
        st.attempts.get(),
        st.lost_early.get(),
        ms(&h, 0.5),
        ms(&h, 0.99),
        ms(&h, 1.0),
    );
    if !failures.is_empty() {
        md.push_str("\n| failed attempts | cause |\n| ---: | --- |\n");
        for (cause, n) in failures.iter() {
            md.push_str(&format!("| {n} | {cause} |\n"));
        }
    }
    let svg = chart(
        &format!(
            "Reconnect storm: {} clients dropped at t = 0, back over time",
            o.clients
        ),
        "clients",
        "",
        &[Series {
            name: "clients reconnected",
            color: "#00798c",
            right: false,
            points: timeline.clone(),
        }],
    );
    let json = json!({
        "scenario": "storm",
        "clients": o.clients,
        "back": back.len(),
        "expected": expected,
        "all_back_s": all_back.as_secs_f64(),
        "attempts": st.attempts.get(),
        "failed_attempts": failed,
        "failures": *failures,
        "lost_before_drop": st.lost_early.get(),
        "reconnect_p50_ms": ms(&h, 0.5),
        "reconnect_p99_ms": ms(&h, 0.99),
        "reconnect_max_ms": ms(&h, 1.0),
        "rss_before_mb": rss_before,
        "rss_peak_mb": rss_peak,
        "rss_after_mb": rss_after,
        "timeline": timeline,
    });
    if !complete {
        eprintln!("    not every client came back within {deadline:?}");
    }
    Ok(Report {
        markdown: md,
        json,
        svg,
    })
}

/// Answers pings until the drop; `None` when the connection ended first.
async fn hold(mut ws: Ws, st: &State, drop_now: &Notify) -> Option<Ws> {
    let pong = text_frame(b"3");
    loop {
        if st.dropped.get() {
            return Some(ws);
        }
        tokio::select! {
            () = drop_now.notified() => return Some(ws),
            r = ws.fill() => r.ok()?,
        }
        while let Some((op, r)) = ws.next_frame() {
            if op == CLOSE {
                return None;
            }
            if op == TEXT && ws.data(r) == b"2" {
                ws.send(&pong).await.ok()?;
            }
        }
    }
}

/// Keeps a reconnected client alive until the scenario ends.
async fn answer_pings(mut ws: Ws) {
    let pong = text_frame(b"3");
    while let Ok((op, r)) = ws.next().await {
        if op == CLOSE || (op == TEXT && ws.data(r) == b"2" && ws.send(&pong).await.is_err()) {
            return;
        }
    }
}
