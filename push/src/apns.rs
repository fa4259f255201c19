//! Apple Push Notification service: token-based provider authentication over HTTP/2.

use std::time::Duration;
use tokio::time::Instant;

use bytes::Bytes;
use http::Request;
use ring::digest::{digest, SHA256};
use serde_json::json;

use crate::http::{exchange, Answer, AnswerExt, USER_AGENT};
use crate::jwt::sign_es256;
use crate::options::put;
use crate::{ApnsCredentials, Notification, Outcome, PushClient, APNS_MAX_PAYLOAD_BYTES};
use meridian_clock::now_secs;

/// Apple refuses provider tokens older than an hour and refreshes more often than every
/// 20 minutes (TooManyProviderTokenUpdates); 50 minutes sits between.
const JWT_LIFETIME: Duration = Duration::from_secs(50 * 60);
const MAX_COLLAPSE_ID_BYTES: usize = 64;

/// Provider tokens are cached per (team id, key id).
pub(crate) type JwtKey = (String, String);

pub(crate) struct CachedJwt {
    token: String,
    minted: Instant,
    /// The key it was signed with: a replaced key under the same id gets a new token.
    key_pem: String,
}

impl PushClient {
    /// Sends `n` through APNs: `POST {endpoint}/3/device/{token}`, over HTTP/2 or not at
    /// all (a server that does not select ALPN "h2" is a transport failure: Retry).
    pub async fn send_apns(&self, creds: &ApnsCredentials, n: &Notification) -> Outcome {
        self.send_apns_as(creds, n, PushType::Alert).await
    }

    /// Sends `n` as a VoIP push (`apns-push-type: voip`, topic `{bundle}.voip`) to a
    /// PushKit token: what wakes an iOS app for an incoming call (RTC-10).
    pub async fn send_apns_voip(&self, creds: &ApnsCredentials, n: &Notification) -> Outcome {
        self.send_apns_as(creds, n, PushType::Voip).await
    }

    async fn send_apns_as(
        &self,
        creds: &ApnsCredentials,
        n: &Notification,
        kind: PushType,
    ) -> Outcome {
        // APNs tokens are hex; anything that cannot even form the URL path can never work.
        if n.device_token.is_empty() || !n.device_token.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Outcome::TokenGone;
        }
        let payload = payload(n);
        if payload.len() > APNS_MAX_PAYLOAD_BYTES {
            return Outcome::rejected(format!(
                "payload is {} bytes, APNs accepts at most {APNS_MAX_PAYLOAD_BYTES}",
                payload.len()
            ));
        }
        let url = format!(
            "{}/3/device/{}",
            creds.endpoint.trim_end_matches('/'),
            n.device_token
        );
        for attempt in 0..2 {
            let jwt = match self.apns_jwt(creds) {
                Ok(jwt) => jwt,
                Err(e) => return Outcome::rejected(format!("APNs credentials: {e}")),
            };
            let request = match request(&url, creds, n, &jwt, payload.clone(), kind) {
                Ok(request) => request,
                Err(e) => return Outcome::rejected(format!("APNs request: {e}")),
            };
            let answer = match exchange(&self.inner.client, request).await {
                Ok(answer) => answer,
                Err(e) => return Outcome::retry(e),
            };
            if attempt == 0 && answer.status == 403 && reason(&answer) == "ExpiredProviderToken" {
                self.forget_apns_jwt(creds, &jwt);
                continue;
            }
            return outcome(&answer);
        }
        Outcome::rejected("APNs: ExpiredProviderToken even with a fresh token (clock skew?)")
    }

    /// The cached provider token for these credentials, minting one when there is none
    /// or it is 50 minutes old.
    fn apns_jwt(&self, creds: &ApnsCredentials) -> Result<String, String> {
        let key = (creds.team_id.clone(), creds.key_id.clone());
        let mut cache = self
            .inner
            .apns_jwts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(cached) = cache.get(&key) {
            if cached.key_pem == creds.private_key_pem && cached.minted.elapsed() < JWT_LIFETIME {
                return Ok(cached.token.clone());
            }
        }
        let token = sign_es256(
            &creds.private_key_pem,
            &json!({"alg": "ES256", "kid": creds.key_id}),
            &json!({"iss": creds.team_id, "iat": now_secs()}),
        )?;
        cache.insert(
            key,
            CachedJwt {
                token: token.clone(),
                minted: Instant::now(),
                key_pem: creds.private_key_pem.clone(),
            },
        );
        Ok(token)
    }

    /// Drops `used` from the cache unless a concurrent send has already replaced it, so a
    /// burst of ExpiredProviderToken answers leads to one new token, not many.
    fn forget_apns_jwt(&self, creds: &ApnsCredentials, used: &str) {
        let key = (creds.team_id.clone(), creds.key_id.clone());
        let mut cache = self
            .inner
            .apns_jwts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if cache.get(&key).is_some_and(|cached| cached.token == used) {
            cache.remove(&key);
        }
    }
}

