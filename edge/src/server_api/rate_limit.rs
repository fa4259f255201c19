//! Per-app request rates (COMPAT.md "Rate limits"). Token buckets per (App Key, class),
//! kept by each edge: with several edges in front of an area the limit applies per edge.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::error::ApiError;

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
    /// `/message/chatroom/broadcast.json`: 1/s.
    ChatroomBroadcast,
}

impl LimitClass {
    /// (requests per second, burst).
    fn rate(self) -> (f64, f64) {
        match self {
            LimitClass::Default => (100.0, 100.0),
            LimitClass::GetToken => (200.0, 200.0),
            LimitClass::PrivatePublish => (100.0, 6000.0),
            LimitClass::GroupPublish => (20.0, 20.0),
            LimitClass::ChatroomPublish => (100.0, 100.0),
            LimitClass::ChatroomBroadcast => (1.0, 1.0),
        }
    }

    fn name(self) -> &'static str {
        match self {
            LimitClass::Default => "this endpoint (100 requests/s)",
            LimitClass::GetToken => "getToken (200 requests/s)",
            LimitClass::PrivatePublish => "private messages (6000 per minute)",
            LimitClass::GroupPublish => "group messages (20 per second)",
            LimitClass::ChatroomPublish => "chatroom messages (100 per second)",
            LimitClass::ChatroomBroadcast => "chatroom broadcasts (1 per second)",
        }
    }
}

struct Bucket {
    tokens: f64,
    refilled: Instant,
}

/// Buckets idle this long are full again and may be dropped.
const IDLE: Duration = Duration::from_secs(60);
const MAX_BUCKETS: usize = 100_000;

#[derive(Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<(String, LimitClass), Bucket>>,
}

impl RateLimiter {
    /// Takes `cost` from the app's bucket for `class`, or refuses without taking anything.
    pub fn take(&self, app_key: &str, class: LimitClass, cost: f64) -> Result<(), ApiError> {
        let (rate, burst) = class.rate();
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_BUCKETS {
            buckets.retain(|_, b| now.duration_since(b.refilled) < IDLE);
        }
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
        bucket.tokens -= cost;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // covers: MSG-06
    #[tokio::test(start_paused = true)]
    async fn a_burst_beyond_the_rate_is_refused_and_refills_with_time() {
        let limiter = RateLimiter::default();
        for _ in 0..100 {
            limiter.take("app", LimitClass::Default, 1.0).unwrap();
        }
        assert!(matches!(
            limiter.take("app", LimitClass::Default, 1.0),
            Err(ApiError::RateLimited(_))
        ));
        // Other apps and other classes have their own budgets.
        assert!(limiter.take("other", LimitClass::Default, 1.0).is_ok());
        assert!(limiter.take("app", LimitClass::GetToken, 1.0).is_ok());
        tokio::time::advance(Duration::from_millis(100)).await;
        for _ in 0..10 {
            limiter.take("app", LimitClass::Default, 1.0).unwrap();
        }
        assert!(limiter.take("app", LimitClass::Default, 1.0).is_err());
    }
}
