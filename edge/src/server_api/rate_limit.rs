//! Per-app request rates (COMPAT.md "Rate limits"). Token buckets per (App Key, class),
//! kept by each edge: with several edges in front of an area the limit applies per edge.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::time::Instant;

use meridian_access::error::ApiError;
use meridian_cluster::state::ApiRates;

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
    /// (requests per second, burst): the app's own rate when its operator set one
    /// (API-08), else the commercial service's.
    fn rate(self, rates: &ApiRates) -> (f64, f64) {
        let per_second = |set: Option<u32>, default: f64| {
            let rate = set.map_or(default, f64::from);
            (rate, rate)
        };
        // Budgets counted over a longer window refill evenly over it.
        let per = |set: Option<u32>, default: f64, seconds: f64| {
            let count = set.map_or(default, f64::from);
            (count / seconds, count)
        };
        match self {
            LimitClass::Default => per_second(rates.default_per_second, 100.0),
            LimitClass::GetToken => per_second(rates.get_token_per_second, 200.0),
            LimitClass::PrivatePublish => per(rates.private_messages_per_minute, 6000.0, 60.0),
            LimitClass::GroupPublish => per_second(rates.group_publish_per_second, 20.0),
            LimitClass::ChatroomPublish => per_second(rates.chatroom_publish_per_second, 100.0),
            LimitClass::UltraGroupPublish => {
                per_second(rates.ultra_group_publish_per_second, 100.0)
            }
            LimitClass::ChatroomBroadcast => per_second(rates.chatroom_broadcast_per_second, 1.0),
            LimitClass::BroadcastHourly => per(rates.broadcasts_per_hour, 2.0, 3600.0),
            LimitClass::BroadcastDaily => per(rates.broadcasts_per_day, 3.0, 86_400.0),
        }
    }

    /// The budget named in a refusal, with its figure.
    fn describe(self, (rate, burst): (f64, f64)) -> String {
        match self {
            LimitClass::Default => format!("this endpoint ({rate} requests/s)"),
            LimitClass::GetToken => format!("getToken ({rate} requests/s)"),
            LimitClass::PrivatePublish => format!("private messages ({burst} per minute)"),
            LimitClass::GroupPublish => format!("group messages ({rate} per second)"),
            LimitClass::ChatroomPublish => format!("chatroom messages ({rate} per second)"),
            LimitClass::UltraGroupPublish => {
                format!("ultra group messages ({rate} per second)")
            }
            LimitClass::ChatroomBroadcast => format!("chatroom broadcasts ({rate} per second)"),
            LimitClass::BroadcastHourly => format!("broadcasts ({burst} per hour)"),
            LimitClass::BroadcastDaily => format!("broadcasts ({burst} per day)"),
        }
    }
}

struct Bucket {
    tokens: f64,
    refilled: Instant,
    /// (per second, burst) as of the last take.
    rate: (f64, f64),
}

impl Bucket {
    fn full(&self, now: Instant) -> bool {
        let (rate, burst) = self.rate;
        self.tokens + now.duration_since(self.refilled).as_secs_f64() * rate >= burst
    }
}

const MAX_BUCKETS: usize = 100_000;

#[derive(Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<(String, LimitClass), Bucket>>,
}

