//! Results: a Markdown table, JSON and an SVG chart; the machine they came from.

use std::{fmt::Write as _, path::Path, process::Command};

use serde_json::json;

use crate::{Cell, Kind, Options, Scenario, peer::Peer};

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

    /// The headline figure of a cell, when it can be reported.
    fn headline(&self, s: &Scenario, p: Peer) -> Option<f64> {
        let c = self.cell(s, p)?;
        if c.error.is_some() || c.saturated() {
            return None;
        }
        let m = c.median()?;
        match s.kind {
            Kind::Idle { .. } => m.bytes_per_client.map(|b| b / 1024.0),
            _ => (m.rate > 0.0).then_some(m.rate),
        }
    }

    fn cell_text(
        &self,
        s: &Scenario,
        p: Peer,
        figure: fn(&Scenario, &crate::Sample) -> Option<(f64, String)>,
    ) -> String {
        let Some(c) = self.cell(s, p) else {
            return "n/a".into();
        };
        if let Some(e) = &c.error {
            return if e.contains("open files") {
                "skipped¹".into()
            } else {
                "failed²".into()
            };
        }
        let Some(m) = c.median() else {
            return "—".into();
        };
        let Some((value, text)) = figure(s, m) else {
            return "—".into();
        };
        if c.saturated() {
            return format!("≥{text} ⚠");
        }
        let text = if m.noisy() { format!("{text}~") } else { text };
        let rally = self
            .cell(s, Peer::Rally)
            .filter(|c| c.error.is_none() && !c.saturated())
            .and_then(Cell::median)
            .and_then(|m| figure(s, m))
            .map(|(v, _)| v);
        match rally {
            Some(r) if p != Peer::Rally && r > 0.0 => format!("{text} ({:.2}×)", value / r),
            _ => text,
        }
    }

    fn table(
        &self,
        out: &mut String,
        title: &str,
        figure: fn(&Scenario, &crate::Sample) -> Option<(f64, String)>,
        rows: &dyn Fn(&Scenario) -> bool,
    ) {
        let _ = writeln!(out, "{title}\n");
        out.push_str("| scenario |");
        for p in &self.peers {
            let _ = write!(out, " {} |", p.title());
        }
        out.push_str("\n| --- |");
        for _ in &self.peers {
            out.push_str(" ---: |");
        }
        out.push('\n');
        for s in self.scenarios.iter().filter(|s| rows(s)) {
            let _ = write!(out, "| {} |", s.title);
            for &p in &self.peers {
                let _ = write!(out, " {} |", self.cell_text(s, p, figure));
            }
            out.push('\n');
        }
        out.push('\n');
    }

    /// The Markdown tables.
    pub(crate) fn markdown(&self) -> String {
        let mut out = String::new();
        let runs = self
            .cells
            .iter()
            .map(|c| c.samples.len())
            .max()
            .unwrap_or(0);
        self.table(
            &mut out,
            &format!("**Throughput** (median of {runs} runs; in brackets: the ratio to Rally; higher is better)"),
            |s, m| match s.kind {
                Kind::Idle { .. } => None,
                _ => Some((m.rate, format!("{} {}", si(m.rate), s.unit()))),
            },
            &|s| !matches!(s.kind, Kind::Idle { .. }),
        );
        self.table(
            &mut out,
            "**Server CPU per 1,000 operations** (ms, from /proc; lower is better)",
            |s, m| match s.kind {
                Kind::Idle { .. } => None,
                _ => (m.cpu_ms_per_1k > 0.0)
                    .then(|| (m.cpu_ms_per_1k, format!("{:.1} ms", m.cpu_ms_per_1k))),
            },
            &|s| !matches!(s.kind, Kind::Idle { .. }),
        );
        self.table(
            &mut out,
            "**Latency** (p50 / p99 of the median run; under the load above)",
            |s, m| match s.kind {
                Kind::Idle { .. } => None,
                _ => Some((
                    m.p50_us as f64,
                    format!("{} / {}", us(m.p50_us), us(m.p99_us)),
                )),
            },
            &|s| !matches!(s.kind, Kind::Idle { .. }),
        );
        self.table(
            &mut out,
            "**Idle density** (server resident memory per connected client; lower is better)",
            |_, m| {
                m.bytes_per_client
                    .map(|b| (b, format!("{:.1} KiB", b / 1024.0)))
            },
            &|s| matches!(s.kind, Kind::Idle { .. }),
        );
        out.push_str(
            "⚠ the load generator saturated its core in that run: a lower bound, not a result.  \n",
        );
        out.push_str("n/a: the bare WebSocket server has no rooms and no polling.  \n");
        let most = |f: fn(&crate::Sample) -> f64| {
            self.cells
                .iter()
                .filter_map(Cell::median)
                .map(f)
                .fold(0.0, f64::max)
        };
        let (other, steal) = (most(|m| m.other_cpu), most(|m| m.steal_cpu));
        let _ = writeln!(
            out,
            "Other processes on the machine used at most {other:.2} cores during a reported run, and the \
             hypervisor took at most {steal:.2} (steal time: this is a virtual machine on a shared host) \
             (a run above {:.2} of either is measured again, a bounded number of times; ~ marks a median \
             run above it).  ",
            crate::scenario::NOISY
        );
        let notes: Vec<String> = self
            .cells
            .iter()
            .filter_map(|c| {
                Some(format!(
                    "{} / {}: {}",
                    c.scenario,
                    c.peer,
                    c.error.as_ref()?
                ))
            })
            .collect();
        if !notes.is_empty() {
            out.push_str("¹ skipped, ² failed:  \n");
            for n in notes {
                let _ = writeln!(out, "- {n}");
            }
        }
        out
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

    /// Grouped horizontal bars, one group per scenario, scaled to the best
    /// peer of the group.
    fn svg(&self) -> String {
        let colors = ["#d1495b", "#00798c", "#edae49", "#66a182"];
        let bar = 16.0;
        let width = 900.0;
        let left = 330.0;
        let mut y = 40.0;
        let mut body = String::new();
        for (i, p) in self.peers.iter().enumerate() {
            let x = 10.0 + 210.0 * i as f64;
            let _ = write!(
                body,
                r#"<rect x="{x}" y="10" width="12" height="12" fill="{}"/><text x="{}" y="21">{}</text>"#,
                colors[Peer::ALL.iter().position(|q| q == p).unwrap_or(0)],
                x + 16.0,
                p.title()
            );
        }
        for s in &self.scenarios {
            let values: Vec<(Peer, Option<f64>)> = self
                .peers
                .iter()
                .map(|&p| (p, self.headline(s, p)))
                .collect();
            let max = values.iter().filter_map(|v| v.1).fold(0.0, f64::max);
            let _ = write!(
                body,
                r#"<text x="10" y="{}" font-weight="bold">{} ({}{})</text>"#,
                y + 12.0,
                s.title,
                s.unit(),
                if matches!(s.kind, Kind::Idle { .. }) {
                    ", lower is better"
                } else {
                    ""
                }
            );
            y += 18.0;
            for (p, v) in values {
                let color = colors[Peer::ALL.iter().position(|q| *q == p).unwrap_or(0)];
                let label = match (v, self.cell(s, p)) {
                    (Some(v), _) if matches!(s.kind, Kind::Idle { .. }) => format!("{v:.1}"),
                    (Some(v), _) => si(v),
                    (None, None) => "n/a".into(),
                    (None, Some(c)) if c.saturated() => "load generator saturated".into(),
                    (None, Some(_)) => "no result".into(),
                };
                let w = v.map_or(0.0, |v| {
                    if max > 0.0 {
                        (width - left - 90.0) * v / max
                    } else {
                        0.0
                    }
                });
                let _ = write!(
                    body,
                    r#"<text x="{}" y="{}" text-anchor="end">{}</text><rect x="{left}" y="{y}" width="{w:.1}" height="{}" fill="{color}"/><text x="{}" y="{}">{label}</text>"#,
                    left - 6.0,
                    y + 12.0,
                    p.name(),
                    bar - 2.0,
                    left + w + 4.0,
                    y + 12.0,
                );
                y += bar;
            }
            y += 10.0;
        }
        format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/>{body}</svg>
"#,
            y + 10.0
        )
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
