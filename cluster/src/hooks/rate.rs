//! An app's push rate cap (PUSH-01) as the dispatcher applies it: a token bucket per app
//! that holds one second of pushes, so a burst after a quiet spell goes out at once and a
//! long fan-out goes out at the app's rate.

use std::collections::HashMap;

use tokio::time::Instant;

/// Pushes an app may still start now.
struct Bucket {
    tokens: f64,
    filled_at: Instant,
}

/// The buckets of the apps that cap their pushes; lives as long as the dispatcher.
#[derive(Default)]
pub(super) struct PushRates {
    buckets: HashMap<String, Bucket>,
}

impl PushRates {
    /// How many of `wanted` pushes of `app_key` may start at `now` under a cap of
    /// `per_second` (0: no cap); those are taken from its bucket.
    pub(super) fn take(
        &mut self,
        app_key: &str,
        per_second: u32,
        wanted: usize,
        now: Instant,
    ) -> usize {
        if per_second == 0 {
            self.buckets.remove(app_key);
            return wanted;
        }
        let capacity = f64::from(per_second);
        let bucket = self.buckets.entry(app_key.to_string()).or_insert(Bucket {
            tokens: capacity,
            filled_at: now,
        });
        let refill = now.duration_since(bucket.filled_at).as_secs_f64() * capacity;
        bucket.tokens = (bucket.tokens + refill).min(capacity);
        bucket.filled_at = now;
        let taken = (bucket.tokens.floor() as usize).min(wanted);
        bucket.tokens -= taken as f64;
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_second_of_pushes_goes_at_once_then_the_rate_holds() {
        let mut rates = PushRates::default();
        let start = Instant::now();
        assert_eq!(rates.take("app", 10, 25, start), 10, "one second's burst");
        assert_eq!(rates.take("app", 10, 25, start), 0);
        let later = start + Duration::from_millis(250);
        assert_eq!(
            rates.take("app", 10, 25, later),
            2,
            "2.5 pushes earned, 2 whole"
        );
        let later = later + Duration::from_millis(50);
        assert_eq!(
            rates.take("app", 10, 25, later),
            1,
            "the half kept plus another half"
        );
        // A long quiet spell earns no more than a second's worth.
        let much_later = later + Duration::from_secs(60);
        assert_eq!(rates.take("app", 10, 25, much_later), 10);
        // Other apps have their own buckets; no cap takes everything.
        assert_eq!(rates.take("other", 3, 5, much_later), 3);
        assert_eq!(rates.take("free", 0, 5_000, much_later), 5_000);
    }
}
