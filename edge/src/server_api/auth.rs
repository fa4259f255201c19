//! Server API request authentication (`shared/server-api/COMPAT.md`, "Request
//! authentication"): the signed headers, the SHA-1 signature check, timestamp parsing and
//! the optional (per-app `strict`) replay guard.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, PoisonError};

use meridian_access::error::ApiError;

/// How far a `strict` request's timestamp may be from now, either way; also how long a
/// nonce is remembered.
pub const REPLAY_WINDOW_MS: u64 = 5 * 60 * 1000;

/// At most this many nonces are remembered per app (see [`ReplayGuard::check`]).
pub const MAX_NONCES_PER_APP: usize = 100_000;

/// Above this a timestamp is milliseconds, otherwise seconds (COMPAT.md: the docs say
/// milliseconds, every published SDK sends seconds).
const MS_THRESHOLD: u64 = 100_000_000_000;

/// The four signing headers, exactly as received (the signature is computed over the
/// strings as sent, so they are never re-formatted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    pub app_key: String,
    pub nonce: String,
    pub timestamp: String,
    pub signature: String,
}

/// Reads `App-Key`, `Nonce`, `Timestamp` and `Signature` (any case, each also accepted
/// with an `RC-` prefix; the plain name wins when both are sent). A missing or empty
/// header is a signature error naming it.
pub fn signed_headers(headers: &http::HeaderMap) -> Result<SignedHeaders, ApiError> {
    Ok(SignedHeaders {
        app_key: header(headers, "App-Key")?,
        nonce: header(headers, "Nonce")?,
        timestamp: header(headers, "Timestamp")?,
        signature: header(headers, "Signature")?,
    })
}

fn header(headers: &http::HeaderMap, name: &str) -> Result<String, ApiError> {
    let value = headers
        .get(name)
        .or_else(|| headers.get(format!("RC-{name}").as_str()))
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::Signature(format!("{name} header missing")))?;
    value
        .to_str()
        .map(str::to_owned)
        .map_err(|_| ApiError::Signature(format!("{name} header is not valid text")))
}

/// Checks `Signature` = lowercase hex SHA-1 of `AppSecret + Nonce + Timestamp` for one
/// of the app's valid secrets (two while a rotation overlaps, LIFE-04). The comparison
/// ignores ASCII case (some SDKs send uppercase hex) and runs in constant time, so
/// response timing does not reveal how much of a forged signature was right.
pub fn verify<'a>(
    app_secrets: impl IntoIterator<Item = &'a str>,
    h: &SignedHeaders,
) -> Result<(), ApiError> {
    let matches = |secret: &str| {
        let expected = meridian_proto::signature::signature(secret, &h.nonce, &h.timestamp);
        eq_ignore_case_ct(expected.as_bytes(), h.signature.as_bytes())
    };
    if app_secrets.into_iter().any(matches) {
        Ok(())
    } else {
        Err(ApiError::Signature("signature mismatch".to_owned()))
    }
}

/// Constant-time in the contents; the length is public (a SHA-1 hex is always 40).
fn eq_ignore_case_ct(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| {
        acc | (x.to_ascii_lowercase() ^ y.to_ascii_lowercase())
    });
    // Keep the optimiser from turning the fold into an early exit.
    std::hint::black_box(diff) == 0
}

/// A `Timestamp` header as Unix milliseconds: seconds or milliseconds (above 10^11 is
/// milliseconds), with an optional fractional part (`1408710653.491` seconds). Signs,
/// spaces, exponents and overflow are refused.
pub fn timestamp_ms(raw: &str) -> Option<u64> {
    let (whole, fraction) = match raw.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (raw, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || !fraction.is_none_or(all_digits) {
        return None;
    }
    let whole: u64 = whole.parse().ok()?;
    if whole > MS_THRESHOLD {
        // Already milliseconds; a sub-millisecond fraction is dropped.
        return Some(whole);
    }
    // Seconds: the first three fractional digits are milliseconds, the rest dropped.
    let millis = fraction.map_or(0, |f| {
        f.bytes()
            .chain(std::iter::repeat(b'0'))
            .take(3)
            .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'))
    });
    whole.checked_mul(1000)?.checked_add(millis)
}

/// Per-app replay protection setting (COMPAT.md). `Compat` is the default because one
/// published SDK signs once at start-up and reuses Nonce/Timestamp/Signature forever.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ReplayMode {
    /// Signature checked elsewhere; stale timestamps and reused nonces allowed.
    #[default]
    Compat,
    /// Timestamp within ±5 minutes and nonce not reused within that window.
    Strict,
}

