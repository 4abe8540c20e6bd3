//! The SVG chart of a report.

use std::fmt::Write as _;

use super::{Report, Variant, si};
use crate::{Scenario, peer::Peer, serve::Runtime};

impl Report {
    /// The headline figure of a cell, when it can be reported.
    fn headline(&self, s: &Scenario, p: Peer, rt: Option<Runtime>) -> Option<f64> {
        let c = self.cell(s, p, rt)?;
        if c.error.is_some() || c.saturated() {
            return None;
        }
        let m = c.median()?;
        if s.is_idle() {
            m.bytes_per_client.map(|b| b / 1024.0)
        } else {
            (m.rate > 0.0).then_some(m.rate)
        }
    }

    /// Grouped horizontal bars, one group per scenario, scaled to the best
    /// peer of the group.
    pub(super) fn svg(&self) -> String {
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
            let values: Vec<(Variant, Option<f64>)> = self
                .variants()
                .into_iter()
                .filter(|&(p, rt)| self.cell(s, p, rt).is_some())
                .map(|(p, rt)| ((p, rt), self.headline(s, p, rt)))
                .collect();
            let max = values.iter().filter_map(|v| v.1).fold(0.0, f64::max);
            let _ = write!(
                body,
                r#"<text x="10" y="{}" font-weight="bold">{} ({}{})</text>"#,
                y + 12.0,
                s.title,
                s.unit(),
                if s.is_idle() { ", lower is better" } else { "" }
            );
            y += 18.0;
            for ((p, rt), v) in values {
                let color = colors[Peer::ALL.iter().position(|q| *q == p).unwrap_or(0)];
                let label = match (v, self.cell(s, p, rt)) {
                    (Some(v), _) if s.is_idle() => format!("{v:.1}"),
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
                    rt.map_or_else(|| p.name().to_owned(), |rt| format!("{p} ({rt})")),
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
}
