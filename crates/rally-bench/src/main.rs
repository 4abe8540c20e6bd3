//! `rally-bench`: Rally side by side with socketioxide, Node.js socket.io and
//! a bare WebSocket server (the ceiling: an echo server and a broadcaster,
//! `bare.rs`), the Rust servers on both tokio runtimes.
//!
//! ```text
//! cargo run --release -p rally-bench -- --quick            # under three minutes
//! cargo run --release -p rally-bench -- --update-doc       # every scenario, BENCHMARKS.md
//! cargo run --release -p rally-bench -- --peers rally,node --scenarios ack
//! cargo run --release -p rally-bench -- --peers rally,bare-ws --runtimes current --scenarios idle-max
//! cargo run --release -p rally-bench -- --quick --scenarios compression   # permessage-deflate off / on
//! cargo run --release -p rally-bench -- soak|storm|slow-mix [flags]   # hardening.rs
//! cargo run --release -p rally-bench -- cluster [flags]   # cluster.rs, two nodes on Redis
//! cargo run --release -p rally-bench -- forward [flags]   # forward.rs, polling through another node
//! ```
//!
//! The server under test is pinned to CPU 0, this load generator (one
//! thread) to CPU 1. Results go to `bench/results/` (Markdown, JSON, SVG).
//!
//! The crate needs a little unsafe code (calls into libc in `peer.rs`: CPU
//! pinning, the open-files limit, signals to the servers it starts), so it
//! keeps the workspace's `unsafe_code = "deny"` instead of forbidding it, and
//! allows it at each call with a SAFETY comment.

mod bare;
mod cluster;
mod compression;
mod forward;
mod hardening;
mod http;
mod idle;
mod peer;
mod recovery;
mod report;
mod scenario;
mod serve;
mod slow_mix;
mod soak;
mod storm;
mod ws;

use std::{path::PathBuf, time::Duration};

use peer::{Peer, Programs};
use scenario::{Sample, Target, Timing};
use serve::Runtime;

/// The CPU the servers run on.
pub(crate) const SERVER_CPU: usize = 0;
/// The CPU this load generator runs on.
pub(crate) const CLIENT_CPU: usize = 1;
/// A run whose load generator used more of its core than this is flagged.
pub(crate) const GEN_SATURATED: f64 = 0.90;

/// A scenario: what it measures and how to run it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    Ack {
        conns: usize,
        inflight: usize,
        payload: usize,
    },
    Fanout {
        clients: usize,
    },
    Idle {
        clients: usize,
    },
    /// Idle density at as many WebSocket clients as the open-files limit
    /// allows (see [`idle_max_clients`]).
    IdleMax,
    /// Idle density of long-polling clients, each with a GET held.
    IdlePolling {
        clients: usize,
    },
    SetupWs,
    SetupPolling,
    Polling {
        conns: usize,
        inflight: usize,
    },
    /// Chat-history pages (JSON) broadcast to a room, at most `window`
    /// broadcasts in flight, WebSocket permessage-deflate on or off
    /// (`compression.rs`).
    Compression {
        clients: usize,
        window: u64,
        deflate: bool,
    },
    /// Idle density with permessage-deflate agreed (`deflate`) or not.
    CompressionIdle {
        clients: usize,
        deflate: bool,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct Scenario {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) kind: Kind,
}

