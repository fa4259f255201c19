//! A Prometheus histogram read from a process's `/metrics` text, and what it observed
//! between two reads: how the benchmarks take a server's own timings of one window.

use crate::measure::metric_sum;

/// One histogram's cumulative buckets, sum and count.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct HistogramRead {
    /// (upper bound in seconds, observations at most that), in order; the last is +Inf.
    buckets: Vec<(f64, f64)>,
    sum: f64,
    count: f64,
}

impl HistogramRead {
    /// Histogram `name` (without its `_bucket` suffix) in `text`, its series (one per
    /// area, say) added up; empty when the process has no such histogram.
    pub fn parse(text: &str, name: &str) -> Self {
        let bucket_prefix = format!("{name}_bucket{{");
        let mut buckets: Vec<(f64, f64)> = Vec::new();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix(&bucket_prefix) else {
                continue;
            };
            let Some((labels, count)) = rest.rsplit_once("} ") else {
                continue;
            };
            let bound = labels
                .split(',')
                .find_map(|label| label.strip_prefix("le=\""))
                .and_then(|bound| bound.trim_end_matches('"').parse::<f64>().ok());
            let (Some(bound), Ok(count)) = (bound, count.parse::<f64>()) else {
                continue;
            };
            match buckets.iter_mut().find(|b| b.0 == bound) {
                Some(bucket) => bucket.1 += count,
                None => buckets.push((bound, count)),
            }
        }
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        Self {
            buckets,
            sum: metric_sum(text, &format!("{name}_sum")),
            count: metric_sum(text, &format!("{name}_count")),
        }
    }

    /// What was observed after `earlier`, a read of the same histogram.
    pub fn since(&self, earlier: &Self) -> Self {
        let before = |i: usize| earlier.buckets.get(i).map_or(0.0, |b| b.1);
        Self {
            buckets: self
                .buckets
                .iter()
                .enumerate()
                .map(|(i, &(bound, count))| (bound, count - before(i)))
                .collect(),
            sum: self.sum - earlier.sum,
            count: self.count - earlier.count,
        }
    }

    pub fn count(&self) -> f64 {
        self.count
    }

    /// The mean observation in milliseconds (NaN when there was none).
    pub fn mean_ms(&self) -> f64 {
        1000.0 * self.sum / self.count
    }

    /// The upper bound (ms) of the bucket quantile `q` falls in: the quantile is at most
    /// this. Infinite past the last finite bound; NaN when nothing was observed.
    pub fn quantile_at_most_ms(&self, q: f64) -> f64 {
        let total = self.buckets.last().map_or(0.0, |b| b.1);
        self.buckets
            .iter()
            .find(|b| total > 0.0 && b.1 >= q * total)
            .map_or(f64::NAN, |b| b.0 * 1000.0)
    }

    /// The share (%) of observations at most `ms`, when `ms` is a bucket bound.
    pub fn under_ms(&self, ms: f64) -> f64 {
        let total = self.buckets.last().map_or(0.0, |b| b.1);
        let under = self
            .buckets
            .iter()
            .find(|b| (b.0 * 1000.0 - ms).abs() < 1e-9)
            .map_or(0.0, |b| b.1);
        if total == 0.0 {
            0.0
        } else {
            100.0 * under / total
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "meridian_media_forward_delay_seconds";

    fn text(counts: [u32; 4], sum: f64) -> String {
        format!(
            "# TYPE {NAME} histogram\n\
            {NAME}_bucket{{le=\"0.001\"}} {}\n\
            {NAME}_bucket{{area=\"SG\",le=\"0.002\"}} {}\n\
            {NAME}_bucket{{le=\"0.005\"}} {}\n\
            {NAME}_bucket{{le=\"+Inf\"}} {}\n\
            {NAME}_sum {sum}\n\
            {NAME}_count {}\n",
            counts[0], counts[1], counts[2], counts[3], counts[3]
        )
    }

    #[test]
    fn quantiles_come_from_the_bucket_they_fall_in() {
        let read = HistogramRead::parse(&text([90, 99, 100, 100], 0.1), NAME);
        assert_eq!(read.quantile_at_most_ms(0.5), 1.0);
        assert_eq!(read.quantile_at_most_ms(0.99), 2.0);
        assert_eq!(read.quantile_at_most_ms(1.0), 5.0);
        assert_eq!(read.under_ms(2.0), 99.0);
        assert!((read.mean_ms() - 1.0).abs() < 1e-9);
        let none = HistogramRead::parse("", NAME);
        assert!(
            none.quantile_at_most_ms(0.5).is_nan(),
            "no frames, no quantile"
        );
        assert!(none.mean_ms().is_nan());
    }

    #[test]
    fn the_series_of_several_areas_add_up() {
        let text = format!(
            "{NAME}_bucket{{area=\"NA\",le=\"0.001\"}} 1\n\
            {NAME}_bucket{{area=\"NA\",le=\"+Inf\"}} 2\n\
            {NAME}_sum{{area=\"NA\"}} 0.5\n\
            {NAME}_count{{area=\"NA\"}} 2\n\
            {NAME}_bucket{{area=\"SG\",le=\"0.001\"}} 3\n\
            {NAME}_bucket{{area=\"SG\",le=\"+Inf\"}} 3\n\
            {NAME}_sum{{area=\"SG\"}} 0.001\n\
            {NAME}_count{{area=\"SG\"}} 3\n"
        );
        let read = HistogramRead::parse(&text, NAME);
        assert_eq!(read.count(), 5.0);
        assert_eq!(read.under_ms(1.0), 80.0);
        assert!(read.quantile_at_most_ms(0.99).is_infinite());
    }

    #[test]
    fn a_window_holds_only_what_was_observed_in_it() {
        let before = HistogramRead::parse(&text([90, 99, 100, 100], 0.1), NAME);
        let after = HistogramRead::parse(&text([90, 109, 120, 120], 0.16), NAME);
        let window = after.since(&before);
        assert_eq!(window.count(), 20.0);
        assert_eq!(window.quantile_at_most_ms(0.5), 2.0);
        assert_eq!(window.quantile_at_most_ms(0.99), 5.0);
        assert!((window.mean_ms() - 3.0).abs() < 1e-9);
    }
}
