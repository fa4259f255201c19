use prometheus::{IntCounterVec, IntGauge, Opts, Registry};

#[derive(Clone)]
pub(crate) struct EdgeMetrics {
    pub admin_requests: IntCounterVec,
}

impl EdgeMetrics {
    pub fn register(registry: &Registry, areas: usize) -> prometheus::Result<Self> {
        let admin_requests = IntCounterVec::new(
            Opts::new(
                "meridian_edge_admin_requests_total",
                "Operator admin API requests handled by this edge, by area and HTTP status",
            ),
            &["area", "code"],
        )?;
        registry.register(Box::new(admin_requests.clone()))?;
        let served = IntGauge::new("meridian_edge_areas_served", "Areas this edge fronts")?;
        served.set(areas as i64);
        registry.register(Box::new(served))?;
        Ok(Self { admin_requests })
    }
}