impl Scenario {
    fn new(kind: Kind) -> Self {
        let (id, title) = match kind {
            Kind::Ack {
                conns,
                inflight,
                payload,
            } => {
                let size = if payload >= 1024 {
                    format!("{} KiB", payload / 1024)
                } else {
                    format!("{payload} B")
                };
                (
                    format!("ack-c{conns}-f{inflight}-{payload}"),
                    format!("ack round trips, {conns} conns × {inflight} in flight, {size}"),
                )
            }
            Kind::Fanout { clients } => (
                format!("fanout-{clients}"),
                format!("broadcast fan-out to a room of {clients}"),
            ),
            Kind::Idle { clients } => (
                format!("idle-{clients}"),
                format!("idle memory, {clients} clients"),
            ),
            Kind::IdleMax => (
                "idle-max".into(),
                "idle memory, as many clients as the open-files limit allows".into(),
            ),
            Kind::IdlePolling { clients } => (
                format!("idle-polling-{clients}"),
                format!("idle memory, {clients} long-polling clients"),
            ),
            Kind::SetupWs => ("setup-ws".into(), "connection setup, WebSocket".into()),
            Kind::SetupPolling => (
                "setup-polling".into(),
                "connection setup, polling then upgrade".into(),
            ),
            Kind::Polling { conns, inflight } => (
                format!("polling-c{conns}-f{inflight}"),
                format!("long-polling acks, {conns} conns × {inflight} in flight, 32 B"),
            ),
            Kind::Compression {
                clients,
                window,
                deflate,
            } => (
                format!("compression-fanout-{clients}-w{window}-{}", on_off(deflate)),
                format!(
                    "chat pages broadcast to a room of {clients}, {window} in flight, deflate {}",
                    on_off(deflate)
                ),
            ),
            Kind::CompressionIdle { clients, deflate } => (
                format!("compression-idle-{clients}-{}", on_off(deflate)),
                format!(
                    "idle memory, {clients} clients, deflate {}",
                    on_off(deflate)
                ),
            ),
        };
        Self { id, title, kind }
    }

    fn applies_to(&self, peer: Peer) -> bool {
        match self.kind {
            Kind::Ack { .. }
            | Kind::Idle { .. }
            | Kind::IdleMax
            | Kind::SetupWs
            | Kind::Fanout { .. } => true,
            Kind::SetupPolling | Kind::Polling { .. } | Kind::IdlePolling { .. } => {
                peer.is_socketio()
            }
            // socketioxide has no permessage-deflate: it runs "off" only.
            Kind::Compression { deflate, .. } | Kind::CompressionIdle { deflate, .. } => {
                peer.is_socketio() && !(deflate && peer == Peer::Socketioxide)
            }
        }
    }

    /// Whether the peer runs with WebSocket permessage-deflate on (and the
    /// clients offer it).
    pub(crate) fn deflate(&self) -> bool {
        matches!(
            self.kind,
            Kind::Compression { deflate: true, .. } | Kind::CompressionIdle { deflate: true, .. }
        )
    }

    /// Part of the compression scenario (its own table).
    pub(crate) fn is_compression(&self) -> bool {
        matches!(
            self.kind,
            Kind::Compression { .. } | Kind::CompressionIdle { .. }
        )
    }

    /// Measures memory, not a rate.
    pub(crate) fn is_idle(&self) -> bool {
        matches!(
            self.kind,
            Kind::Idle { .. }
                | Kind::IdleMax
                | Kind::IdlePolling { .. }
                | Kind::CompressionIdle { .. }
        )
    }

    /// The unit of the headline figure.
    pub(crate) fn unit(&self) -> &'static str {
        match self.kind {
            Kind::Ack { .. } | Kind::Polling { .. } => "round trips/s",
            Kind::Fanout { .. } | Kind::Compression { .. } => "deliveries/s",
            Kind::Idle { .. }
            | Kind::IdleMax
            | Kind::IdlePolling { .. }
            | Kind::CompressionIdle { .. } => "KiB per client",
            Kind::SetupWs | Kind::SetupPolling => "connections/s",
        }
    }
}

