//! The one wall clock. Every reading of the time of day (message times, token and
//! signature timestamps, expiries) goes through here, so there is one place that reads
//! it and one place to change it. Intervals and deadlines use `tokio::time::Instant`,
//! which tests can pause and advance; `.clippy.toml` refuses the other clocks.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Time since the Unix epoch (zero if the system clock is set before it).
#[allow(clippy::disallowed_methods)] // the one place that reads the system clock
pub fn since_epoch() -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    #[cfg(feature = "fault-injection")]
    let now = jump::offset(now);
    now
}

/// Names the file whose number of milliseconds (negative: back) a test build adds to
/// the clock.
pub const OFFSET_FILE_ENV: &str = "MERIDIAN_CLOCK_OFFSET_FILE";

/// Whether this build's clock honours [`OFFSET_FILE_ENV`].
pub const JUMPS_AVAILABLE: bool = cfg!(feature = "fault-injection");

/// Test only: a clock that jumps when the file [`OFFSET_FILE_ENV`] names changes (read
/// again at most every 100 ms), as a node's clock does when it is stepped.
#[cfg(feature = "fault-injection")]
mod jump {
    use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
    use std::time::Duration;

    static OFFSET_MS: AtomicI64 = AtomicI64::new(0);
    /// When the file was last read, in true milliseconds since the epoch.
    static READ_AT_MS: AtomicU64 = AtomicU64::new(0);

    pub(super) fn offset(now: Duration) -> Duration {
        let now_ms = now.as_millis() as u64;
        if now_ms.saturating_sub(READ_AT_MS.load(Ordering::Relaxed)) >= 100 {
            READ_AT_MS.store(now_ms, Ordering::Relaxed);
            let offset = std::env::var_os(super::OFFSET_FILE_ENV)
                .and_then(|file| std::fs::read_to_string(file).ok())
                .and_then(|text| text.trim().parse().ok())
                .unwrap_or(0);
            OFFSET_MS.store(offset, Ordering::Relaxed);
        }
        // Shifted as a whole, so the reading keeps its sub-millisecond part.
        let offset_ms = OFFSET_MS.load(Ordering::Relaxed);
        let offset = Duration::from_millis(offset_ms.unsigned_abs());
        if offset_ms < 0 {
            now.saturating_sub(offset)
        } else {
            now.saturating_add(offset)
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    since_epoch().as_millis() as u64
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    since_epoch().as_secs()
}

/// `yyyy-MM-dd HH:mm:ss` (UTC) of `ms` since the epoch: the commercial service's time
/// format in Server API answers, and the console's.
pub fn format_utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_formatted_like_the_commercial_service() {
        assert_eq!(super::format_utc(0), "1970-01-01 00:00:00");
        assert_eq!(super::format_utc(1_408_710_653_491), "2014-08-22 12:30:53");
        assert_eq!(super::format_utc(951_782_400_000), "2000-02-29 00:00:00");
    }

    #[test]
    fn milliseconds_and_seconds_read_the_same_clock() {
        let (ms, secs) = (super::now_ms(), super::now_secs());
        // 2026-01-01 and after; and the two readings a moment apart.
        assert!(ms > 1_767_225_600_000, "{ms}");
        assert!(secs.abs_diff(ms / 1000) <= 1, "{secs} vs {ms}");
    }
}