/// Remembers recently used nonces per app for [`ReplayMode::Strict`]. Call it only after
/// the signature has been verified, so that only authentic nonces of real apps take up
/// memory.
#[derive(Debug)]
pub struct ReplayGuard {
    apps: Mutex<HashMap<String, AppNonces>>,
    max_per_app: usize,
}

#[derive(Debug, Default)]
struct AppNonces {
    /// nonce → expiry (ms).
    expiry_of: HashMap<String, u64>,
    /// The same entries ordered by expiry, so pruning only touches expired ones.
    by_expiry: BTreeSet<(u64, String)>,
}

impl AppNonces {
    /// Forgets nonces whose expiry is before `now_ms`.
    fn prune(&mut self, now_ms: u64) {
        while let Some((expiry, _)) = self.by_expiry.first() {
            if *expiry >= now_ms {
                break;
            }
            if let Some((_, nonce)) = self.by_expiry.pop_first() {
                self.expiry_of.remove(&nonce);
            }
        }
    }
}

impl Default for ReplayGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplayGuard {
    pub fn new() -> Self {
        Self::with_limit(MAX_NONCES_PER_APP)
    }

    fn with_limit(max_per_app: usize) -> Self {
        ReplayGuard {
            apps: Mutex::new(HashMap::new()),
            max_per_app,
        }
    }

    /// `Compat`: always Ok. `Strict`: the timestamp must parse and lie within
    /// ±[`REPLAY_WINDOW_MS`] of `now_ms` (edges included), and the app's nonce must not
    /// have been used within the window; an accepted nonce is then remembered.
    pub fn check(
        &self,
        app_key: &str,
        h: &SignedHeaders,
        now_ms: u64,
        mode: ReplayMode,
    ) -> Result<(), ApiError> {
        if mode == ReplayMode::Compat {
            return Ok(());
        }
        let ts = timestamp_ms(&h.timestamp)
            .filter(|ts| ts.abs_diff(now_ms) <= REPLAY_WINDOW_MS)
            .ok_or_else(|| ApiError::Signature("stale timestamp".to_owned()))?;

        // The map only caches nonces; one left half-updated by a panicking thread is
        // still safe to use, so a poisoned lock is taken over rather than failing every
        // later request.
        let mut apps = self.apps.lock().unwrap_or_else(PoisonError::into_inner);
        if !apps.contains_key(app_key) {
            apps.insert(app_key.to_owned(), AppNonces::default());
        }
        let Some(app) = apps.get_mut(app_key) else {
            return Err(ApiError::Internal("replay guard lost an entry".to_owned()));
        };
        app.prune(now_ms);
        if app.expiry_of.contains_key(&h.nonce) {
            return Err(ApiError::Signature("nonce reused".to_owned()));
        }
        // Full even after pruning: refuse instead of evicting. Evicting an unexpired nonce
        // would let that request be replayed inside the window, which is what strict mode
        // exists to prevent; growing without bound would let one app exhaust memory.
        // 100 000 nonces in 5 minutes is ~333 requests/s sustained, above the default
        // per-app rate limits, so legitimate traffic does not get here.
        if app.expiry_of.len() >= self.max_per_app {
            return Err(ApiError::Signature(
                "too many requests in the replay window".to_owned(),
            ));
        }
        // Remember the nonce until neither "seen within the window" nor a replay of this
        // exact request (same timestamp, still fresh) can apply any more.
        let expiry = now_ms.max(ts).saturating_add(REPLAY_WINDOW_MS);
        app.expiry_of.insert(h.nonce.clone(), expiry);
        app.by_expiry.insert((expiry, h.nonce.clone()));
        Ok(())
    }

