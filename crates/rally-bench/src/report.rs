//! Results: a Markdown table, JSON and an SVG chart; the machine they came from.

mod markdown;
mod svg;

use std::{path::Path, process::Command};

use serde_json::json;

use crate::{Cell, Options, Scenario, peer::Peer};

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

/// The full results.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) machine: Machine,
    pub(crate) scenarios: Vec<Scenario>,
    pub(crate) peers: Vec<Peer>,
    pub(crate) cells: Vec<Cell>,
    pub(crate) quick: bool,
}

impl Report {
    fn cell(&self, s: &Scenario, p: Peer) -> Option<&Cell> {
        self.cells
            .iter()
            .find(|c| c.scenario == s.id && c.peer == p)
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
            "results": self.cells.iter().map(|c| {
                let scenario = self.scenarios.iter().find(|s| s.id == c.scenario);
                json!({
                    "scenario": c.scenario,
                    "title": scenario.map(|s| s.title.clone()),
                    "unit": scenario.map(Scenario::unit),
                    "peer": c.peer.name(),
                    "error": c.error,
                    "saturated": c.saturated(),
                    "median": c.median().map(sample_json),
                    "runs": c.samples.iter().map(sample_json).collect::<Vec<_>>(),
                })
            }).collect::<Vec<_>>(),
        })
    }

    /// Writes results.md, results.json and results.svg into `dir`; with
    /// `update_doc`, the tables in BENCHMARKS.md too.
    pub(crate) fn write(&self, dir: &Path, update_doc: bool) -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let section = self.section();
        let files = [
            ("results.md", section.clone()),
            (
                "results.json",
                serde_json::to_string_pretty(&self.json()).map_err(|e| e.to_string())? + "\n",
            ),
            ("results.svg", self.svg()),
        ];
        for (name, text) in files {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        if update_doc {
            let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../BENCHMARKS.md"));
            let old = std::fs::read_to_string(path)
                .unwrap_or_else(|_| format!("# Benchmarks\n\n{START}\n{END}\n"));
            let (Some(a), Some(b)) = (old.find(START), old.find(END)) else {
                return Err("BENCHMARKS.md has no results markers".into());
            };
            let new = format!("{}{START}\n{section}{}", &old[..a], &old[b..]);
            std::fs::write(path, new).map_err(|e| format!("BENCHMARKS.md: {e}"))?;
            eprintln!("updated BENCHMARKS.md");
        }
        Ok(())
    }

    fn section(&self) -> String {
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
            self.markdown()
        )
    }
}

const START: &str = "<!-- rally-bench:start -->";
const END: &str = "<!-- rally-bench:end -->";

fn sample_json(s: &crate::Sample) -> serde_json::Value {
    json!({
        "rate": s.rate, "p50_us": s.p50_us, "p99_us": s.p99_us,
        "server_cpu_ms_per_1k": s.cpu_ms_per_1k, "server_cpu": s.server_cpu, "server_kernel_share": s.kernel_share,
        "loadgen_cpu": s.gen_cpu, "other_processes_cpu": s.other_cpu, "steal_cpu": s.steal_cpu, "bytes_per_client": s.bytes_per_client, "errors": s.errors,
    })
}
