//! What the providers share on top of [`meridian_rpc::OutboundClient`]: one exchange with
//! the push deadline, and reading a provider's answer.

use std::time::Duration;

use bytes::Bytes;
use http::Request;
pub(crate) use meridian_rpc::outbound::Answer;
use meridian_rpc::OutboundClient;

/// Deadline for one whole exchange: connecting, sending and reading the answer (which
/// [`OutboundClient`] cuts off at [`meridian_rpc::outbound::MAX_ANSWER_BYTES`]).
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
pub(crate) const USER_AGENT: &str = concat!("meridian-push/", env!("CARGO_PKG_VERSION"));

/// Sends `request` and reads the answer, all within [`REQUEST_TIMEOUT`]. `Err` is a
/// transport failure (the request may or may not have arrived).
pub(crate) async fn exchange(
    client: &OutboundClient,
    request: Request<Bytes>,
) -> Result<Answer, String> {
    let target = format!("{} {}", request.method(), request.uri());
    client
        .send(request, REQUEST_TIMEOUT)
        .await
        .map_err(|e| format!("{target}: {e}"))
}

/// Reading a provider's answer.
pub(crate) trait AnswerExt {
    /// The body as JSON, or `Null` when it is not JSON.
    fn json(&self) -> serde_json::Value;
    /// `Retry-After` in seconds (the HTTP-date form is not used by these providers).
    fn retry_after(&self) -> Option<Duration>;
    /// A short text for logs and outcomes: the status and the start of the body.
    fn summary(&self) -> String;
    /// 429 or 5xx: worth trying again later.
    fn is_transient(&self) -> bool;
}

impl AnswerExt for Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    fn retry_after(&self) -> Option<Duration> {
        let value = self.headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
        value.trim().parse::<u64>().ok().map(Duration::from_secs)
    }

    fn summary(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let text: String = text.chars().take(200).collect();
        format!("HTTP {}: {}", self.status, text.trim())
    }

    fn is_transient(&self) -> bool {
        self.status == 429 || (500..=599).contains(&self.status)
    }
}
