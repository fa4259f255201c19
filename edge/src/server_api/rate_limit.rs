//! Per-app request rates (COMPAT.md "Rate limits"). Token buckets per (App Key, class),
//! kept by each edge: with several edges in front of an area the limit applies per edge.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::time::Instant;

use meridian_access::error::ApiError;

/// Which budget a call draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitClass {
    /// Most endpoints: 100 requests/s.
    Default,
    /// `/user/getToken.json`: 200/s.
    GetToken,
    /// `/message/private/publish.json`: 6000 messages/min, a message to N users counting N.
    PrivatePublish,
    /// `/message/group/publish.json`: 20/s.
    GroupPublish,
    /// `/message/chatroom/publish.json`: 100/s.
    ChatroomPublish,
    /// `/message/ultragroup/publish.json`: 100/s.
    UltraGroupPublish,
    /// `/message/chatroom/broadcast.json`: 1/s.
    ChatroomBroadcast,
    /// Broadcast to all users (SYS-04): 2 per hour …
    BroadcastHourly,
    /// … and 3 per day.
    BroadcastDaily,
}

impl LimitClass {
    /// (requests per second, burst).
    fn rate(self) -> (f64, f64) {
        match self {
            LimitClass::Default => (100.0, 100.0),
            LimitClass::GetToken => (200.0, 200.0),
            LimitClass::PrivatePublish => (100.0, 6000.0),
            LimitClass::GroupPublish => (20.0, 20.0),
            LimitClass::ChatroomPublish | LimitClass::UltraGroupPublish => (100.0, 100.0),
            LimitClass::ChatroomBroadcast => (1.0, 1.0),
            LimitClass::BroadcastHourly => (2.0 / 3600.0, 2.0),
            LimitClass::BroadcastDaily => (3.0 / 86_400.0, 3.0),
        }
    }

    fn name(self) -> &'static str {
        match self {
            LimitClass::Default => "this endpoint (100 requests/s)",
            LimitClass::GetToken => "getToken (200 requests/s)",
            LimitClass::PrivatePublish => "private messages (6000 per minute)",
            LimitClass::GroupPublish => "group messages (20 per second)",
            LimitClass::ChatroomPublish => "chatroom messages (100 per second)",
            LimitClass::UltraGroupPublish => "ultra group messages (100 per second)",
            LimitClass::ChatroomBroadcast => "chatroom broadcasts (1 per second)",
            LimitClass::BroadcastHourly => "broadcasts (2 per hour)",
            LimitClass::BroadcastDaily => "broadcasts (3 per day)",
        }
    }
}

struct Bucket {
    tokens: f64,
    refilled: Instant,
}

impl Bucket {
    fn full(&self, class: LimitClass, now: Instant) -> bool {
        let (rate, burst) = class.rate();
        self.tokens + now.duration_since(self.refilled).as_secs_f64() * rate >= burst
    }
}

const MAX_BUCKETS: usize = 100_000;

#[derive(Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<(String, LimitClass), Bucket>>,
}

impl RateLimiter {
    /// Takes `cost` from the app's bucket for `class`, or refuses without taking anything.
    /// Takes `cost` from each of the app's buckets for `classes`, or refuses without
    /// taking anything.
    pub fn take(&self, app_key: &str, classes: &[LimitClass], cost: f64) -> Result<(), ApiError> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_BUCKETS {
            // A full bucket is the same as none: only those can go.
            buckets.retain(|(_, class), b| !b.full(*class, now));
        }
        for &class in classes {
            let (rate, burst) = class.rate();
            let bucket = buckets
                .entry((app_key.to_string(), class))
                .or_insert(Bucket {
                    tokens: burst,
                    refilled: now,
                });
            let elapsed = now.duration_since(bucket.refilled).as_secs_f64();
            bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
            bucket.refilled = now;
            if bucket.tokens < cost {
                return Err(ApiError::RateLimited(class.name().to_string()));
            }
        }
        for &class in classes {
            if let Some(bucket) = buckets.get_mut(&(app_key.to_string(), class)) {
                bucket.tokens -= cost;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    // covers: MSG-06
    #[tokio::test(start_paused = true)]
    async fn a_burst_beyond_the_rate_is_refused_and_refills_with_time() {
        let limiter = RateLimiter::default();
        for _ in 0..100 {
            limiter.take("app", &[LimitClass::Default], 1.0).unwrap();
        }
        assert!(matches!(
            limiter.take("app", &[LimitClass::Default], 1.0),
            Err(ApiError::RateLimited(_))
        ));
        // Other apps and other classes have their own budgets.
        assert!(limiter.take("other", &[LimitClass::Default], 1.0).is_ok());
        assert!(limiter.take("app", &[LimitClass::GetToken], 1.0).is_ok());
        tokio::time::advance(Duration::from_millis(100)).await;
        for _ in 0..10 {
            limiter.take("app", &[LimitClass::Default], 1.0).unwrap();
        }
        assert!(limiter.take("app", &[LimitClass::Default], 1.0).is_err());
    }

    // covers: SYS-04
    #[tokio::test(start_paused = true)]
    async fn broadcasts_are_held_to_2_per_hour_and_3_per_day() {
        let limiter = RateLimiter::default();
        let both = [LimitClass::BroadcastHourly, LimitClass::BroadcastDaily];
        limiter.take("app", &both, 1.0).unwrap();
        limiter.take("app", &both, 1.0).unwrap();
        assert!(
            limiter.take("app", &both, 1.0).is_err(),
            "third within the hour"
        );
        tokio::time::advance(Duration::from_secs(3600)).await;
        limiter.take("app", &both, 1.0).unwrap();
        // The hourly budget has one more, but the day's three are spent.
        tokio::time::advance(Duration::from_secs(1800)).await;
        assert!(
            limiter.take("app", &both, 1.0).is_err(),
            "fourth within the day"
        );
        // A refusal by one budget took nothing from the other.
        tokio::time::advance(Duration::from_secs(86_400)).await;
        limiter.take("app", &both, 1.0).unwrap();
        limiter.take("app", &both, 1.0).unwrap();
    }
}
