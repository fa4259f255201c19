//! Media for messages (FILE-01): uploads a file through the edge's file service and reads
//! one back, and builds the content of the message that carries it.

use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use meridian_proto::files::{FileKind, Grant, GrantRequest, UploadFor, Uploaded};
use serde_json::{json, Value};

use crate::server_api::exchange;

/// How long one upload or download may take.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(300);

/// `http://host:port` of the edge a session URL (`ws://host:port/websocket`) names.
pub fn edge_base(ws_url: &str) -> String {
    let rest = ws_url
        .strip_prefix("ws://")
        .or_else(|| ws_url.strip_prefix("http://"))
        .unwrap_or(ws_url);
    let host = rest.split('/').next().unwrap_or(rest);
    format!("http://{host}")
}

/// Uploads `bytes` as the user whose token this is, for the conversation it will be sent
/// in (which the app's private mode requires); answers what the message carries.
pub async fn upload(
    edge: &str,
    token: &str,
    kind: FileKind,
    name: &str,
    content_type: &str,
    conversation: Option<UploadFor>,
    bytes: Bytes,
) -> anyhow::Result<Uploaded> {
    let wanted = GrantRequest {
        kind,
        size: bytes.len() as u64,
        name: name.to_string(),
        content_type: content_type.to_string(),
        keep_seconds: None,
        conversation,
    };
    let request = hyper::Request::post("/files/v1/grants")
        .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"))
        .header(hyper::header::CONTENT_TYPE, "application/json");
    let body = Bytes::from(serde_json::to_vec(&wanted)?);
    let answer = exchange(edge, request, body, TRANSFER_TIMEOUT).await?;
    if answer.status != 200 {
        bail!("upload grant refused ({}): {}", answer.status, answer.body);
    }
    let grant: Grant = serde_json::from_str(&answer.body).context("grant answer")?;
    let path = grant
        .upload_url
        .strip_prefix(edge)
        .context("the upload URL names another host")?;
    let request = hyper::Request::put(path);
    let answer = exchange(edge, request, bytes, TRANSFER_TIMEOUT).await?;
    if answer.status != 200 {
        bail!("upload refused ({}): {}", answer.status, answer.body);
    }
    serde_json::from_str(&answer.body).context("upload answer")
}

/// The bytes a download link names; as the user whose token this is, when given (the
/// app's private mode asks who reads).
pub async fn download(url: &str, token: Option<&str>) -> anyhow::Result<Bytes> {
    let base = edge_base(url);
    let path = url.strip_prefix(&base).unwrap_or(url);
    let mut request = hyper::Request::get(path);
    if let Some(token) = token {
        request = request.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let answer = exchange(&base, request, Bytes::new(), TRANSFER_TIMEOUT).await?;
    if answer.status != 200 {
        bail!("download refused ({}): {}", answer.status, answer.body);
    }
    Ok(answer.body_bytes)
}

/// The content of the message that carries an upload, in the commercial SDKs' shape for
/// its type ([`FileKind::object_name`]).
pub fn message_content(uploaded: &Uploaded) -> Value {
    let url = &uploaded.url;
    match uploaded.kind {
        FileKind::Image => json!({
            "content": uploaded.thumbnail.clone().unwrap_or_default(),
            "imageUri": url,
        }),
        FileKind::Gif => json!({
            "remoteUrl": url,
            "gifDataSize": uploaded.size,
            "width": uploaded.width.unwrap_or_default(),
            "height": uploaded.height.unwrap_or_default(),
        }),
        FileKind::Voice => json!({ "remoteUrl": url, "type": "aac" }),
        // The service's reading of the video: its first frame and length in seconds.
        FileKind::Video => json!({
            "sightUrl": url,
            "size": uploaded.size,
            "name": uploaded.name,
            "content": uploaded.thumbnail.clone().unwrap_or_default(),
            "duration": uploaded.duration_ms.unwrap_or_default().div_ceil(1000),
        }),
        FileKind::File => json!({
            "name": uploaded.name,
            "size": uploaded.size,
            "type": uploaded.name.rsplit_once('.').map(|(_, ext)| ext).unwrap_or_default(),
            "fileUrl": url,
        }),
    }
}
