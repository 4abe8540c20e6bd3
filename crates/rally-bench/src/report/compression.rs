//! The compression table of a report: per peer, permessage-deflate off and
//! on.

use std::fmt::Write as _;

use super::{Report, si, us};
use crate::{Kind, Sample, Scenario, peer::Peer, serve::Runtime};

impl Report {
    /// The compression scenario of `kind`'s flavour (`idle` or not) with
    /// deflate on or off.
    fn compression_scenario(&self, idle: bool, deflate: bool) -> Option<&Scenario> {
        self.scenarios.iter().find(|s| match s.kind {
            Kind::Compression { deflate: d, .. } => !idle && d == deflate,
            Kind::CompressionIdle { deflate: d, .. } => idle && d == deflate,
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

    /// The compression table (empty without its scenarios).
    pub(crate) fn compression_markdown(&self) -> String {
        let mut out = String::new();
        if !self.has_compression() {
            return out;
        }
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
             broadcast and under the load, from its clients connected; idle memory per client with \
             the extension agreed or not; in brackets, on: the ratio to the same peer off)\n",
            crate::compression::mean_page_size()
        );
        out.push_str(
            "| peer | runtime | deflate | bytes per message | deliveries/s | CPU per 1k | p50 / p99 \
             | RSS, first broadcast | RSS, under load | idle, per client |\n\
             | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        );
        for (p, rt) in self.variants() {
            if !p.is_socketio() {
                continue;
            }
            for deflate in [false, true] {
                let _ = write!(
                    out,
                    "| {} | {} | {} |",
                    p.title(),
                    rt.map_or("—", Runtime::title),
                    if deflate { "on" } else { "off" }
                );
                if deflate && p == Peer::Socketioxide {
                    out.push_str(" no permessage-deflate | | | | | | |\n");
                    continue;
                }
                let fan = self.compression_median(self.compression_scenario(false, deflate), p, rt);
                let off = self
                    .compression_median(self.compression_scenario(false, false), p, rt)
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
                        let _ = write!(
                            out,
                            " {wire:.0} B{} | {}{} | {:.1} ms{} | {} / {} | {} | {} |",
                            ratio(wire, off.and_then(|o| o.wire_bytes_per_op)),
                            si(m.rate),
                            ratio(m.rate, off.map(|o| o.rate)),
                            m.cpu_ms_per_1k,
                            ratio(m.cpu_ms_per_1k, off.map(|o| o.cpu_ms_per_1k)),
                            us(m.p50_us),
                            us(m.p99_us),
                            kib(m.rss_first_message),
                            kib(m.rss_under_load),
                        );
                    }
                    Err(why) => out.push_str(&format!(" {why} |").repeat(6)),
                }
                let idle = self.compression_median(self.compression_scenario(true, deflate), p, rt);
                match idle.map(|m| m.bytes_per_client) {
                    Ok(Some(b)) => {
                        let _ = writeln!(out, " {:.1} KiB |", b / 1024.0);
                    }
                    Ok(None) => out.push_str(" — |\n"),
                    Err(why) => {
                        let _ = writeln!(out, " {why} |");
                    }
                }
            }
        }
        out.push_str(
            "\nThe clients offer permessage-deflate with no context takeover either way (as Rally's own \
             client does) and inflate every compressed message; the sender compresses what it sends. \
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
