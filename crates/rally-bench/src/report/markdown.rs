//! The Markdown tables of a report.

use std::fmt::Write as _;

use super::{Report, ceiling_target, idle_target, si, us};
use crate::{Cell, Kind, Scenario, peer::Peer, serve::Runtime};

/// A table's figure of a median run: the value compared and its text.
type Figure = fn(&Scenario, &crate::Sample) -> Option<(f64, String)>;

impl Report {
    fn cell_text(&self, s: &Scenario, p: Peer, rt: Option<Runtime>, figure: Figure) -> String {
        let Some(c) = self.cell(s, p, rt) else {
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
            .clean_median(s, Peer::Rally, rt)
            .and_then(|m| figure(s, m))
            .map(|(v, _)| v);
        match rally {
            Some(r) if p != Peer::Rally && r > 0.0 => format!("{text} ({:.2}×)", value / r),
            _ => text,
        }
    }

    /// Rally's figure over the ceiling's, on the same runtime, with the
    /// target when the scenario has one (✓ met, ✗ not).
    fn ceiling_text(&self, s: &Scenario, rt: Option<Runtime>, figure: Figure, cpu: bool) -> String {
        let mut parts = Vec::new();
        if let Some(ratio) = self.ceiling_ratio(s, rt, figure, cpu) {
            parts.push(ratio);
        }
        if s.is_idle() {
            let target = idle_target(s);
            let met = self
                .clean_median(s, Peer::Rally, rt)
                .and_then(|m| m.bytes_per_client)
                .is_some_and(|b| b <= target);
            let mark = if met { "✓" } else { "✗" };
            parts.push(format!("Rally {mark} (target ≤{:.0} KiB)", target / 1024.0));
        }
        if parts.is_empty() {
            "—".into()
        } else {
            parts.join("; ")
        }
    }

    fn ceiling_ratio(
        &self,
        s: &Scenario,
        rt: Option<Runtime>,
        figure: Figure,
        cpu: bool,
    ) -> Option<String> {
        let value = |p: Peer| {
            let c = self.cell(s, p, rt).filter(|c| c.error.is_none())?;
            let (v, _) = figure(s, c.median()?)?;
            (v > 0.0).then_some((v, c.saturated()))
        };
        let ((r, r_sat), (b, b_sat)) = (value(Peer::Rally)?, value(Peer::BareWs)?);
        // A saturated load generator makes a figure a bound: a rate is at
        // least what was seen, a CPU time per operation at most.
        let bound = match (r_sat, b_sat) {
            (false, false) => "",
            (true, true) => return None,
            (true, false) if cpu => "≤",
            (true, false) => "≥",
            (false, true) if cpu => "≥",
            (false, true) => "≤",
        };
        let ratio = r / b;
        let mut text = format!("{bound}{ratio:.2}×");
        if let Some((target, higher)) = ceiling_target(s, cpu) {
            let met = if higher {
                ratio >= target
            } else {
                ratio <= target
            };
            let sign = if higher { "≥" } else { "≤" };
            let mark = if met { "✓" } else { "✗" };
            let _ = write!(text, " {mark} (target {sign}{target:.2}×)");
        }
        Some(text)
    }

    fn table(
        &self,
        out: &mut String,
        title: &str,
        figure: Figure,
        rows: &dyn Fn(&Scenario) -> bool,
        ratio: Option<bool>,
    ) {
        let rows = |s: &Scenario| !s.is_compression() && rows(s);
        if !self.scenarios.iter().any(rows) {
            return;
        }
        // `ratio`: the Rally ÷ ceiling column (with the targets), for a
        // figure where lower is better (`Some(true)`) or higher (`Some(false)`).
        let ceiling = ratio.filter(|_| self.peers.contains(&Peer::Rally));
        let _ = writeln!(out, "{title}\n");
        out.push_str("| scenario | runtime |");
        for p in &self.peers {
            let _ = write!(out, " {} |", p.title());
        }
        if ceiling.is_some() {
            out.push_str(" Rally ÷ ceiling, target |");
        }
        out.push_str("\n| --- | --- |");
        for _ in &self.peers {
            out.push_str(" ---: |");
        }
        if ceiling.is_some() {
            out.push_str(" ---: |");
        }
        out.push('\n');
        for s in self.scenarios.iter().filter(|s| rows(s)) {
            for rt in self.row_runtimes() {
                let _ = write!(out, "| {} | {} |", s.title, rt.map_or("—", Runtime::title));
                for &p in &self.peers {
                    let _ = write!(out, " {} |", self.cell_text(s, p, rt, figure));
                }
                if let Some(cpu) = ceiling {
                    let _ = write!(out, " {} |", self.ceiling_text(s, rt, figure, cpu));
                }
                out.push('\n');
            }
        }
        out.push('\n');
    }

    /// The Markdown tables: the main ones, then the compression table.
    pub(crate) fn markdown(&self) -> String {
        let mut out = self.main_markdown();
        out.push_str(&self.compression_markdown());
        out
    }

    /// Whether the report has scenarios of the main tables.
    pub(crate) fn has_main(&self) -> bool {
        self.scenarios.iter().any(|s| !s.is_compression())
    }

    /// Whether the report has compression scenarios.
    pub(crate) fn has_compression(&self) -> bool {
        self.scenarios.iter().any(Scenario::is_compression)
    }

    /// The main tables (empty without their scenarios).
    pub(crate) fn main_markdown(&self) -> String {
        let mut out = String::new();
        if !self.has_main() {
            return out;
        }
        let runs = self
            .cells
            .iter()
            .map(|c| c.samples.len())
            .max()
            .unwrap_or(0);
        self.table(
            &mut out,
            &format!(
                "**Throughput** (median of {runs} runs; in brackets: the ratio to Rally on the same runtime; \
                 last column: Rally's over the ceiling's; higher is better)"
            ),
            |s, m| (!s.is_idle()).then(|| (m.rate, format!("{} {}", si(m.rate), s.unit()))),
            &|s| !s.is_idle(),
            Some(false),
        );
        self.table(
            &mut out,
            "**Server CPU per 1,000 operations** (ms, from /proc; last column: Rally's over the ceiling's; \
             lower is better)",
            |s, m| {
                (!s.is_idle() && m.cpu_ms_per_1k > 0.0)
                    .then(|| (m.cpu_ms_per_1k, format!("{:.1} ms", m.cpu_ms_per_1k)))
            },
            &|s| !s.is_idle(),
            Some(true),
        );
        self.table(
            &mut out,
            "**Latency** (p50 / p99 of the median run; under the load above)",
            |s, m| {
                (!s.is_idle()).then(|| {
                    (
                        m.p50_us as f64,
                        format!("{} / {}", us(m.p50_us), us(m.p99_us)),
                    )
                })
            },
            &|s| !s.is_idle(),
            None,
        );
        self.table(
            &mut out,
            "**Idle density** (server resident memory per connected client; at the open-files limit \
             also the clients, the projection for 1,000,000 clients, and apart the kernel's memory per \
             client, both ends of the loopback connection: TCP buffers from /proc/net/sockstat and \
             socket structures from the slab; lower is better)",
            |s, m| {
                let b = m.bytes_per_client?;
                let mut text = format!("{:.1} KiB", b / 1024.0);
                if let (Kind::IdleMax, Some(n)) = (s.kind, m.clients) {
                    let _ = write!(text, " ({n} clients; 1M: {:.2} GB", b * 1e6 / 1e9);
                    if let (Some(k), Some(slab)) =
                        (m.kernel_bytes_per_client, m.kernel_slab_per_client)
                    {
                        let _ = write!(
                            text,
                            "; kernel: TCP buffers {:.1} KiB, slab {:.1} KiB",
                            k / 1024.0,
                            slab / 1024.0
                        );
                    }
                    text.push(')');
                }
                Some((b, text))
            },
            &|s| s.is_idle(),
            Some(true),
        );
        out.push_str(
            "⚠ the load generator saturated its core in that run: a lower bound, not a result.  \n",
        );
        out.push_str(
            "The ceiling: a bare WebSocket server with its own framing and no Socket.IO, on the same \
             runtime as the Rust peers of its row: an echo server for the acked round trips and a \
             broadcaster for the fan-out (one frame per broadcast written straight into each member's \
             socket). Node has no runtime to choose: its one measurement appears in every row.  \n",
        );
        out.push_str("n/a: the bare WebSocket server has no polling.  \n");
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
        // The compression table lists its own failures.
        let notes: Vec<String> = self
            .cells
            .iter()
            .filter(|c| !c.scenario.starts_with("compression"))
            .filter_map(|c| {
                Some(format!(
                    "{} / {}{}: {}",
                    c.scenario,
                    c.peer,
                    c.runtime.map_or(String::new(), |r| format!(" ({r})")),
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
