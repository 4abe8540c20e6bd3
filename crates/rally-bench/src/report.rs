//! Results: a Markdown table, JSON and an SVG chart; the machine they came from.

mod compression;
mod markdown;
mod svg;

use std::{path::Path, process::Command};

use serde_json::json;

use crate::{Cell, Kind, Options, Scenario, peer::Peer, serve::Runtime};

/// What the numbers were measured on.
#[derive(Debug)]
pub(crate) struct Machine {
    pub(crate) cpu: String,
    pub(crate) cores: usize,
    pub(crate) memory: String,
    pub(crate) kernel: String,
    pub(crate) load: String,
    pub(crate) date: String,
    pub(crate) rustc: String,
    pub(crate) node: String,
    pub(crate) commit: String,
    pub(crate) command: String,
    pub(crate) nofile: u64,
}

fn sh(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

impl Machine {
    pub(crate) fn read(opts: &Options, nofile: u64) -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .unwrap_or("unknown")
            .trim()
            .to_owned();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory = meminfo
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            .map(|kb| format!("{:.0} GiB", kb / 1024.0 / 1024.0))
            .unwrap_or_default();
        let mut command = "cargo run --release -p rally-bench --".to_owned();
        if opts.quick {
            command.push_str(" --quick");
        }
        for a in std::env::args().skip(1).filter(|a| a != "--quick") {
            command.push(' ');
            command.push_str(&a);
        }
        Self {
            cpu,
            cores: std::thread::available_parallelism()
                .map_or(0, usize::from)
                .max(
                    cpuinfo
                        .lines()
                        .filter(|l| l.starts_with("processor"))
                        .count(),
                ),
            memory,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_owned(),
            load: std::fs::read_to_string("/proc/loadavg")
                .unwrap_or_default()
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
            date: sh("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
            rustc: sh("rustc", &["--version"]),
            node: sh("node", &["--version"]),
            commit: sh("git", &["rev-parse", "--short", "HEAD"]),
            command,
            nofile,
        }
    }

    pub(crate) fn summary(&self) -> String {
        format!(
            "{} × {} cores, {}, Linux {}, load average {} (at start), {}, Node {}, open files {}",
            self.cores,
            self.cpu,
            self.memory,
            self.kernel,
            self.load,
            self.rustc,
            self.node,
            self.nofile
        )
    }
}

/// A rate with a k/M suffix.
pub(crate) fn si(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// Microseconds, readable.
pub(crate) fn us(v: u64) -> String {
    if v >= 10_000 {
        format!("{:.0} ms", v as f64 / 1000.0)
    } else if v >= 1000 {
        format!("{:.1} ms", v as f64 / 1000.0)
    } else {
        format!("{v} µs")
    }
}

/// A peer, on a runtime when it is a Rust one.
type Variant = (Peer, Option<Runtime>);

/// The full results.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) machine: Machine,
    pub(crate) scenarios: Vec<Scenario>,
    pub(crate) peers: Vec<Peer>,
    /// The tokio runtimes the Rust peers ran on.
    pub(crate) runtimes: Vec<Runtime>,
    pub(crate) cells: Vec<Cell>,
    pub(crate) quick: bool,
}

impl Report {
    fn cell(&self, s: &Scenario, p: Peer, rt: Option<Runtime>) -> Option<&Cell> {
        let rt = rt.filter(|_| p.is_rust());
        self.cells
            .iter()
            .find(|c| c.scenario == s.id && c.peer == p && c.runtime == rt)
    }

    /// Every peer, a Rust one once per runtime.
    fn variants(&self) -> Vec<Variant> {
        self.peers
            .iter()
            .flat_map(|&p| {
                if p.is_rust() {
                    self.runtimes.iter().map(|&r| (p, Some(r))).collect()
                } else {
                    vec![(p, None)]
                }
            })
            .collect()
    }

    /// The table rows of a scenario: one per runtime when a Rust peer ran.
    fn row_runtimes(&self) -> Vec<Option<Runtime>> {
        if self.peers.iter().any(|p| p.is_rust()) {
            self.runtimes.iter().copied().map(Some).collect()
        } else {
            vec![None]
        }
    }

    /// The median of a cell that can be reported (no error, the load
    /// generator not saturated).
    fn clean_median(&self, s: &Scenario, p: Peer, rt: Option<Runtime>) -> Option<&crate::Sample> {
        self.cell(s, p, rt)
            .filter(|c| c.error.is_none() && !c.saturated())
            .and_then(Cell::median)
    }

    /// Rally against its ceiling (the bare server on the same runtime):
    /// throughput and CPU per operation (or memory per client), as ratios.
    fn ceiling_ratios(&self, s: &Scenario, rt: Option<Runtime>) -> serde_json::Value {
        let (Some(r), Some(b)) = (
            self.clean_median(s, Peer::Rally, rt),
            self.clean_median(s, Peer::BareWs, rt),
        ) else {
            return serde_json::Value::Null;
        };
        let ratio = |a: f64, b: f64| (a > 0.0 && b > 0.0).then(|| a / b);
        if s.is_idle() {
            json!({
                "memory_per_client": r.bytes_per_client.zip(b.bytes_per_client).and_then(|(a, b)| ratio(a, b)),
            })
        } else {
            json!({
                "rate": ratio(r.rate, b.rate),
                "cpu_per_op": ratio(r.cpu_ms_per_1k, b.cpu_ms_per_1k),
            })
        }
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "machine": {
                "cpu": self.machine.cpu, "cores": self.machine.cores, "memory": self.machine.memory,
                "kernel": self.machine.kernel, "load_average_at_start": self.machine.load,
                "date": self.machine.date, "rustc": self.machine.rustc, "node": self.machine.node,
                "commit": self.machine.commit, "command": self.machine.command, "open_files": self.machine.nofile,
            },
            "quick": self.quick,
            "runtimes": self.runtimes.iter().map(|r| r.name()).collect::<Vec<_>>(),
            "targets": {
                "idle_bytes_per_client_at_most": IDLE_TARGET,
                "idle_polling_bytes_per_client_at_most": IDLE_POLLING_TARGET,
                "ack_cpu_per_op_vs_ceiling_at_most": ACK_CPU_TARGET,
                "fanout_rate_vs_ceiling_at_least": FANOUT_RATE_TARGET,
            },
            "rally_vs_ceiling": self.scenarios.iter().flat_map(|s| {
                self.row_runtimes().into_iter().map(move |rt| json!({
                    "scenario": s.id,
                    "runtime": rt.map(Runtime::name),
                    "ratios": self.ceiling_ratios(s, rt),
                }))
            }).collect::<Vec<_>>(),
            "results": self.cells.iter().map(|c| {
                let scenario = self.scenarios.iter().find(|s| s.id == c.scenario);
                json!({
                    "scenario": c.scenario,
                    "title": scenario.map(|s| s.title.clone()),
                    "unit": scenario.map(Scenario::unit),
                    "peer": c.peer.name(),
                    "runtime": c.runtime.map(Runtime::name),
                    "error": c.error,
                    "saturated": c.saturated(),
                    "median": c.median().map(sample_json),
                    "runs": c.samples.iter().map(sample_json).collect::<Vec<_>>(),
                })
            }).collect::<Vec<_>>(),
        })
    }

    /// Writes results.md, results.json and results.svg into `dir`
    /// (compression.* for a run of only the compression scenarios, which
    /// leaves the main results as they are); with `update_doc`, the tables
    /// in BENCHMARKS.md too.
    pub(crate) fn write(&self, dir: &Path, update_doc: bool) -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let stem = if self.has_main() {
            "results"
        } else {
            "compression"
        };
        let files = [
            ("md", self.section()),
            (
                "json",
                serde_json::to_string_pretty(&self.json()).map_err(|e| e.to_string())? + "\n",
            ),
            ("svg", self.svg()),
        ];
        for (ext, text) in files {
            let path = dir.join(format!("{stem}.{ext}"));
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        if update_doc {
            let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../BENCHMARKS.md"));
            let mut doc = std::fs::read_to_string(path)
                .unwrap_or_else(|_| format!("# Benchmarks\n\n{START}\n{END}\n"));
            // Each set of tables has its own markers: a run of only the
            // compression scenarios leaves the main tables as they are, and
            // the other way round.
            if self.has_main() {
                doc = replace_between(&doc, START, END, &self.with_header(&self.main_markdown()))?;
            }
            if self.has_compression() {
                let tables = self.with_header(&self.compression_markdown());
                doc = replace_between(&doc, COMPRESSION_START, COMPRESSION_END, &tables)?;
            }
            std::fs::write(path, doc).map_err(|e| format!("BENCHMARKS.md: {e}"))?;
            eprintln!("updated BENCHMARKS.md");
        }
        Ok(())
    }

    fn section(&self) -> String {
        self.with_header(&self.markdown())
    }

    /// `tables` after the machine, the date and the command.
    fn with_header(&self, tables: &str) -> String {
        let m = &self.machine;
        format!(
            "Measured {} on {} × {} ({}), Linux {}, {}, Node.js {}; load average {} when the run started; \
             Rally at commit `{}`.\n\nReproduce: `{}`\n\n{}",
            m.date,
            m.cores,
            m.cpu,
            m.memory,
            m.kernel,
            m.rustc,
            m.node,
            m.load,
            m.commit,
            m.command,
            tables
        )
    }
}

