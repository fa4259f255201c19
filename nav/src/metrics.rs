//! Nav's metrics (docs/metrics.md): answers by area and HTTP code with their latency,
//! and the edges it knows and finds healthy.

use std::time::Duration;

use meridian_telemetry::label_set;
use meridian_telemetry::labels::{CounterFamily, GaugeFamily, HistogramFamily};
use prometheus::Registry;

label_set! {
    /// A navigation answer: the app's area and the HTTP status.
    struct Answer { area: &'static str, code: u16 }
}

label_set! {
    struct AnswerArea { area: &'static str }
}

label_set! {
    /// Which edges: all this nav knows (`known`) or those healthy now (`healthy`).
    pub struct EdgeState { state: &'static str }
}

#[derive(Clone)]
pub struct NavMetrics {
    answers: CounterFamily<Answer>,
    answer_seconds: HistogramFamily<AnswerArea>,
    pub edges: GaugeFamily<EdgeState>,
}

impl NavMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        Ok(Self {
            answers: CounterFamily::counter(
                registry,
                "meridian_nav_answers_total",
                "Navigation requests answered, by the app's area and HTTP status",
            )?,
            answer_seconds: HistogramFamily::histogram(
                registry,
                "meridian_nav_answer_seconds",
                "Time to answer a navigation request",
                Some(vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
                ]),
            )?,
            edges: GaugeFamily::gauge(
                registry,
                "meridian_nav_edges",
                "Edges this nav knows, by state (known, healthy)",
            )?,
        })
    }

    /// One answer: the app's area (or `none`), its HTTP status and how long it took.
    pub fn observe(&self, area: &'static str, code: u16, took: Duration) {
        self.answers.with(&Answer { area, code }).inc();
        let took = took.as_secs_f64();
        self.answer_seconds.with(&AnswerArea { area }).observe(took);
    }
}
