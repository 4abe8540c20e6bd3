//! The compression table of a report: per peer, permessage-deflate off and
//! on.

use std::fmt::Write as _;

use super::{Report, Variant, si, us};
use crate::{Kind, Sample, Scenario, on_off, peer::Peer, serve::Runtime};

impl Report {
    /// The compression scenario with deflate on or off: the fan-out with
    /// `window` broadcasts in flight, or the idle one (`window` `None`).
    fn compression_scenario(&self, window: Option<u64>, deflate: bool) -> Option<&Scenario> {
        self.scenarios.iter().find(|s| match s.kind {
            Kind::Compression {
                window: w,
                deflate: d,
                ..
            } => window == Some(w) && d == deflate,
            Kind::CompressionIdle { deflate: d, .. } => window.is_none() && d == deflate,
            _ => false,
        })
    }

    /// The median of a compression cell, or why there is none.
    fn compression_median(
        &self,
        s: Option<&Scenario>,
        p: Peer,
        rt: Option<Runtime>,
    ) -> Result<&Sample, &'static str> {
        let c = s.and_then(|s| self.cell(s, p, rt)).ok_or("n/a")?;
        if c.error.is_some() {
            return Err("failed²");
        }
        let m = c.median().ok_or("—")?;
        if c.saturated() {
            return Err("⚠");
        }
        Ok(m)
    }

    /// The idle table: memory per client with the extension agreed or not.
    fn compression_idle_table(&self, out: &mut String, variants: &[Variant], clients: usize) {
        let _ = write!(
            out,
            "\n**Idle memory with permessage-deflate agreed** (server RSS growth per idle WebSocket \
             client, {clients} clients, each having offered the extension or not)\n\n\
             | peer | runtime | deflate off | deflate on |\n| --- | --- | ---: | ---: |\n"
        );
        for &(p, rt) in variants {
            let _ = write!(
                out,
                "| {} | {} |",
                p.title(),
                rt.map_or("—", Runtime::title)
            );
            for deflate in [false, true] {
                if deflate && p == Peer::Socketioxide {
                    out.push_str(" no permessage-deflate |");
                    continue;
                }
                let idle = self.compression_median(self.compression_scenario(None, deflate), p, rt);
                match idle.map(|m| (m.bytes_per_client, m.noisy())) {
                    Ok((Some(b), noisy)) => {
                        let _ = write!(
                            out,
                            " {:.1} KiB{} |",
                            b / 1024.0,
                            if noisy { "~" } else { "" }
                        );
                    }
                    Ok((None, _)) => out.push_str(" — |"),
                    Err(why) => {
                        let _ = write!(out, " {why} |");
                    }
                }
            }
            out.push('\n');
        }
    }

    /// The figures of one fan-out row, in brackets for "on" the ratio to
    /// the same peer "off".
    fn compression_row(
        &self,
        out: &mut String,
        p: Peer,
        rt: Option<Runtime>,
        window: u64,
        deflate: bool,
    ) {
        let fan = self.compression_median(self.compression_scenario(Some(window), deflate), p, rt);
        let off = self
            .compression_median(self.compression_scenario(Some(window), false), p, rt)
            .ok()
            .filter(|_| deflate);
        let ratio = |on: f64, off: Option<f64>| match off {
            Some(o) if o > 0.0 => format!(" ({:.2}×)", on / o),
            _ => String::new(),
        };
        match fan {
            Ok(m) => {
                let wire = m.wire_bytes_per_op.unwrap_or(0.0);
                let kib = |b: Option<f64>| {
                    b.map_or("—".to_owned(), |b| format!("{:.0} KiB", b / 1024.0))
                };
                let _ = writeln!(
                    out,
                    " {wire:.0} B{} | {}{}{} | {:.1} ms{} | {} / {} | {} | {} |",
                    ratio(wire, off.and_then(|o| o.wire_bytes_per_op)),
                    si(m.rate),
                    if m.noisy() { "~" } else { "" },
                    ratio(m.rate, off.map(|o| o.rate)),
                    m.cpu_ms_per_1k,
                    ratio(m.cpu_ms_per_1k, off.map(|o| o.cpu_ms_per_1k)),
                    us(m.p50_us),
                    us(m.p99_us),
                    kib(m.rss_first_message),
                    kib(m.rss_under_load),
                );
            }
            Err(why) => {
                out.push_str(&format!(" {why} |").repeat(6));
                out.push('\n');
            }
        }
    }

    /// The in-flight windows of the compression fan-out scenarios.
    fn compression_windows(&self) -> Vec<u64> {
        let mut windows: Vec<u64> = self
            .scenarios
            .iter()
            .filter_map(|s| match s.kind {
                Kind::Compression { window, .. } => Some(window),
                _ => None,
            })
            .collect();
        windows.sort_unstable_by(|a, b| b.cmp(a));
        windows.dedup();
        windows
    }

    /// The compression table (empty without its scenarios).
    pub(crate) fn compression_markdown(&self) -> String {
        let mut out = String::new();
        if !self.has_compression() {
            return out;
        }
        let variants: Vec<_> = self
            .variants()
            .into_iter()
            .filter(|(p, _)| p.is_socketio())
            .collect();
        // The fan-out table, unless only the idle scenarios ran.
        if !self.compression_windows().is_empty() {
            let runs = self
                .cells
                .iter()
                .filter(|c| c.scenario.starts_with("compression-fanout"))
                .map(|c| c.samples.len())
                .max()
                .unwrap_or(0);
            let clients = self
                .scenarios
                .iter()
                .find_map(|s| match s.kind {
                    Kind::Compression { clients, .. } => Some(clients),
                    _ => None,
                })
                .unwrap_or(0);
            let _ = writeln!(
                out,
                "**Compression** (chat-history pages, JSON of {} bytes on average, broadcast to a room of \
                 {clients}; median of {runs} runs; bytes on the wire per message received, frame header \
                 included; server CPU per 1,000 deliveries; the server's RSS growth after the first \
                 broadcast and under the load, from its clients connected; in brackets, on: the ratio to \
                 the same peer off; ~: every run was noisy)\n",
                crate::compression::mean_page_size()
            );
            out.push_str(
                "| peer | runtime | in flight | deflate | bytes per message | deliveries/s | CPU per 1k \
                 | p50 / p99 | RSS, first broadcast | RSS, under load |\n\
                 | --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
            );
            for &(p, rt) in &variants {
                for window in self.compression_windows() {
                    for deflate in [false, true] {
                        let _ = write!(
                            out,
                            "| {} | {} | {window} | {} |",
                            p.title(),
                            rt.map_or("—", Runtime::title),
                            on_off(deflate)
                        );
                        if deflate && p == Peer::Socketioxide {
                            out.push_str(" no permessage-deflate | | | | | |\n");
                            continue;
                        }
                        self.compression_row(&mut out, p, rt, window, deflate);
                    }
                }
            }
        }
        let idle_clients = self.scenarios.iter().find_map(|s| match s.kind {
            Kind::CompressionIdle { clients, .. } => Some(clients),
            _ => None,
        });
        if let Some(clients) = idle_clients {
            self.compression_idle_table(&mut out, &variants, clients);
        }
        out.push_str(
            "\nThe clients offer permessage-deflate with no context takeover either way (as Rally's own \
             client does) and inflate the head of every compressed message (one in 64 whole, checked); the \
             sender compresses what it sends. \
             socketioxide has no permessage-deflate.  \n",
        );
        for c in self
            .cells
            .iter()
            .filter(|c| c.scenario.starts_with("compression"))
        {
            if let Some(e) = &c.error {
                let _ = writeln!(
                    out,
                    "- ² {} / {}{}: {e}",
                    c.scenario,
                    c.peer,
                    c.runtime.map_or(String::new(), |r| format!(" ({r})"))
                );
            }
        }
        out.push('\n');
        out
    }
}