fn payload(n: &Notification) -> Bytes {
    let mut payload = json!({
        "aps": {
            "alert": {"title": n.title, "body": n.body},
            "sound": n.sound.as_deref().unwrap_or("default"),
        }
    });
    if let Some(data) = &n.data {
        payload["pushData"] = json!(data);
    }
    if let Some(badge) = n.badge {
        payload["aps"]["badge"] = json!(badge);
    }
    let apns = &n.options.apns;
    let aps = &mut payload["aps"];
    if n.options.content_available {
        aps["content-available"] = json!(1);
    }
    put(aps, "thread-id", &apns.thread_id);
    put(aps, "category", &apns.category);
    put(aps, "interruption-level", &apns.interruption_level);
    if let Some(uri) = &apns.rich_media_uri {
        // The app's notification service extension fetches it before showing.
        aps["mutable-content"] = json!(1);
        payload["richMediaUri"] = json!(uri);
    }
    Bytes::from(payload.to_string())
}

/// An alert shows a notification; a VoIP push wakes the app (PushKit), under the app's
/// `.voip` topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PushType {
    Alert,
    Voip,
}

fn request(
    url: &str,
    creds: &ApnsCredentials,
    n: &Notification,
    jwt: &str,
    payload: Bytes,
    kind: PushType,
) -> Result<Request<Bytes>, http::Error> {
    let (push_type, topic) = match kind {
        PushType::Alert => ("alert", creds.bundle_id.clone()),
        PushType::Voip => ("voip", format!("{}.voip", creds.bundle_id)),
    };
    let mut builder = Request::post(url)
        // Sent over HTTP/2 or refused by the client, never downgraded to HTTP/1.1.
        .version(http::Version::HTTP_2)
        .header("authorization", format!("bearer {jwt}"))
        .header("apns-topic", topic)
        .header("apns-push-type", push_type)
        .header("apns-priority", "10")
        .header("content-type", "application/json")
        .header("user-agent", USER_AGENT);
    if !n.id.is_empty() {
        builder = builder.header("apns-id", apns_id(&n.id));
    }
    // The app server's collapse id groups its notifications; else each is its own.
    match &n.options.apns.collapse_id {
        Some(asked) => builder = builder.header("apns-collapse-id", asked),
        None if !n.id.is_empty() => {
            builder = builder.header("apns-collapse-id", collapse_id(&n.id))
        }
        None => {}
    }
    builder.body(payload)
}

/// `apns-id` must be a UUID: the id itself when it is one, else a UUID-shaped digest of
/// it, so retries of one notification carry the same apns-id.
fn apns_id(id: &str) -> String {
    let is_uuid = id.len() == 36
        && id.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        });
    if is_uuid {
        return id.to_ascii_lowercase();
    }
    let hash = digest(&SHA256, id.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&hash.as_ref()[..16]);
    b[6] = (b[6] & 0x0f) | 0x80; // version 8: custom
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 9562 variant
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// `apns-collapse-id` is at most 64 bytes: a longer id is replaced by its SHA-256 in hex.
fn collapse_id(id: &str) -> String {
    if id.len() <= MAX_COLLAPSE_ID_BYTES {
        id.to_string()
    } else {
        digest(&SHA256, id.as_bytes())
            .as_ref()
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect()
    }
}

/// APNs explains every failure with `{"reason": "..."}`.
fn reason(answer: &Answer) -> String {
    answer.json()["reason"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| answer.summary())
}

fn outcome(answer: &Answer) -> Outcome {
    let status = answer.status;
    if status == 200 {
        return Outcome::Delivered;
    }
    let reason = reason(answer);
    match status {
        410 => Outcome::TokenGone,
        400 if reason == "BadDeviceToken" || reason == "DeviceTokenNotForTopic" => {
            Outcome::TokenGone
        }
        429 | 500..=599 => Outcome::Retry {
            reason: format!("APNs {status}: {reason}"),
            after: answer.retry_after(),
        },
        _ => Outcome::rejected(format!("APNs {status}: {reason}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // covers: PUSH-02
    #[test]
    fn apns_ids_are_uuids_and_collapse_ids_fit_64_bytes() {
        let uuid = "0A1B2C3D-0000-4000-8000-00000000000F";
        assert_eq!(apns_id(uuid), uuid.to_ascii_lowercase());
        let derived = apns_id("msg-42");
        assert_eq!(derived, apns_id("msg-42"), "stable across retries");
        assert_ne!(derived, apns_id("msg-43"));
        assert_eq!(derived.len(), 36);
        assert_eq!(&derived[14..15], "8");
        assert_eq!(collapse_id("msg-42"), "msg-42");
        let long = "x".repeat(100);
        assert_eq!(collapse_id(&long).len(), 64);
    }
}
