//! The hardening scenarios: a soak with churn, a reconnect
//! storm with the official client's backoff, and a slow-consumer mix. Each
//! runs against the Rally peer (pinned to CPU 0, this load generator to
//! CPU 1), prints its figures and writes `bench/results/<scenario>.{md,json,svg}`.
//!
//! ```text
//! rally-bench soak --clients 10000 --duration 600
//! rally-bench storm --clients 20000
//! rally-bench slow-mix --clients 1000 --slow 100 --duration 300
//! ```
//!
//! `RALLY_BENCH_MAX_BUFFERED_FRAMES=<n>` (in the environment, which the
//! peer inherits) sets the Rally peer's outgoing queue bound.

use std::{
    cell::{Cell, RefCell},
    fmt::Write as _,
    io,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::PathBuf,
    rc::Rc,
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;

use crate::{
    peer::{self, Peer, Programs, Running},
    ws::{Ws, sio_connect, text_frame},
};

/// The options of a hardening scenario (`--flag value`).
#[derive(Clone, Debug)]
pub(crate) struct Opts {
    /// Connected clients (healthy ones for `slow-mix`).
    pub(crate) clients: usize,
    /// How long the scenario runs, in seconds (`storm`: the most it waits).
    pub(crate) duration: u64,
    /// Seconds between two points of the time series.
    pub(crate) interval: u64,
    /// Soak: the share of clients that disconnect and come back each second.
    pub(crate) churn: f64,
    /// Soak: clients that send one acked `echo` per second, for latency.
    pub(crate) probes: usize,
    /// Slow-mix: clients that answer pings but never read.
    pub(crate) slow: usize,
    /// Slow-mix: broadcasts per second.
    pub(crate) rate: u64,
    /// Slow-mix: bytes of each broadcast's payload.
    pub(crate) payload: usize,
    /// Where the results go.
    pub(crate) out: PathBuf,
}

const USAGE: &str = "usage: rally-bench soak|storm|slow-mix [--clients N] [--duration S] [--interval S] \
[--churn FRACTION] [--probes N] [--slow N] [--rate N] [--payload BYTES] [--out DIR]";

impl Opts {
    fn parse(scenario: &str, args: &[String]) -> Result<Self, String> {
        let repo = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
        let mut o = match scenario {
            "soak" => Self::defaults(10_000, 600, 10),
            "storm" => Self::defaults(20_000, 180, 1),
            _ => Self::defaults(1000, 300, 5),
        };
        o.out = repo.join("bench/results");
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let value = it.next().ok_or(format!("{flag} needs a value"))?;
            let num = || -> Result<u64, String> {
                value
                    .parse()
                    .map_err(|_| format!("{flag}: expected a number, got `{value}`"))
            };
            match flag.as_str() {
                "--clients" => o.clients = num()? as usize,
                "--duration" => o.duration = num()?,
                "--interval" => o.interval = num()?.max(1),
                "--churn" => {
                    o.churn = value
                        .parse()
                        .map_err(|_| format!("--churn: expected a fraction, got `{value}`"))?
                }
                "--probes" => o.probes = num()? as usize,
                "--slow" => o.slow = num()? as usize,
                "--rate" => o.rate = num()?.max(1),
                "--payload" => o.payload = num()? as usize,
                "--out" => o.out = PathBuf::from(value),
                _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
            }
        }
        Ok(o)
    }

    fn defaults(clients: usize, duration: u64, interval: u64) -> Self {
        Self {
            clients,
            duration,
            interval,
            churn: 0.01,
            probes: 100,
            slow: 100,
            rate: 50,
            payload: 1024,
            out: PathBuf::new(),
        }
    }
}

/// Runs `rally-bench <scenario> [flags]`.
pub(crate) fn main(scenario: &str, args: &[String]) {
    let result = Opts::parse(scenario, args).and_then(|opts| run(scenario, &opts));
    if let Err(e) = result {
        eprintln!("rally-bench {scenario}: {e}");
        std::process::exit(1);
    }
}