impl RateLimiter {
    /// Takes `cost` from each of the app's buckets for `classes`, at the app's `rates`, or
    /// refuses without taking anything.
    pub fn take(
        &self,
        app_key: &str,
        classes: &[LimitClass],
        cost: f64,
        rates: &ApiRates,
    ) -> Result<(), ApiError> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_BUCKETS {
            // A full bucket is the same as none: only those can go.
            buckets.retain(|_, b| !b.full(now));
        }
        for &class in classes {
            let (rate, burst) = class.rate(rates);
            let bucket = buckets
                .entry((app_key.to_string(), class))
                .or_insert(Bucket {
                    tokens: burst,
                    refilled: now,
                    rate: (rate, burst),
                });
            let elapsed = now.duration_since(bucket.refilled).as_secs_f64();
            // A budget the operator raised grants what it added at once (an app that
            // spent its two broadcasts this hour gets eight more when raised to ten); a
            // lowered one keeps at most its new burst.
            let raised = (burst - bucket.rate.1).max(0.0);
            bucket.tokens = (bucket.tokens + raised + elapsed * rate).min(burst);
            bucket.refilled = now;
            bucket.rate = (rate, burst);
            if bucket.tokens < cost {
                return Err(ApiError::RateLimited(class.describe((rate, burst))));
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

    /// One call at the commercial service's rates.
    fn take(limiter: &RateLimiter, app: &str, classes: &[LimitClass]) -> Result<(), ApiError> {
        limiter.take(app, classes, 1.0, &ApiRates::default())
    }

    // covers: API-08
    #[tokio::test(start_paused = true)]
    async fn an_app_with_its_own_rates_is_held_to_them() {
        let limiter = RateLimiter::default();
        let rates = ApiRates {
            default_per_second: Some(2),
            broadcasts_per_hour: Some(5),
            ..ApiRates::default()
        };
        for _ in 0..2 {
            limiter
                .take("app", &[LimitClass::Default], 1.0, &rates)
                .unwrap();
        }
        let refused = limiter.take("app", &[LimitClass::Default], 1.0, &rates);
        assert!(
            matches!(&refused, Err(ApiError::RateLimited(what)) if what.contains("2 requests/s")),
            "{refused:?}"
        );
        // Others keep the default; this app's broadcasts go to 5 an hour (3 a day still).
        for _ in 0..100 {
            take(&limiter, "other", &[LimitClass::Default]).unwrap();
        }
        let hourly = [LimitClass::BroadcastHourly];
        for _ in 0..5 {
            limiter.take("app", &hourly, 1.0, &rates).unwrap();
        }
        assert!(limiter.take("app", &hourly, 1.0, &rates).is_err());

        // Raised to 8 an hour, the 3 added go at once; lowered to 1, none is left.
        let raised = ApiRates {
            broadcasts_per_hour: Some(8),
            ..rates.clone()
        };
        for _ in 0..3 {
            limiter.take("app", &hourly, 1.0, &raised).unwrap();
        }
        assert!(limiter.take("app", &hourly, 1.0, &raised).is_err());
        let lowered = ApiRates {
            broadcasts_per_hour: Some(1),
            ..rates
        };
        assert!(limiter.take("app", &hourly, 1.0, &lowered).is_err());
    }

    // covers: MSG-06
    #[tokio::test(start_paused = true)]
    async fn a_burst_beyond_the_rate_is_refused_and_refills_with_time() {
        let limiter = RateLimiter::default();
        for _ in 0..100 {
            take(&limiter, "app", &[LimitClass::Default]).unwrap();
        }
        assert!(matches!(
            take(&limiter, "app", &[LimitClass::Default]),
            Err(ApiError::RateLimited(_))
        ));
        // Other apps and other classes have their own budgets.
        assert!(take(&limiter, "other", &[LimitClass::Default]).is_ok());
        assert!(take(&limiter, "app", &[LimitClass::GetToken]).is_ok());
        tokio::time::advance(Duration::from_millis(100)).await;
        for _ in 0..10 {
            take(&limiter, "app", &[LimitClass::Default]).unwrap();
        }
        assert!(take(&limiter, "app", &[LimitClass::Default]).is_err());
    }

    // covers: SYS-04
    #[tokio::test(start_paused = true)]
    async fn broadcasts_are_held_to_2_per_hour_and_3_per_day() {
        let limiter = RateLimiter::default();
        let both = [LimitClass::BroadcastHourly, LimitClass::BroadcastDaily];
        take(&limiter, "app", &both).unwrap();
        take(&limiter, "app", &both).unwrap();
        assert!(
            take(&limiter, "app", &both).is_err(),
            "third within the hour"
        );
        tokio::time::advance(Duration::from_secs(3600)).await;
        take(&limiter, "app", &both).unwrap();
        // The hourly budget has one more, but the day's three are spent.
        tokio::time::advance(Duration::from_secs(1800)).await;
        assert!(
            take(&limiter, "app", &both).is_err(),
            "fourth within the day"
        );
        // A refusal by one budget took nothing from the other.
        tokio::time::advance(Duration::from_secs(86_400)).await;
        take(&limiter, "app", &both).unwrap();
        take(&limiter, "app", &both).unwrap();
    }
}
