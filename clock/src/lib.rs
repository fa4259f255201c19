//! The one wall clock. Every reading of the time of day (message times, token and
//! signature timestamps, expiries) goes through here, so there is one place that reads
//! it and one place to change it. Intervals and deadlines use `tokio::time::Instant`,
//! which tests can pause and advance; `.clippy.toml` refuses the other clocks.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Time since the Unix epoch (zero if the system clock is set before it).
#[allow(clippy::disallowed_methods)] // the one place that reads the system clock
pub fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    since_epoch().as_millis() as u64
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    since_epoch().as_secs()
}

#[cfg(test)]
mod tests {
    #[test]
    fn milliseconds_and_seconds_read_the_same_clock() {
        let (ms, secs) = (super::now_ms(), super::now_secs());
        // 2026-01-01 and after; and the two readings a moment apart.
        assert!(ms > 1_767_225_600_000, "{ms}");
        assert!(secs.abs_diff(ms / 1000) <= 1, "{secs} vs {ms}");
    }
}
