//! Metric families whose labels are a type. A family is declared with its label set (a
//! struct made by [`label_set!`](crate::label_set)), and a series is picked by a value of
//! that set: a label cannot be left out, put in the wrong place or given to the wrong
//! metric, which positional `with_label_values(&[..])` slices allow.

use std::borrow::Cow;
use std::marker::PhantomData;

use prometheus::core::Collector;
pub use prometheus::core::{MetricVec, MetricVecBuilder};
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};

/// The labels of one metric family: their names, and the series their values pick.
pub trait LabelSet {
    const NAMES: &'static [&'static str];
    /// This set's series of `vec`, its values passed in [`LabelSet::NAMES`] order on the
    /// stack (a metric update on a hot path allocates nothing for its labels).
    fn series<B: MetricVecBuilder>(&self, vec: &MetricVec<B>) -> B::M;
}

/// A value a label can take.
pub trait LabelValue {
    fn label(&self) -> Cow<'_, str>;
}

impl LabelValue for &str {
    fn label(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

impl LabelValue for String {
    fn label(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

impl LabelValue for u16 {
    fn label(&self) -> Cow<'_, str> {
        Cow::Owned(self.to_string())
    }
}

impl LabelValue for u32 {
    fn label(&self) -> Cow<'_, str> {
        Cow::Owned(self.to_string())
    }
}

/// A struct whose fields are a metric's labels, named as the fields are.
#[macro_export]
macro_rules! label_set {
    ($(#[$meta:meta])* $vis:vis struct $name:ident $(<$lt:lifetime>)? {
        $($(#[$field_meta:meta])* $field:ident : $ty:ty),+ $(,)?
    }) => {
        $(#[$meta])*
        $vis struct $name $(<$lt>)? { $($(#[$field_meta])* pub $field: $ty),+ }

        impl $(<$lt>)? $crate::labels::LabelSet for $name $(<$lt>)? {
            const NAMES: &'static [&'static str] = &[$(stringify!($field)),+];
            fn series<B: $crate::labels::MetricVecBuilder>(
                &self,
                vec: &$crate::labels::MetricVec<B>,
            ) -> B::M {
                #[allow(clippy::disallowed_methods)] // the one place labels become values
                vec.with_label_values(&[$($crate::labels::LabelValue::label(&self.$field)),+])
            }
        }
    };
}

/// A metric family labelled by `L`.
pub struct Family<L, B: MetricVecBuilder> {
    vec: MetricVec<B>,
    labels: PhantomData<fn(&L)>,
}

impl<L, B: MetricVecBuilder> Clone for Family<L, B> {
    fn clone(&self) -> Self {
        Self {
            vec: self.vec.clone(),
            labels: PhantomData,
        }
    }
}

impl<L: LabelSet, B: MetricVecBuilder + 'static> Family<L, B> {
    /// The series of `labels`.
    pub fn with(&self, labels: &L) -> B::M {
        labels.series(&self.vec)
    }

    fn registered(vec: MetricVec<B>, registry: &Registry) -> prometheus::Result<Self>
    where
        MetricVec<B>: Collector,
    {
        registry.register(Box::new(vec.clone()))?;
        Ok(Self {
            vec,
            labels: PhantomData,
        })
    }
}

pub type CounterFamily<L> = Family<L, <IntCounterVec as VecOf>::Builder>;
pub type GaugeFamily<L> = Family<L, <IntGaugeVec as VecOf>::Builder>;
pub type HistogramFamily<L> = Family<L, <HistogramVec as VecOf>::Builder>;

/// Names the builder behind each of prometheus' vec types.
pub trait VecOf {
    type Builder: MetricVecBuilder;
}

impl<B: MetricVecBuilder> VecOf for MetricVec<B> {
    type Builder = B;
}

impl<L: LabelSet> CounterFamily<L> {
    pub fn counter(registry: &Registry, name: &str, help: &str) -> prometheus::Result<Self> {
        Self::registered(
            IntCounterVec::new(Opts::new(name, help), L::NAMES)?,
            registry,
        )
    }
}

impl<L: LabelSet> GaugeFamily<L> {
    pub fn gauge(registry: &Registry, name: &str, help: &str) -> prometheus::Result<Self> {
        Self::registered(IntGaugeVec::new(Opts::new(name, help), L::NAMES)?, registry)
    }
}

impl<L: LabelSet> HistogramFamily<L> {
    /// A histogram family with prometheus' default buckets, or `buckets`.
    pub fn histogram(
        registry: &Registry,
        name: &str,
        help: &str,
        buckets: Option<Vec<f64>>,
    ) -> prometheus::Result<Self> {
        let mut opts = HistogramOpts::new(name, help);
        if let Some(buckets) = buckets {
            opts = opts.buckets(buckets);
        }
        Self::registered(HistogramVec::new(opts, L::NAMES)?, registry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::label_set! {
        struct Call<'a> { path: &'a str, code: u32 }
    }

    #[test]
    fn a_series_is_named_by_its_label_set() {
        let registry = Registry::new();
        let calls: CounterFamily<Call> =
            CounterFamily::counter(&registry, "calls_total", "Calls").unwrap();
        calls
            .with(&Call {
                path: "/a",
                code: 200,
            })
            .inc();
        calls
            .with(&Call {
                path: "/a",
                code: 200,
            })
            .inc();
        calls
            .with(&Call {
                path: "/b",
                code: 404,
            })
            .inc();
        let families = registry.gather();
        let series: Vec<(Vec<(String, String)>, f64)> = families[0]
            .get_metric()
            .iter()
            .map(|m| {
                let labels = m
                    .get_label()
                    .iter()
                    .map(|l| (l.name().to_string(), l.value().to_string()))
                    .collect();
                (labels, m.get_counter().get_value())
            })
            .collect();
        let pair = |path: &str, code: &str| {
            vec![
                ("code".to_string(), code.to_string()),
                ("path".to_string(), path.to_string()),
            ]
        };
        assert_eq!(
            series,
            vec![(pair("/a", "200"), 2.0), (pair("/b", "404"), 1.0)]
        );
    }
}