fn scenarios(quick: bool) -> Vec<Scenario> {
    let mut kinds = vec![
        Kind::Ack {
            conns: 100,
            inflight: 1,
            payload: 32,
        },
        Kind::Ack {
            conns: 100,
            inflight: 16,
            payload: 32,
        },
    ];
    if !quick {
        kinds.extend([
            Kind::Ack {
                conns: 100,
                inflight: 1,
                payload: 4096,
            },
            Kind::Ack {
                conns: 100,
                inflight: 16,
                payload: 4096,
            },
            Kind::Ack {
                conns: 1000,
                inflight: 1,
                payload: 32,
            },
            Kind::Ack {
                conns: 1000,
                inflight: 16,
                payload: 32,
            },
            Kind::Ack {
                conns: 1000,
                inflight: 1,
                payload: 4096,
            },
            Kind::Ack {
                conns: 1000,
                inflight: 16,
                payload: 4096,
            },
        ]);
    }
    kinds.push(Kind::Fanout { clients: 1000 });
    if !quick {
        kinds.push(Kind::Fanout { clients: 10_000 });
    }
    kinds.push(Kind::Idle { clients: 10_000 });
    if !quick {
        kinds.extend([
            Kind::Idle { clients: 50_000 },
            Kind::IdleMax,
            Kind::IdlePolling { clients: 10_000 },
        ]);
    }
    kinds.extend([Kind::SetupWs, Kind::SetupPolling]);
    if !quick {
        kinds.push(Kind::Polling {
            conns: 100,
            inflight: 16,
        });
        // Compression: off then on, in each pair; 8 broadcasts in flight
        // as the fan-out cells, and one at a time.
        for window in [8, 1] {
            for deflate in [false, true] {
                kinds.push(Kind::Compression {
                    clients: 100,
                    window,
                    deflate,
                });
            }
        }
        for deflate in [false, true] {
            kinds.push(Kind::CompressionIdle {
                clients: 10_000,
                deflate,
            });
        }
    }
    kinds.into_iter().map(Scenario::new).collect()
}

/// "on" or "off".
pub(crate) fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

/// The result of one peer in one scenario.
#[derive(Clone, Debug)]
pub(crate) struct Cell {
    pub(crate) scenario: String,
    pub(crate) peer: Peer,
    /// The tokio runtime of a Rust peer (`None` for Node).
    pub(crate) runtime: Option<Runtime>,
    pub(crate) samples: Vec<Sample>,
    pub(crate) error: Option<String>,
}

impl Cell {
    /// The median run (by rate; for idle density, the only run) among the
    /// calm ones: a run that stayed noisy after its re-measurement measured
    /// the hypervisor more than the server. When every run was noisy, the
    /// median of all (the table marks it ~).
    pub(crate) fn median(&self) -> Option<&Sample> {
        let mut v: Vec<&Sample> = self.samples.iter().filter(|s| !s.noisy()).collect();
        if v.is_empty() {
            v = self.samples.iter().collect();
        }
        v.sort_by(|a, b| a.rate.total_cmp(&b.rate));
        v.get(v.len() / 2).copied()
    }

    /// The load generator saturated its core in the median run.
    pub(crate) fn saturated(&self) -> bool {
        self.median().is_some_and(|s| s.gen_cpu > GEN_SATURATED)
    }
}

