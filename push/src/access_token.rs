//! Access tokens that a provider issues for a while (FCM's and Huawei's OAuth2 tokens):
//! one cache for every provider, the refresh-once-when-refused loop around a send, and
//! the OAuth2 client-credentials grant (RFC 6749 §4.4) the vendors share.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use ring::digest::{digest, SHA256};
use serde_json::Value;
use tokio::time::Instant;

use crate::http::{exchange, Answer, AnswerExt, USER_AGENT};
use crate::{Outcome, PushClient};

/// A token is replaced this long before the provider says it expires.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// Who a token was issued to and by whom.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Account {
    pub provider: &'static str,
    /// The provider's id for the caller (service account e-mail, app id).
    pub id: String,
    /// The URL that issues the tokens.
    pub issuer: String,
}

/// One async lock per account, so concurrent sends fetch one token, not many.
type Slot = Arc<tokio::sync::Mutex<Option<Cached>>>;

struct Cached {
    token: String,
    expires: Instant,
    /// SHA-256 of the secret it was issued for: a replaced secret gets a new token.
    secret: Vec<u8>,
}

#[derive(Default)]
pub(crate) struct TokenCache {
    slots: Mutex<HashMap<Account, Slot>>,
}

/// A token as the issuer handed it out.
pub(crate) struct Issued {
    pub token: String,
    pub lifetime: Duration,
}

impl Issued {
    /// `expires_in` as the issuer claims it, capped at what the provider documents.
    pub fn new(token: &str, expires_in: Duration, max: Duration) -> Self {
        Self {
            token: token.to_string(),
            lifetime: expires_in.min(max).saturating_sub(EXPIRY_MARGIN),
        }
    }
}

/// What one send with a token came to.
pub(crate) enum Sent {
    Done(Outcome),
    /// The provider refused the token (expired, revoked): the outcome if a fresh one is
    /// refused too.
    TokenRefused(Outcome),
}

impl TokenCache {
    fn slot(&self, account: &Account) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.entry(account.clone()).or_default().clone()
    }
}

impl PushClient {
    /// Runs `send` with the cached token of `account` or one from `fetch`; when the
    /// provider refuses it, forgets it and tries once more with a fresh one. (Plain
    /// closures returning futures, not async closures: those futures would not be Send.)
    pub(crate) async fn with_token<F, S>(
        &self,
        account: Account,
        secret: &str,
        fetch: impl Fn() -> F,
        send: impl Fn(String) -> S,
    ) -> Outcome
    where
        F: Future<Output = Result<Issued, Outcome>>,
        S: Future<Output = Sent>,
    {
        let slot = self.inner.tokens.slot(&account);
        let secret = digest(&SHA256, secret.as_bytes()).as_ref().to_vec();
        let mut refreshed = false;
        loop {
            let token = {
                let mut cached = slot.lock().await;
                match cached.as_ref() {
                    Some(c) if c.secret == secret && Instant::now() < c.expires => c.token.clone(),
                    _ => {
                        let issued = match fetch().await {
                            Ok(issued) => issued,
                            Err(outcome) => return outcome,
                        };
                        *cached = Some(Cached {
                            token: issued.token.clone(),
                            expires: Instant::now() + issued.lifetime,
                            secret: secret.clone(),
                        });
                        issued.token
                    }
                }
            };
            match send(token.clone()).await {
                Sent::Done(outcome) => return outcome,
                Sent::TokenRefused(outcome) if refreshed => return outcome,
                Sent::TokenRefused(_) => {
                    let mut cached = slot.lock().await;
                    if cached.as_ref().is_some_and(|c| c.token == token) {
                        *cached = None;
                    }
                    refreshed = true;
                }
            }
        }
    }

    /// Sends `request` (a POST, with any headers of the provider's own) with the JSON
    /// `body` and `token` as bearer; `judge` reads the answer.
    pub(crate) async fn post_with_token(
        &self,
        provider: &str,
        request: http::request::Builder,
        token: String,
        body: Bytes,
        judge: impl FnOnce(&Answer) -> Sent,
    ) -> Sent {
        let request = request
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .header("user-agent", USER_AGENT)
            .body(body);
        match request {
            Ok(request) => match exchange(&self.inner.client, request).await {
                Ok(answer) => judge(&answer),
                Err(e) => Sent::Done(Outcome::retry(e)),
            },
            Err(e) => Sent::Done(Outcome::rejected(format!("{provider} request: {e}"))),
        }
    }

    /// The OAuth2 client-credentials grant: `client_id` and `client_secret` form-encoded
    /// to `token_uri`, answered `{access_token, expires_in}`.
    pub(crate) async fn client_credentials(
        &self,
        provider: &str,
        token_uri: &str,
        client_id: &str,
        client_secret: &str,
        max_lifetime: Duration,
    ) -> Result<Issued, Outcome> {
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", client_id)
            .append_pair("client_secret", client_secret)
            .finish();
        let answer = self.token_request(provider, token_uri, form).await?;
        issued(provider, &answer, max_lifetime)
    }

    /// POSTs `form` to an OAuth2 token endpoint; `Err` is the outcome of the send when the
    /// answer is not a 200.
    pub(crate) async fn token_request(
        &self,
        provider: &str,
        token_uri: &str,
        form: String,
    ) -> Result<Answer, Outcome> {
        let request = Request::post(token_uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("user-agent", USER_AGENT)
            .body(Bytes::from(form))
            .map_err(|e| Outcome::rejected(format!("{provider} token request: {e}")))?;
        let answer = exchange(&self.inner.client, request)
            .await
            .map_err(|e| Outcome::retry(format!("{provider} token endpoint: {e}")))?;
        if answer.status == 200 {
            return Ok(answer);
        }
        let reason = format!(
            "{provider} token endpoint {}: {}",
            answer.status,
            oauth_error(&answer)
        );
        Err(if answer.is_transient() {
            Outcome::Retry {
                reason,
                after: answer.retry_after(),
            }
        } else {
            Outcome::rejected(reason)
        })
    }
}

/// A token endpoint's 200 answer: `{access_token, expires_in}` (seconds).
pub(crate) fn issued(
    provider: &str,
    answer: &Answer,
    max_lifetime: Duration,
) -> Result<Issued, Outcome> {
    let json = answer.json();
    match (json["access_token"].as_str(), json["expires_in"].as_u64()) {
        (Some(token), Some(expires_in)) => Ok(Issued::new(
            token,
            Duration::from_secs(expires_in),
            max_lifetime,
        )),
        _ => Err(Outcome::retry(format!(
            "{provider} token endpoint: unexpected answer {}",
            answer.summary()
        ))),
    }
}

/// OAuth2 errors are `{"error", "error_description"}`; Google's `error` is a string,
/// Huawei's a number (with a `sub_error`).
fn oauth_error(answer: &Answer) -> String {
    let json = answer.json();
    let error = match &json["error"] {
        Value::String(error) => error.clone(),
        Value::Number(error) => error.to_string(),
        _ => return answer.summary(),
    };
    match json["error_description"].as_str() {
        Some(text) => format!("{error}: {text}"),
        None => error,
    }
}
