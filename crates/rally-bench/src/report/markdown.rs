//! The Markdown tables of a report.

use std::fmt::Write as _;

use super::{Report, si, us};
use crate::{Cell, Kind, Scenario, peer::Peer};

impl Report {
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
}