struct Options {
    quick: bool,
    peers: Vec<Peer>,
    runtimes: Vec<Runtime>,
    only: Vec<String>,
    out: PathBuf,
    update_doc: bool,
    runs: Option<usize>,
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let repo = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let mut o = Options {
        quick: false,
        peers: Peer::ALL.to_vec(),
        runtimes: Vec::new(),
        only: Vec::new(),
        out: repo.join("bench/results"),
        update_doc: false,
        runs: None,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--update-doc" => o.update_doc = true,
            "--peers" => {
                let v = it.next().ok_or("--peers needs a list")?;
                o.peers = v
                    .split(',')
                    .map(|p| Peer::parse(p).ok_or(format!("unknown peer {p}")))
                    .collect::<Result<_, _>>()?;
            }
            "--runtimes" => {
                let v = it.next().ok_or("--runtimes needs a list")?;
                o.runtimes = v
                    .split(',')
                    .map(|r| Runtime::parse(r).ok_or(format!("unknown runtime {r}")))
                    .collect::<Result<_, _>>()?;
            }
            "--scenarios" => {
                let v = it.next().ok_or("--scenarios needs a list")?;
                o.only = v.split(',').map(str::to_owned).collect();
            }
            "--runs" => {
                let v = it.next().ok_or("--runs needs a number")?;
                o.runs = Some(v.parse().map_err(|_| "--runs: not a number")?);
            }
            "--out" => o.out = PathBuf::from(it.next().ok_or("--out needs a directory")?),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if o.runtimes.is_empty() {
        // The full run measures both; `--quick` keeps tokio's default.
        o.runtimes = if o.quick {
            vec![Runtime::Multi]
        } else {
            Runtime::ALL.to_vec()
        };
    }
    o.runtimes.sort();
    o.runtimes.dedup();
    Ok(o)
}

const USAGE: &str = "usage: rally-bench [--quick] [--peers rally,socketioxide,node,bare-ws] \
[--runtimes current,multi] [--scenarios ID-PREFIX,...] [--runs N] [--out DIR] [--update-doc]
       rally-bench recovery [--clients N] [--rate N] [--seconds N] [--fanout-clients N] [--fanout-broadcasts N]
       rally-bench cluster [--clients N] [--inflight N,...] [--modes classic,sharded] [--seconds N] [--runs N] [--warmup N] [--out DIR]
       rally-bench forward [--clients N,...] [--modes classic,sharded,streams] [--seconds N] [--runs N] [--warmup N] [--out DIR]
       rally-bench soak|storm|slow-mix [--clients N] [--duration S] ... (see hardening.rs)
       rally-bench serve-rally PORT [current|multi] | serve-ws PORT [current|multi]";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port = || -> u16 {
        args.get(1).and_then(|p| p.parse().ok()).unwrap_or_else(|| {
            eprintln!("{USAGE}");
            std::process::exit(2)
        })
    };
    let runtime = || match args.get(2) {
        None => Runtime::Multi,
        Some(r) => Runtime::parse(r).unwrap_or_else(|| {
            eprintln!("{USAGE}");
            std::process::exit(2)
        }),
    };
    match args.first().map(String::as_str) {
        Some("serve-rally") => return serve::rally_peer(port(), runtime()),
        Some("serve-ws") => return bare::bare_peer(port(), runtime()),
        Some("recovery") => {
            if let Err(e) = recovery::main(&args[1..]) {
                eprintln!("rally-bench recovery: {e}");
                std::process::exit(1);
            }
            return;
        }
        Some("cluster") => {
            if let Err(e) = cluster::main(&args[1..]) {
                eprintln!("rally-bench cluster: {e}");
                std::process::exit(1);
            }
            return;
        }
        Some("forward") => {
            if let Err(e) = forward::main(&args[1..]) {
                eprintln!("rally-bench forward: {e}");
                std::process::exit(1);
            }
            return;
        }
        Some(s @ ("soak" | "storm" | "slow-mix")) => return hardening::main(s, &args[1..]),
        Some("--help" | "-h") => {
            println!("{USAGE}");
            return;
        }
        _ => {}
    }
    let opts = parse_args(&args).unwrap_or_else(|e| {
        eprintln!("rally-bench: {e}\n{USAGE}");
        std::process::exit(2)
    });
    if let Err(e) = run(opts) {
        eprintln!("rally-bench: {e}");
        std::process::exit(1);
    }
}

