//! The shape of a declaration: a [`Family`] (name, kind, unit, help, label names) and the
//! typed handles recording through it; [`Declared`] lists families of any label count.

use metrics::{Counter, Gauge, Histogram, Label, SharedString, Unit};

/// What a metric is, in Prometheus' terms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Counter,
    Gauge,
    /// A histogram with these bucket bounds.
    Histogram(&'static [f64]),
}

impl Kind {
    /// The `# TYPE` word.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram(_) => "histogram",
        }
    }
}

/// One metric family with `L` labels. Recording through it ([`Family::counter`], ...) takes
/// exactly one value per declared label, in the declared order.
#[derive(Debug)]
pub struct Family<const L: usize> {
    /// `smsgw_...`; counters end in `_total`, durations are `_seconds`.
    pub name: &'static str,
    pub kind: Kind,
    /// The unit given to the recorder (gauges have none).
    pub unit: Option<Unit>,
    /// The `# HELP` text.
    pub help: &'static str,
    /// Label names, in the order every series carries them.
    pub labels: [&'static str; L],
}

impl<const L: usize> Family<L> {
    fn labelled<V: Into<SharedString>>(&self, values: [V; L]) -> Vec<Label> {
        self.labels
            .iter()
            .zip(values)
            .map(|(k, v)| Label::new(*k, v))
            .collect()
    }

    /// The counter series with these label values.
    pub fn counter<V: Into<SharedString>>(&'static self, values: [V; L]) -> Counter {
        debug_assert_eq!(self.kind, Kind::Counter, "{} is not a counter", self.name);
        metrics::counter!(self.name, self.labelled(values))
    }

    /// The gauge series with these label values.
    pub fn gauge<V: Into<SharedString>>(&'static self, values: [V; L]) -> Gauge {
        debug_assert_eq!(self.kind, Kind::Gauge, "{} is not a gauge", self.name);
        metrics::gauge!(self.name, self.labelled(values))
    }

    /// The histogram series with these label values.
    pub fn histogram<V: Into<SharedString>>(&'static self, values: [V; L]) -> Histogram {
        debug_assert!(
            matches!(self.kind, Kind::Histogram(_)),
            "{} is not a histogram",
            self.name
        );
        metrics::histogram!(self.name, self.labelled(values))
    }
}

/// A [`Family`] of any label count, as the catalog lists it.
pub trait Declared: Sync {
    fn name(&self) -> &'static str;
    fn kind(&self) -> Kind;
    fn unit(&self) -> Option<Unit>;
    fn help(&self) -> &'static str;
    fn label_names(&self) -> &[&'static str];
}

impl<const L: usize> Declared for Family<L> {
    fn name(&self) -> &'static str {
        self.name
    }
    fn kind(&self) -> Kind {
        self.kind
    }
    fn unit(&self) -> Option<Unit> {
        self.unit
    }
    fn help(&self) -> &'static str {
        self.help
    }
    fn label_names(&self) -> &[&'static str] {
        &self.labels
    }
}

/// A `&'static str` of a declaration.
type Text = &'static str;

impl<const L: usize> Family<L> {
    const fn new(
        name: Text,
        kind: Kind,
        unit: Option<Unit>,
        labels: [Text; L],
        help: Text,
    ) -> Self {
        Family {
            name,
            kind,
            unit,
            help,
            labels,
        }
    }
}

pub(super) const fn counter<const L: usize>(
    name: Text,
    labels: [Text; L],
    help: Text,
) -> Family<L> {
    Family::new(name, Kind::Counter, Some(Unit::Count), labels, help)
}

pub(super) const fn gauge<const L: usize>(name: Text, labels: [Text; L], help: Text) -> Family<L> {
    Family::new(name, Kind::Gauge, None, labels, help)
}

pub(super) const fn histogram<const L: usize>(
    name: Text,
    unit: Unit,
    buckets: &'static [f64],
    labels: [Text; L],
    help: Text,
) -> Family<L> {
    Family::new(name, Kind::Histogram(buckets), Some(unit), labels, help)
}
