//! Nav's metrics (docs/metrics.md): answers by area and HTTP code with their latency,
//! and the edges it knows and finds healthy.

use std::time::Duration;

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};

#[derive(Clone)]
pub struct NavMetrics {
    answers: IntCounterVec,
    answer_seconds: HistogramVec,
    pub edges: IntGaugeVec,
}

impl NavMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let answers = IntCounterVec::new(
            Opts::new(
                "meridian_nav_answers_total",
                "Navigation requests answered, by the app's area and HTTP status",
            ),
            &["area", "code"],
        )?;
        let answer_seconds = HistogramVec::new(
            HistogramOpts::new(
                "meridian_nav_answer_seconds",
                "Time to answer a navigation request",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
            ]),
            &["area"],
        )?;
        let edges = IntGaugeVec::new(
            Opts::new(
                "meridian_nav_edges",
                "Edges this nav knows, by state (known, healthy)",
            ),
            &["state"],
        )?;
        registry.register(Box::new(answers.clone()))?;
        registry.register(Box::new(answer_seconds.clone()))?;
        registry.register(Box::new(edges.clone()))?;
        Ok(Self {
            answers,
            answer_seconds,
            edges,
        })
    }

    pub fn observe(&self, area: &str, code: u16, took: Duration) {
        self.answers
            .with_label_values(&[area, &code.to_string()])
            .inc();
        self.answer_seconds
            .with_label_values(&[area])
            .observe(took.as_secs_f64());
    }
}