fn run(opts: Options) -> Result<(), String> {
    let nofile = peer::raise_nofile();
    peer::pin_self(CLIENT_CPU)?;
    let programs = Programs::prepare(&opts.peers)?;
    let timing = if opts.quick {
        Timing {
            warmup: Duration::from_millis(700),
            run: Duration::from_millis(1500),
            runs: 3,
        }
    } else {
        Timing {
            warmup: Duration::from_secs(2),
            run: Duration::from_secs(4),
            runs: 5,
        }
    };
    let timing = Timing {
        runs: opts.runs.unwrap_or(timing.runs),
        ..timing
    };
    let chosen = |quick: bool| -> Vec<Scenario> {
        scenarios(quick)
            .into_iter()
            .filter(|s| {
                opts.only.is_empty() || opts.only.iter().any(|o| s.id.starts_with(o.as_str()))
            })
            .collect()
    };
    // `--quick --scenarios idle-max`: a scenario of the full run named
    // explicitly runs, with the quick timing.
    let mut list = chosen(opts.quick);
    if list.is_empty() && !opts.only.is_empty() {
        list = chosen(false);
    }
    let machine = report::Machine::read(&opts, nofile);
    eprintln!("{}", machine.summary());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let local = tokio::task::LocalSet::new();
    let started = std::time::Instant::now();
    let mut cells = Vec::new();
    // Each Rust peer once per runtime, Node once.
    let variants: Vec<(Peer, Option<Runtime>)> = opts
        .peers
        .iter()
        .flat_map(|&p| {
            if p.is_rust() {
                opts.runtimes.iter().map(|&r| (p, Some(r))).collect()
            } else {
                vec![(p, None)]
            }
        })
        .collect();
    let total: usize = list
        .iter()
        .map(|s| {
            rounds(s, timing, opts.quick) * variants.iter().filter(|p| s.applies_to(p.0)).count()
        })
        .sum();
    let mut done = 0;
    for s in &list {
        let peers: Vec<(Peer, Option<Runtime>)> = variants
            .iter()
            .copied()
            .filter(|p| s.applies_to(p.0))
            .collect();
        let mut row: Vec<Cell> = peers
            .iter()
            .map(|&(peer, runtime)| Cell {
                scenario: s.id.clone(),
                peer,
                runtime,
                samples: Vec::new(),
                error: None,
            })
            .collect();
        // The runs of a scenario are split into rounds, every other round
        // in reverse peer order (A B C D, then D C B A): a machine whose
        // speed drifts while a scenario runs favours no peer.
        let rounds = rounds(s, timing, opts.quick);
        for round in 0..rounds {
            let runs = timing.runs / rounds + usize::from(round < timing.runs % rounds);
            let order: Vec<usize> = if round % 2 == 0 {
                (0..row.len()).collect()
            } else {
                (0..row.len()).rev().collect()
            };
            for i in order {
                done += 1;
                if row[i].error.is_some() {
                    continue;
                }
                let (peer, runtime) = peers[i];
                eprintln!(
                    "[{done}/{total}] {} · {}{} ({:.0} s)",
                    s.title,
                    peer.title(),
                    runtime.map_or(String::new(), |r| format!(", {}", r.title())),
                    started.elapsed().as_secs_f64()
                );
                let timing = Timing { runs, ..timing };
                let part =
                    local.block_on(&rt, run_cell(&programs, s, (peer, runtime), timing, nofile));
                if let Some(e) = &part.error {
                    eprintln!("    error: {e}");
                }
                row[i].samples.extend(part.samples);
                row[i].error = part.error;
            }
        }
        cells.extend(row);
    }
    eprintln!("done in {:.0} s", started.elapsed().as_secs_f64());
    let doc = report::Report {
        machine,
        scenarios: list,
        peers: opts.peers.clone(),
        runtimes: opts.runtimes.clone(),
        cells,
        quick: opts.quick,
    };
    doc.write(&opts.out, opts.update_doc)?;
    println!("{}", doc.markdown());
    Ok(())
}