/// Target: server memory per idle WebSocket client, bytes.
pub(crate) const IDLE_TARGET: f64 = 4096.0;
/// Target: server memory per idle long-polling client, bytes.
pub(crate) const IDLE_POLLING_TARGET: f64 = 6144.0;
/// Target: Rally's CPU per acked round trip over the echo ceiling's.
pub(crate) const ACK_CPU_TARGET: f64 = 1.15;
/// Target: Rally's fan-out deliveries per second over the broadcaster's.
pub(crate) const FANOUT_RATE_TARGET: f64 = 0.8;

/// The memory per client an idle scenario aims at, bytes.
pub(crate) fn idle_target(s: &Scenario) -> f64 {
    if matches!(s.kind, Kind::IdlePolling { .. }) {
        IDLE_POLLING_TARGET
    } else {
        IDLE_TARGET
    }
}

/// Whether a scenario's Rally-to-ceiling ratio has a target, and which:
/// `(target, higher_is_better)`, for the throughput table (`cpu` false) or
/// the CPU table.
pub(crate) fn ceiling_target(s: &Scenario, cpu: bool) -> Option<(f64, bool)> {
    match (s.kind, cpu) {
        (Kind::Fanout { .. }, false) => Some((FANOUT_RATE_TARGET, true)),
        (Kind::Ack { .. }, true) => Some((ACK_CPU_TARGET, false)),
        _ => None,
    }
}