    /// Drops expired nonces of every app and apps with none left; for a periodic task, as
    /// [`check`](Self::check) only prunes the app it is called for.
    pub fn sweep(&self, now_ms: u64) {
        let mut apps = self.apps.lock().unwrap_or_else(PoisonError::into_inner);
        apps.retain(|_, app| {
            app.prune(now_ms);
            !app.expiry_of.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderName, HeaderValue};

    const EXAMPLE_TS_MS: u64 = 1_408_710_653_491;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn signed(nonce: &str, timestamp: &str, signature: &str) -> SignedHeaders {
        SignedHeaders {
            app_key: "uwd1c0sxdlx2".to_owned(),
            nonce: nonce.to_owned(),
            timestamp: timestamp.to_owned(),
            signature: signature.to_owned(),
        }
    }

    fn sig_err(result: Result<(), ApiError>) -> String {
        match result {
            Err(ApiError::Signature(m)) => m,
            other => panic!("expected Signature error, got {other:?}"),
        }
    }

    #[test]
    fn reads_plain_headers_any_case() {
        let map = headers(&[
            ("app-key", "uwd1c0sxdlx2"),
            ("NONCE", "14314"),
            ("Timestamp", "1408710653491"),
            ("sIgNaTuRe", "45beb7cc7307889a8e711219a47b7cf6a5b000e8"),
        ]);
        let h = signed_headers(&map).unwrap();
        assert_eq!(
            h,
            signed(
                "14314",
                "1408710653491",
                "45beb7cc7307889a8e711219a47b7cf6a5b000e8"
            )
        );
    }

    #[test]
    fn reads_rc_prefixed_aliases() {
        let map = headers(&[
            ("RC-App-Key", "uwd1c0sxdlx2"),
            ("rc-nonce", "123456.789"),
            ("RC-Timestamp", "1408710653"),
            ("Rc-Signature", "ABC"),
        ]);
        let h = signed_headers(&map).unwrap();
        assert_eq!(h, signed("123456.789", "1408710653", "ABC"));
        // Mixed: some plain, some prefixed.
        let map = headers(&[
            ("App-Key", "k"),
            ("RC-Nonce", "n"),
            ("Timestamp", "t"),
            ("RC-Signature", "s"),
        ]);
        assert!(signed_headers(&map).is_ok());
    }

    #[test]
    fn plain_name_wins_over_alias() {
        let map = headers(&[
            ("RC-App-Key", "alias"),
            ("App-Key", "plain"),
            ("Nonce", "n"),
            ("Timestamp", "t"),
            ("Signature", "s"),
        ]);
        assert_eq!(signed_headers(&map).unwrap().app_key, "plain");
    }

    #[test]
    fn missing_headers_are_signature_errors_naming_them() {
        let full = [
            ("App-Key", "k"),
            ("Nonce", "n"),
            ("Timestamp", "t"),
            ("Signature", "s"),
        ];
        for skip in 0..full.len() {
            let present: Vec<_> = full
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, p)| *p)
                .collect();
            let err = signed_headers(&headers(&present)).unwrap_err();
            assert_eq!(
                err,
                ApiError::Signature(format!("{} header missing", full[skip].0))
            );
            assert_eq!(err.code().0, 1004);
        }
        // Empty counts as missing.
        let mut with_empty = full;
        with_empty[0] = ("App-Key", "");
        assert_eq!(
            signed_headers(&headers(&with_empty)),
            Err(ApiError::Signature("App-Key header missing".to_owned()))
        );
    }

    #[test]
    fn non_text_header_refused() {
        let mut map = headers(&[("App-Key", "k"), ("Timestamp", "t"), ("Signature", "s")]);
        map.insert("nonce", HeaderValue::from_bytes(b"\xff\xfe").unwrap());
        assert_eq!(
            signed_headers(&map),
            Err(ApiError::Signature(
                "Nonce header is not valid text".to_owned()
            ))
        );
    }