fn run(scenario: &str, opts: &Opts) -> Result<(), String> {
    let nofile = peer::raise_nofile();
    let needed = opts.clients + opts.slow + opts.probes + 100;
    if needed as u64 > nofile {
        return Err(format!(
            "needs about {needed} open files, the hard limit here is {nofile}"
        ));
    }
    peer::pin_self(crate::CLIENT_CPU)?;
    let programs = Programs::prepare(&[Peer::Rally])?;
    let server = programs.start(Peer::Rally, None)?;
    eprintln!(
        "{scenario}: Rally peer pid {} on {} (CPU {}), load generator on CPU {}; {opts:?}",
        server.pid,
        server.addr,
        crate::SERVER_CPU,
        crate::CLIENT_CPU
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let local = tokio::task::LocalSet::new();
    let report = local.block_on(&rt, async {
        match scenario {
            "soak" => crate::soak::run(&server, opts).await,
            "storm" => crate::storm::run(&server, opts).await,
            _ => crate::slow_mix::run(&server, opts).await,
        }
    })?;
    drop(server);
    report.write(scenario, opts)
}

/// What a scenario found: a Markdown summary, a JSON record and a chart.
pub(crate) struct Report {
    pub(crate) markdown: String,
    pub(crate) json: serde_json::Value,
    pub(crate) svg: String,
}

impl Report {
    fn write(&self, scenario: &str, opts: &Opts) -> Result<(), String> {
        std::fs::create_dir_all(&opts.out).map_err(|e| format!("{}: {e}", opts.out.display()))?;
        let json = serde_json::to_string_pretty(&self.json).map_err(|e| e.to_string())? + "\n";
        for (ext, text) in [("md", &self.markdown), ("json", &json), ("svg", &self.svg)] {
            let path = opts.out.join(format!("{scenario}.{ext}"));
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        println!("{}", self.markdown);
        Ok(())
    }
}

/// A latency histogram in microseconds (1 µs to 120 s).
pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("histogram bounds")
}

/// Milliseconds of a histogram quantile.
pub(crate) fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        h.value_at_quantile(q) as f64 / 1000.0
    }
}

/// The source address of the `i`-th of `total` connections: past ~25,000 a
/// connection needs another 127.0.0.x to find free ports.
pub(crate) fn source(i: usize, total: usize) -> Option<IpAddr> {
    (total > 25_000).then(|| IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + (i / 25_000) as u8)))
}