const START: &str = "<!-- rally-bench:start -->";
const END: &str = "<!-- rally-bench:end -->";
const COMPRESSION_START: &str = "<!-- rally-bench:compression:start -->";
const COMPRESSION_END: &str = "<!-- rally-bench:compression:end -->";

/// `doc` with what lies between the markers `start` and `end` replaced.
fn replace_between(doc: &str, start: &str, end: &str, with: &str) -> Result<String, String> {
    let (Some(a), Some(b)) = (doc.find(start), doc.find(end)) else {
        return Err(format!("BENCHMARKS.md has no {start} marker"));
    };
    Ok(format!("{}{start}\n{with}{}", &doc[..a], &doc[b..]))
}

fn sample_json(s: &crate::Sample) -> serde_json::Value {
    json!({
        "rate": s.rate, "p50_us": s.p50_us, "p99_us": s.p99_us,
        "server_cpu_ms_per_1k": s.cpu_ms_per_1k, "server_cpu": s.server_cpu, "server_kernel_share": s.kernel_share,
        "loadgen_cpu": s.gen_cpu, "other_processes_cpu": s.other_cpu, "steal_cpu": s.steal_cpu, "bytes_per_client": s.bytes_per_client,
        "clients": s.clients, "kernel_tcp_bytes_per_client": s.kernel_bytes_per_client,
        "kernel_slab_bytes_per_client": s.kernel_slab_per_client,
        "wire_bytes_per_message": s.wire_bytes_per_op, "rss_growth_first_message": s.rss_first_message,
        "rss_growth_under_load": s.rss_under_load,
        "projected_bytes_for_1m_clients": s.bytes_per_client.map(|b| b * 1e6), "errors": s.errors,
    })
}