    // Expected values computed independently:
    //   printf 'secret12314314%s' 1408710653491 | sha1sum
    //   printf 'secret123%s%s' 123456.789 1408710653 | sha1sum
    //   printf 'secret12314314%s' 1408710653.491 | sha1sum
    const SIG_MS: &str = "d23bc516c97098f423a6232cd807815884653e93";
    const SIG_DECIMAL_NONCE_SECONDS: &str = "15e95676a75fd187a089fbc735ff03d3ea03a258";
    const SIG_FRACTIONAL: &str = "dd9ee0634229d7ffc95800e8e7e1ecf0db2dadf1";

    #[test]
    fn verifies_the_compat_style_example() {
        assert_eq!(
            meridian_proto::signature::signature("secret123", "14314", "1408710653491"),
            SIG_MS
        );
        assert_eq!(
            verify(["secret123"], &signed("14314", "1408710653491", SIG_MS)),
            Ok(())
        );
        assert_eq!(
            verify(
                ["secret123"],
                &signed("123456.789", "1408710653", SIG_DECIMAL_NONCE_SECONDS)
            ),
            Ok(())
        );
        assert_eq!(
            verify(
                ["secret123"],
                &signed("14314", "1408710653.491", SIG_FRACTIONAL)
            ),
            Ok(())
        );
    }

    #[test]
    fn uppercase_signature_accepted() {
        let upper = SIG_MS.to_ascii_uppercase();
        assert_eq!(
            verify(["secret123"], &signed("14314", "1408710653491", &upper)),
            Ok(())
        );
    }

    #[test]
    fn mismatches_refused() {
        let mismatch = Err(ApiError::Signature("signature mismatch".to_owned()));
        // Wrong secret.
        assert_eq!(
            verify(["secret124"], &signed("14314", "1408710653491", SIG_MS)),
            mismatch
        );
        // Timestamp re-formatted: the signature covers the header string as sent.
        assert_eq!(
            verify(["secret123"], &signed("14314", "1408710653.491", SIG_MS)),
            mismatch
        );
        // Truncated, extended, empty.
        assert_eq!(
            verify(
                ["secret123"],
                &signed("14314", "1408710653491", &SIG_MS[..39])
            ),
            mismatch
        );
        let longer = format!("{SIG_MS}0");
        assert_eq!(
            verify(["secret123"], &signed("14314", "1408710653491", &longer)),
            mismatch
        );
        assert_eq!(
            verify(["secret123"], &signed("14314", "1408710653491", "")),
            mismatch
        );
        // The docs' example signature belongs to an unknown secret.
        assert_eq!(
            verify(
                ["secret123"],
                &signed(
                    "14314",
                    "1408710653491",
                    "45beb7cc7307889a8e711219a47b7cf6a5b000e8"
                )
            ),
            mismatch
        );
    }

    #[test]
    fn timestamps_seconds_ms_fractional() {
        assert_eq!(timestamp_ms("1408710653"), Some(1_408_710_653_000));
        assert_eq!(timestamp_ms("1408710653491"), Some(EXAMPLE_TS_MS));
        assert_eq!(timestamp_ms("1408710653.491"), Some(EXAMPLE_TS_MS));
        assert_eq!(timestamp_ms("1408710653.4"), Some(1_408_710_653_400));
        assert_eq!(timestamp_ms("1408710653.04"), Some(1_408_710_653_040));
        assert_eq!(timestamp_ms("1408710653.4919"), Some(EXAMPLE_TS_MS));
        assert_eq!(timestamp_ms("1408710653491.7"), Some(EXAMPLE_TS_MS));
        assert_eq!(timestamp_ms("0"), Some(0));
        // The threshold: 10^11 itself is seconds, anything above is milliseconds.
        assert_eq!(timestamp_ms("100000000000"), Some(100_000_000_000_000));
        assert_eq!(timestamp_ms("100000000001"), Some(100_000_000_001));
    }

    #[test]
    fn timestamps_garbage_refused() {
        for raw in [
            "",
            "-1",
            "-1408710653",
            "+1408710653",
            " 1408710653",
            "1408710653 ",
            "abc",
            "1e9",
            "1.",
            ".5",
            "1.2.3",
            "1.-2",
            "1_000",
            "99999999999999999999999",
        ] {
            assert_eq!(timestamp_ms(raw), None, "{raw:?}");
        }
    }