/// A Socket.IO connection to `/` that joined room `r` when `join`.
pub(crate) async fn connect(
    addr: SocketAddr,
    src: Option<IpAddr>,
    join: bool,
    buf: usize,
) -> io::Result<Ws> {
    let mut ws = sio_connect(addr, src, true, buf).await?;
    if join {
        ws.send(&text_frame(br#"420["join","r"]"#)).await?;
        ws.expect_text(b"430").await?;
    }
    Ok(ws)
}

/// Opens `n` connections, 256 at a time; `None` where one failed.
pub(crate) async fn connect_many(
    addr: SocketAddr,
    n: usize,
    join: bool,
    buf: usize,
) -> Result<Vec<Ws>, String> {
    let started = Instant::now();
    let next = Rc::new(Cell::new(0usize));
    let out: Rc<RefCell<Vec<Option<Ws>>>> = Rc::new(RefCell::new((0..n).map(|_| None).collect()));
    let failed: Rc<RefCell<Option<String>>> = Rc::default();
    let workers: Vec<_> = (0..256.min(n))
        .map(|_| {
            let (next, out, failed) = (next.clone(), out.clone(), failed.clone());
            tokio::task::spawn_local(async move {
                loop {
                    let i = next.get();
                    if i >= n || failed.borrow().is_some() {
                        return;
                    }
                    next.set(i + 1);
                    let conn = connect(addr, source(i, n), join, buf);
                    match tokio::time::timeout(Duration::from_secs(20), conn).await {
                        Ok(Ok(ws)) => out.borrow_mut()[i] = Some(ws),
                        Ok(Err(e)) => {
                            failed
                                .borrow_mut()
                                .get_or_insert(format!("connection {i}: {e}"));
                        }
                        Err(_) => {
                            failed
                                .borrow_mut()
                                .get_or_insert(format!("connection {i}: timed out"));
                        }
                    }
                    if i % 5000 == 4999 {
                        eprintln!("    connected {}/{n}", i + 1);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.await;
    }
    if let Some(e) = failed.borrow_mut().take() {
        return Err(e);
    }
    eprintln!(
        "    {n} connections in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(out.borrow_mut().drain(..).flatten().collect())
}

/// The official client's reconnection delay (socket.io-client's `Backoff`
/// with `reconnectionDelay` 1000, `reconnectionDelayMax` 5000,
/// `randomizationFactor` 0.5): 1000 × 2^attempt ms, moved up or down by a
/// random share of at most half of it, capped at 5000.
pub(crate) fn backoff(attempt: u32, rng: &mut Rng) -> Duration {
    let base = 1000.0 * 2f64.powi(attempt.min(16) as i32);
    let r = rng.unit();
    let deviation = (r * 0.5 * base).floor();
    let ms = if ((r * 10.0).floor() as u64) & 1 == 0 {
        base - deviation
    } else {
        base + deviation
    };
    Duration::from_millis(ms.min(5000.0) as u64)
}

/// A small xorshift generator: enough to spread delays and pick clients.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    /// Seeded from the clock and `salt`.
    pub(crate) fn new(salt: u64) -> Self {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Self((t ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A float in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Server resident memory in MB.
pub(crate) fn rss_mb(server: &Running) -> f64 {
    peer::rss_bytes(server.pid) as f64 / 1e6
}

/// One line of a chart: its name, color, which axis (left or right) and
/// its points (x in seconds).
pub(crate) struct Series<'a> {
    pub(crate) name: &'a str,
    pub(crate) color: &'a str,
    pub(crate) right: bool,
    pub(crate) points: Vec<(f64, f64)>,
}

/// A line chart over time, with a left and an optional right axis.
pub(crate) fn chart(
    title: &str,
    left_unit: &str,
    right_unit: &str,
    series: &[Series<'_>],
) -> String {
    let (w, h) = (900.0, 360.0);
    let (x0, x1, y0, y1) = (70.0, w - 70.0, 50.0, h - 40.0);
    let max_x = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(1.0, f64::max);
    let max_y = |right: bool| {
        let m = series
            .iter()
            .filter(|s| s.right == right)
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .fold(0.0, f64::max);
        nice(m)
    };
    let (max_l, max_r) = (max_y(false), max_y(true));
    let mut body = String::new();
    let _ = write!(
        body,
        r#"<text x="{x0}" y="20" font-weight="bold">{title}</text><line x1="{x0}" y1="{y1}" x2="{x1}" y2="{y1}" stroke="black"/><line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="black"/>"#
    );
    for i in 0..=4 {
        let f = f64::from(i) / 4.0;
        let y = y1 - f * (y1 - y0);
        let x = x0 + f * (x1 - x0);
        let _ = write!(
            body,
            r##"<line x1="{x0}" y1="{y}" x2="{x1}" y2="{y}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{}</text><text x="{x}" y="{}" text-anchor="middle">{:.0} s</text>"##,
            x0 - 4.0,
            y + 4.0,
            fmt_axis(f * max_l),
            y1 + 16.0,
            f * max_x
        );
        if series.iter().any(|s| s.right) {
            let _ = write!(
                body,
                r#"<text x="{}" y="{}">{}</text>"#,
                x1 + 4.0,
                y + 4.0,
                fmt_axis(f * max_r)
            );
        }
    }
    let _ = write!(
        body,
        r#"<text x="{}" y="{}" text-anchor="end">{left_unit}</text><text x="{x1}" y="{}" text-anchor="end">{right_unit}</text>"#,
        x0 - 4.0,
        y0 - 10.0,
        y0 - 10.0
    );
    for (i, s) in series.iter().enumerate() {
        let max = if s.right { max_r } else { max_l };
        let pts: Vec<String> = s
            .points
            .iter()
            .map(|(x, y)| {
                format!(
                    "{:.1},{:.1}",
                    x0 + x / max_x * (x1 - x0),
                    y1 - if max > 0.0 { y / max } else { 0.0 } * (y1 - y0)
                )
            })
            .collect();
        let lx = x0 + 20.0 + 260.0 * i as f64;
        let _ = write!(
            body,
            r#"<polyline fill="none" stroke="{c}" stroke-width="2" points="{}"/><rect x="{lx}" y="28" width="12" height="12" fill="{c}"/><text x="{}" y="38">{}{}</text>"#,
            pts.join(" "),
            lx + 16.0,
            s.name,
            if s.right { " (right axis)" } else { "" },
            c = s.color
        );
    }
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/>{body}</svg>
"#
    )
}

/// A round upper bound for an axis.
fn nice(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|v| *v >= max)
        .unwrap_or(10.0 * mag)
}

fn fmt_axis(v: f64) -> String {
    if v >= 100.0 || v == 0.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_follows_the_official_client() {
        let mut rng = Rng::new(7);
        for _ in 0..1000 {
            let first = backoff(0, &mut rng).as_millis();
            assert!((500..=1500).contains(&first), "{first}");
            let second = backoff(1, &mut rng).as_millis();
            assert!((1000..=3000).contains(&second), "{second}");
            assert!(backoff(5, &mut rng).as_millis() <= 5000);
        }
    }

    #[test]
    fn axes_are_round() {
        assert_eq!(nice(0.0), 1.0);
        assert_eq!(nice(73.0), 100.0);
        assert_eq!(nice(180.0), 200.0);
        assert_eq!(nice(2.2), 2.5);
    }

    #[test]
    fn flags_override_the_defaults() {
        let args: Vec<String> = ["--clients", "50", "--churn", "0.05"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let o = Opts::parse("soak", &args).unwrap();
        assert_eq!((o.clients, o.duration, o.churn), (50, 600, 0.05));
        assert!(Opts::parse("soak", &["--nope".to_owned(), "1".to_owned()]).is_err());
    }
}
