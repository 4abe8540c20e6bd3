//! The Prometheus text exposition format (version 0.0.4), written by hand:
//! a family is its `# HELP` and `# TYPE` lines, then its samples.
//!
//! Not the `prometheus-client` crate: its metric types hold their own
//! atomics, where every figure here is a snapshot the engine, the server and
//! the adapter already keep (each scrape would copy them in through a custom
//! collector), and its main encoder writes OpenMetrics (counter families
//! named without `_total`, a closing `# EOF`), not what scrapers of
//! `/metrics` read today. Fifty lines here cost less than the dependency.

use std::fmt::{Display, Write};

/// The kind of a metric family.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    Counter,
    Gauge,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
        }
    }
}

/// The exposition text being written.
#[derive(Debug, Default)]
pub(super) struct Exposition {
    out: String,
}

impl Exposition {
    /// A family of one sample without labels.
    pub(super) fn single(&mut self, name: &str, kind: Kind, help: &str, value: impl Display) {
        self.family(name, kind, help, [("", value)]);
    }

    /// A family whose samples are told apart by one label each:
    /// `(label, value)`, the label written as `name="value"` (or empty).
    pub(super) fn family<L: Display, V: Display>(
        &mut self,
        name: &str,
        kind: Kind,
        help: &str,
        samples: impl IntoIterator<Item = (L, V)>,
    ) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.as_str());
        for (label, value) in samples {
            let label = label.to_string();
            if label.is_empty() {
                let _ = writeln!(self.out, "{name} {value}");
            } else {
                let _ = writeln!(self.out, "{name}{{{label}}} {value}");
            }
        }
    }

    /// The text written.
    pub(super) fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_as_prometheus_reads_them() {
        let mut text = Exposition::default();
        text.single("a_total", Kind::Counter, "As.", 3);
        text.family(
            "b",
            Kind::Gauge,
            "Bs by kind.",
            [("kind=\"x\"", 1.5), ("kind=\"y\"", 0.0)],
        );
        assert_eq!(
            text.finish(),
            "# HELP a_total As.\n# TYPE a_total counter\na_total 3\n\
             # HELP b Bs by kind.\n# TYPE b gauge\nb{kind=\"x\"} 1.5\nb{kind=\"y\"} 0\n"
        );
    }
}