    #[test]
    fn guard_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<ReplayGuard>();
    }

    #[test]
    fn compat_allows_everything() {
        let guard = ReplayGuard::new();
        let h = signed("14314", "1408710653", SIG_MS);
        let far_future = EXAMPLE_TS_MS + 365 * 24 * 3600 * 1000;
        for _ in 0..3 {
            assert_eq!(guard.check("k", &h, far_future, ReplayMode::Compat), Ok(()));
        }
        let garbage = signed("1", "not a time", SIG_MS);
        assert_eq!(guard.check("k", &garbage, 0, ReplayMode::Compat), Ok(()));
        assert_eq!(ReplayMode::default(), ReplayMode::Compat);
    }

    #[test]
    fn strict_window_edges() {
        let guard = ReplayGuard::new();
        let now = EXAMPLE_TS_MS;
        let check = |nonce: &str, ts: u64| {
            guard.check(
                "k",
                &signed(nonce, &ts.to_string(), ""),
                now,
                ReplayMode::Strict,
            )
        };
        assert_eq!(check("a", now), Ok(()));
        assert_eq!(check("b", now - REPLAY_WINDOW_MS), Ok(()));
        assert_eq!(check("c", now + REPLAY_WINDOW_MS), Ok(()));
        assert_eq!(
            sig_err(check("d", now - REPLAY_WINDOW_MS - 1)),
            "stale timestamp"
        );
        assert_eq!(
            sig_err(check("e", now + REPLAY_WINDOW_MS + 1)),
            "stale timestamp"
        );
    }

    #[test]
    fn strict_accepts_seconds_and_refuses_unparsable() {
        let guard = ReplayGuard::new();
        let now = 1_408_710_653_000 + REPLAY_WINDOW_MS;
        let h = signed("n1", "1408710653", "");
        assert_eq!(guard.check("k", &h, now, ReplayMode::Strict), Ok(()));
        let h = signed("n2", "1408710653", "");
        assert_eq!(
            sig_err(guard.check("k", &h, now + 1, ReplayMode::Strict)),
            "stale timestamp"
        );
        let h = signed("n3", "yesterday", "");
        assert_eq!(
            sig_err(guard.check("k", &h, now, ReplayMode::Strict)),
            "stale timestamp"
        );
    }

    #[test]
    fn strict_refuses_nonce_reuse_compat_allows_it() {
        let guard = ReplayGuard::new();
        let now = EXAMPLE_TS_MS;
        let h = signed("14314", "1408710653491", SIG_MS);
        assert_eq!(guard.check("k", &h, now, ReplayMode::Strict), Ok(()));
        assert_eq!(
            sig_err(guard.check("k", &h, now + 1000, ReplayMode::Strict)),
            "nonce reused"
        );
        // Same nonce with another timestamp is still a reuse.
        let other_ts = signed("14314", &(now + 2000).to_string(), "");
        assert_eq!(
            sig_err(guard.check("k", &other_ts, now + 2000, ReplayMode::Strict)),
            "nonce reused"
        );
        // Compat does not consult the guard.
        assert_eq!(guard.check("k", &h, now + 1000, ReplayMode::Compat), Ok(()));
        // Nonces are per app.
        assert_eq!(guard.check("other", &h, now, ReplayMode::Strict), Ok(()));
        // A refused (stale) request does not burn its nonce.
        let stale = signed("fresh-later", "1", "");
        assert!(guard.check("k", &stale, now, ReplayMode::Strict).is_err());
        let later = signed("fresh-later", &now.to_string(), "");
        assert_eq!(guard.check("k", &later, now, ReplayMode::Strict), Ok(()));
    }

    #[test]
    fn nonces_expire_after_the_window() {
        let guard = ReplayGuard::new();
        let t0 = EXAMPLE_TS_MS;
        let first = signed("n", &t0.to_string(), "");
        assert_eq!(guard.check("k", &first, t0, ReplayMode::Strict), Ok(()));
        // The very last moment the original request is still fresh: replay refused.
        let edge = t0 + REPLAY_WINDOW_MS;
        assert_eq!(
            sig_err(guard.check("k", &first, edge, ReplayMode::Strict)),
            "nonce reused"
        );
        let at_edge = signed("n", &edge.to_string(), "");
        assert_eq!(
            sig_err(guard.check("k", &at_edge, edge, ReplayMode::Strict)),
            "nonce reused"
        );
        // One ms later the original is stale, and the nonce is forgotten.
        let after = edge + 1;
        assert_eq!(
            sig_err(guard.check("k", &first, after, ReplayMode::Strict)),
            "stale timestamp"
        );
        let new_request = signed("n", &after.to_string(), "");
        assert_eq!(
            guard.check("k", &new_request, after, ReplayMode::Strict),
            Ok(())
        );
    }

    #[test]
    fn future_timestamps_are_remembered_until_they_go_stale() {
        // Client clock 4 minutes ahead: a replay stays fresh until ts + window, so the
        // nonce must be remembered that long, not just for a window after it was seen.
        let guard = ReplayGuard::new();
        let t0 = EXAMPLE_TS_MS;
        let ahead = t0 + 4 * 60 * 1000;
        let h = signed("n", &ahead.to_string(), "");
        assert_eq!(guard.check("k", &h, t0, ReplayMode::Strict), Ok(()));
        let replay_at = t0 + REPLAY_WINDOW_MS + 60_000;
        assert_eq!(
            sig_err(guard.check("k", &h, replay_at, ReplayMode::Strict)),
            "nonce reused"
        );
    }

    #[test]
    fn memory_is_bounded_per_app() {
        let guard = ReplayGuard::with_limit(3);
        let t0 = EXAMPLE_TS_MS;
        let at = |nonce: &str, now: u64| {
            guard.check(
                "k",
                &signed(nonce, &now.to_string(), ""),
                now,
                ReplayMode::Strict,
            )
        };
        assert_eq!(at("a", t0), Ok(()));
        assert_eq!(at("b", t0 + 10), Ok(()));
        assert_eq!(at("c", t0 + 20), Ok(()));
        assert_eq!(
            sig_err(at("d", t0 + 30)),
            "too many requests in the replay window"
        );
        // Other apps have their own budget.
        assert_eq!(
            guard.check(
                "other",
                &signed("d", &t0.to_string(), ""),
                t0,
                ReplayMode::Strict
            ),
            Ok(())
        );
        // Once "a" expires its slot is free again; "b" and "c" are still remembered.
        let after_a = t0 + REPLAY_WINDOW_MS + 1;
        assert_eq!(at("d", after_a), Ok(()));
        assert_eq!(
            sig_err(at("e", after_a)),
            "too many requests in the replay window"
        );
        assert_eq!(sig_err(at("b", t0 + REPLAY_WINDOW_MS + 5)), "nonce reused");
    }

    #[test]
    fn sweep_drops_expired_apps() {
        let guard = ReplayGuard::new();
        let t0 = EXAMPLE_TS_MS;
        let h = signed("n", &t0.to_string(), "");
        assert_eq!(guard.check("k1", &h, t0, ReplayMode::Strict), Ok(()));
        let later = t0 + 60_000;
        let h2 = signed("n", &later.to_string(), "");
        assert_eq!(guard.check("k2", &h2, later, ReplayMode::Strict), Ok(()));
        guard.sweep(t0 + REPLAY_WINDOW_MS + 1);
        let apps = guard.apps.lock().unwrap();
        assert!(!apps.contains_key("k1"));
        assert_eq!(apps.get("k2").map(|a| a.expiry_of.len()), Some(1));
        assert_eq!(apps.get("k2").map(|a| a.by_expiry.len()), Some(1));
    }

    #[test]
    fn replay_mode_config_names() {
        let strict: ReplayMode = serde_json::from_str("\"strict\"").unwrap();
        assert_eq!(strict, ReplayMode::Strict);
        assert_eq!(
            serde_json::to_string(&ReplayMode::Compat).unwrap(),
            "\"compat\""
        );
    }
}