/// How many rounds a scenario's runs are split into: for the full run one
/// per run, every other round in reverse peer order, so that each peer's
/// runs sample the same spells of this shared machine's speed (which
/// drifts over seconds, not only over minutes); `--quick`, which must stay
/// short, takes two; idle density one (a single measurement per peer).
fn rounds(s: &Scenario, timing: Timing, quick: bool) -> usize {
    if s.is_idle() {
        1
    } else if quick {
        timing.runs.min(2)
    } else {
        timing.runs.max(1)
    }
}

/// How many clients `idle-max` connects: the open-files limit (which the
/// server and this load generator each have, one descriptor per
/// connection) less a margin for everything else either process opens
/// (listeners, the runtime's descriptors, Node's own): 1,000 at a limit of
/// 20,000, 5% of a higher one.
pub(crate) fn idle_max_clients(nofile: u64) -> usize {
    let margin = (nofile / 20).max(1000);
    usize::try_from(nofile.saturating_sub(margin)).unwrap_or(usize::MAX)
}

async fn run_cell(
    programs: &Programs,
    s: &Scenario,
    (peer, runtime): (Peer, Option<Runtime>),
    timing: Timing,
    nofile: u64,
) -> Cell {
    let mut cell = Cell {
        scenario: s.id.clone(),
        peer,
        runtime,
        samples: Vec::new(),
        error: None,
    };
    let needed = match s.kind {
        Kind::Idle { clients }
        | Kind::Fanout { clients }
        | Kind::IdlePolling { clients }
        | Kind::Compression { clients, .. }
        | Kind::CompressionIdle { clients, .. } => clients as u64 + 200,
        _ => 0,
    };
    if needed > nofile {
        cell.error = Some(format!(
            "needs {needed} open files, the hard limit here is {nofile}"
        ));
        return cell;
    }
    let running = match programs.start_deflate(peer, runtime, s.deflate()) {
        Ok(r) => r,
        Err(e) => {
            cell.error = Some(e);
            return cell;
        }
    };
    let target = Target {
        addr: running.addr,
        socketio: peer.is_socketio(),
        pid: running.pid,
        timing,
        deflate: s.deflate(),
    };
    let result = match s.kind {
        Kind::Ack {
            conns,
            inflight,
            payload,
        } => scenario::ack(target, conns, inflight, payload).await,
        Kind::Fanout { clients } => scenario::fanout(target, clients, 32).await,
        Kind::Idle { clients } => scenario::idle(target, clients).await,
        Kind::IdleMax => idle::idle_max(target, idle_max_clients(nofile)).await,
        Kind::IdlePolling { clients } => idle::idle_polling(target, clients).await,
        Kind::SetupWs => scenario::setup(target, 32, false).await,
        Kind::SetupPolling => scenario::setup(target, 32, true).await,
        Kind::Polling { conns, inflight } => scenario::polling(target, conns, inflight).await,
        Kind::Compression {
            clients, window, ..
        } => compression::fanout(target, clients, window).await,
        Kind::CompressionIdle { clients, .. } => scenario::idle(target, clients).await,
    };
    // Let closed connections go before the server stops.
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(running);
    match result {
        Ok(samples) => cell.samples = samples,
        Err(e) => cell.error = Some(e),
    }
    cell
}

/// One progress line per measured run.
pub(crate) fn progress_sample(i: usize, n: usize, s: &Sample) {
    eprintln!(
        "    run {i}/{n}: {} /s  other {:.2} cores  steal {:.2}  p50 {} p99 {}  server {:.0}% ({:.3} ms CPU per 1k)  loadgen {:.0}%{}{}",
        report::si(s.rate),
        s.other_cpu,
        s.steal_cpu,
        report::us(s.p50_us),
        report::us(s.p99_us),
        s.server_cpu * 100.0,
        s.cpu_ms_per_1k,
        s.gen_cpu * 100.0,
        if s.gen_cpu > GEN_SATURATED {
            "  SATURATED"
        } else {
            ""
        },
        if s.errors > 0 {
            format!("  {} errors", s.errors)
        } else {
            String::new()
        },
    );
}
