//! Push notification providers (SPEC §3.8, PUSH-02): Apple's APNs (HTTP/2 + ES256 provider
//! JWT), Firebase Cloud Messaging HTTP v1 (OAuth2 service account), and a generic webhook;
//! and the Chinese Android vendor channels (PUSH-05): Huawei Push Kit, Xiaomi MiPush, OPPO PUSH, vivo push, Meizu push and Honor push.
//! Each sender speaks the provider's real protocol and reports an [`Outcome`] the push
//! gateway acts on. With the `fake` feature, [`fake`] has local servers speaking the same
//! protocols, so tests run against real sockets.

mod access_token;
mod apns;
mod batch;
mod credentials;
mod fcm;
mod honor;
mod http;
mod huawei;
mod jwt;
mod meizu;
mod oppo;
mod options;
mod sign;
mod vivo;
mod webhook;
mod xiaomi;

#[cfg(feature = "fake")]
pub mod fake;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use meridian_rpc::OutboundClient;
use rustls::pki_types::CertificateDer;

pub use credentials::{
    ApnsCredentials, FcmCredentials, HonorCredentials, HuaweiCredentials, MeizuCredentials,
    OppoCredentials, VivoCredentials, WebhookTarget, XiaomiCredentials, APNS_PRODUCTION_ENDPOINT,
    APNS_SANDBOX_ENDPOINT, FCM_ENDPOINT, FCM_TOKEN_URI, HONOR_ENDPOINT, HONOR_TOKEN_URI,
    HUAWEI_ENDPOINT, HUAWEI_TOKEN_URI, MEIZU_ENDPOINT, OPPO_ENDPOINT, VIVO_ENDPOINT,
    XIAOMI_ENDPOINT,
};

pub use honor::HONOR_MAX_MESSAGE_BYTES;
pub use huawei::HUAWEI_MAX_MESSAGE_BYTES;
pub use meizu::MEIZU_MAX_PARAMETERS_BYTES;
pub use oppo::OPPO_MAX_PARAMETERS_CHARS;
pub use options::{
    parse_badge, ApnsOptions, FcmOptions, HonorOptions, HuaweiOptions, OppoOptions, PushOptions,
    VivoOptions, XiaomiOptions, MAX_APNS_COLLAPSE_ID_BYTES, MAX_OPTION_CHARS,
};
pub use vivo::VIVO_MAX_CUSTOM_CHARS;
pub use xiaomi::XIAOMI_MAX_PAYLOAD_BYTES;

/// The largest APNs payload Apple accepts for an alert notification.
pub const APNS_MAX_PAYLOAD_BYTES: usize = 4096;

/// One notification for one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub device_token: String,
    pub title: String,
    /// The message's pushContent.
    pub body: String,
    /// The message's pushData, passed through untouched.
    pub data: Option<String>,
    /// A stable id for the notification (APNs collapse id, FCM data `msgUID`, webhook `id`),
    /// so that a retried send is recognisable as the same notification.
    pub id: String,
    pub user_id: String,
    /// The app icon's badge: the user's unread total when the push is sent (APNs
    /// `aps.badge`, FCM `notification_count`); `None` leaves the badge as it is.
    pub badge: Option<u32>,
    /// The app's notification sound; `None` plays the platform's default.
    pub sound: Option<String>,
    /// What the app server asked of this notification on each channel.
    pub options: PushOptions,
}

/// What became of one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// The provider says the device token is no longer valid: the caller removes it.
    TokenGone,
    /// A transient failure (429, 5xx, network, timeout): try again later, not before
    /// `after` when the provider said when.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// Permanent for this notification (payload too large, bad credentials, ...).
    Rejected {
        reason: String,
    },
}

impl Outcome {
    fn retry(reason: impl Into<String>) -> Self {
        Outcome::Retry {
            reason: reason.into(),
            after: None,
        }
    }

    fn rejected(reason: impl Into<String>) -> Self {
        Outcome::Rejected {
            reason: reason.into(),
        }
    }
}

/// The first `max` characters, the last one an ellipsis when something was cut.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    shorten_weighted(text, max, |_| 1)
}

/// [`shorten`] where each character counts `weight(c)` towards `max`.
pub(crate) fn shorten_weighted(text: &str, max: usize, weight: fn(char) -> usize) -> String {
    if text.chars().map(weight).sum::<usize>() <= max {
        return text.to_string();
    }
    let ellipsis = '…';
    let mut short = String::new();
    let mut used = weight(ellipsis);
    for c in text.chars() {
        used += weight(c);
        if used > max {
            break;
        }
        short.push(c);
    }
    short.push(ellipsis);
    short
}

/// Sends to every provider through one [`OutboundClient`] (the same client Meridian uses
/// for app-server callbacks); cheap to clone (clones share connections and cached
/// provider tokens).
#[derive(Clone)]
pub struct PushClient {
    inner: Arc<Inner>,
}

struct Inner {
    /// HTTP/2 or HTTP/1.1 by ALPN; APNs requests ask for HTTP/2 and get it or fail.
    client: OutboundClient,
    apns_jwts: Mutex<HashMap<apns::JwtKey, apns::CachedJwt>>,
    /// OAuth2-style access tokens of every provider that issues them.
    tokens: access_token::TokenCache,
    /// Sends waiting to share a vendor request with others of the same message.
    batches: Arc<batch::Batches>,
}

impl std::fmt::Debug for PushClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushClient").finish_non_exhaustive()
    }
}

impl PushClient {
    /// Sends through `client`, sharing its connection pool and trust roots.
    pub fn with_client(client: OutboundClient) -> Self {
        Self {
            inner: Arc::new(Inner {
                client,
                apns_jwts: Mutex::new(HashMap::new()),
                tokens: access_token::TokenCache::default(),
                batches: Arc::default(),
            }),
        }
    }

    /// A client of its own trusting the public web PKI (webpki-roots, built in) plus
    /// `extra_roots` (tests pass a fake server's self-signed certificate). Code that
    /// already has an [`OutboundClient`] should pass it to [`PushClient::with_client`].
    ///
    /// # Panics
    ///
    /// When rustls cannot use one of `extra_roots` as a trust anchor (not a parseable
    /// X.509 certificate): [`OutboundClient::new`] reports that as an error.
    pub fn new(extra_roots: Vec<CertificateDer<'static>>) -> Self {
        match OutboundClient::new(&extra_roots) {
            Ok(client) => Self::with_client(client),
            Err(e) => panic!("push client: unusable extra root certificate: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // covers: PUSH-05
    #[test]
    fn long_titles_are_shortened_by_characters() {
        assert_eq!(shorten("hello", 5), "hello");
        assert_eq!(shorten("你好世界呀", 4), "你好世…");
        assert_eq!(shorten(&"x".repeat(60), 49).chars().count(), 49);
        let wide = |c: char| if c.is_ascii() { 1 } else { 2 };
        assert_eq!(shorten_weighted("ab你好", 6, wide), "ab你好");
        assert_eq!(shorten_weighted("ab你好呀", 6, wide), "ab你…");
    }
}
