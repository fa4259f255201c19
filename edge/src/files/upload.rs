//! `PUT /files/v1/uploads/{grant}`: stores the bytes, derives an image's thumbnail and
//! preview, records the file in the cluster, and only then answers. An upload cut off or
//! refused leaves no object behind; one answered is committed. A request with a
//! `Content-Range` is a chunk of a resumable upload (`resumable.rs`).

use bytes::{Bytes, BytesMut};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use http::header::CONTENT_LENGTH;
use http::{Request, Response, StatusCode};
use http_body_util::BodyDataStream;
use hyper::body::Incoming;
use meridian_access::directory::Resolved;
use meridian_cluster::state::files::{
    FileAnswer, FileQuestion, FileRecord, RecordFile, RecordOwnedFile,
};
use meridian_cluster::state::{Command, Envelope, Query, QueryOutput};
use meridian_files::images::{self, Processed};
use meridian_files::videos::{self, VideoInfo};
use meridian_files::{ObjectName, Store};
use meridian_proto::files::{FileKind, Uploaded};
use meridian_telemetry::StreamBody;
use tokio::io::AsyncWriteExt;

use super::links::{GrantClaims, Link, Variant};
use super::{json_answer, FileError, Files};
use crate::metrics::{FileArea, UploadResult};
use crate::now_ms;

impl Files {
    pub(super) async fn upload(&self, request: Request<Incoming>) -> Response<StreamBody> {
        let grant = grant_of(&request);
        // The app's area once the grant names one this edge knows.
        let mut area = "unknown";
        let result = self.try_upload(&grant, request, &mut area).await;
        let outcome = match &result {
            Ok(UploadAnswer::Done(_)) => Some("stored"),
            // A chunk of a resumable upload: counted when the upload ends.
            Ok(UploadAnswer::Received(_)) => None,
            Err(error) => Some(error.upload_result()),
        };
        if let Some(result) = outcome {
            let labels = UploadResult { area, result };
            self.metrics.uploads.with(&labels).inc();
        }
        match result {
            Ok(UploadAnswer::Done(uploaded)) => json_answer(
                StatusCode::OK,
                &serde_json::to_value(uploaded).unwrap_or_default(),
            ),
            Ok(UploadAnswer::Received(progress)) => json_answer(
                StatusCode::ACCEPTED,
                &serde_json::to_value(progress).unwrap_or_default(),
            ),
            Err(error) => error.response(),
        }
    }

    async fn try_upload(
        &self,
        grant: &str,
        request: Request<Incoming>,
        area_label: &mut &'static str,
    ) -> Result<UploadAnswer, FileError> {
        let (claims, app) = self.granted(grant, area_label).await?;
        if let Some(range) = super::resumable::content_range(request.headers())? {
            return self.put_chunk(&claims, &app, range, request).await;
        }
        // A declared length over the grant is refused before anything is read or stored.
        let declared = request
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|length| length > claims.size) {
            return Err(too_large(&claims));
        }
        let base_url = self.base_url(&request);
        // Sent again after its answer was lost: answered the same, nothing stored twice.
        if let Some(uploaded) = self.recorded(&claims, &app, &base_url).await? {
            return Ok(UploadAnswer::Done(uploaded));
        }
        let chunks = body_chunks(request.into_body());
        let uploaded = self.store_file(&claims, &app, &base_url, chunks).await?;
        Ok(UploadAnswer::Done(uploaded))
    }

    /// The claims of an upload URL, once checked against the app's secret and the clock.
    pub(super) async fn granted(
        &self,
        grant: &str,
        area_label: &mut &'static str,
    ) -> Result<(GrantClaims, Resolved), FileError> {
        let (claims, body, signature) = GrantClaims::read(grant)
            .ok_or_else(|| FileError::Unauthorized("the upload URL is malformed".into()))?;
        let app = self.directory.resolve(&claims.app_key).await?;
        *area_label = app.area.as_str();
        if !app
            .signed_by(|secret| meridian_access::token::verify_signature(secret, body, signature))
            || claims.expires_ms < now_ms()
        {
            return Err(FileError::LinkInvalid);
        }
        Ok((claims, app))
    }

    /// Stores a whole file from its chunks (processing images and videos), records it in
    /// the cluster, and answers what its message carries.
    pub(super) async fn store_file(
        &self,
        claims: &GrantClaims,
        app: &Resolved,
        base_url: &str,
        chunks: Chunks,
    ) -> Result<Uploaded, FileError> {
        let area = self.area(app.area)?;
        let FileAnswer::Budget(limits, _) = self
            .ask(&area.cluster, &claims.app_key, FileQuestion::Budget)
            .await?
        else {
            return Err(FileError::Unavailable(
                "unexpected answer to a budget".into(),
            ));
        };
        let original = ObjectName::Original {
            app_key: &claims.app_key,
            file_id: &claims.file_id,
        };
        let preview = ObjectName::Preview {
            app_key: &claims.app_key,
            file_id: &claims.file_id,
        };
        let stored = match claims.kind {
            FileKind::Image => {
                let bytes = read_whole(chunks, claims).await?;
                store_image(&area.store, original, preview, bytes, limits.strip_exif).await?
            }
            FileKind::Video => store_video(&area.store, original, chunks, claims).await?,
            _ => stream_to_store(&area.store, original, chunks, claims, None).await?,
        };
        let created_ms = now_ms();
        let mut keep_secs = claims
            .keep_seconds
            .unwrap_or_else(|| limits.link_lifetime_secs());
        // Media sent in a conversation live no longer than its history (LIFE-01).
        if let Some(scope) = &claims.scope {
            let history = self.history_days(app, scope.kind).await?;
            keep_secs = keep_secs.min(u64::from(history) * 24 * 3600);
        }
        let expires = created_ms + keep_secs.saturating_mul(1000);
        let record = FileRecord {
            file_id: claims.file_id.clone(),
            kind: claims.kind,
            owner: claims.owner.clone(),
            size: stored.size,
            content_type: content_type(claims),
            name: claims.name.clone(),
            sha256: stored.sha256.clone(),
            created_ms,
            has_preview: stored
                .processed
                .as_ref()
                .is_some_and(|p| p.preview.is_some()),
            expires_ms: expires,
        };
        let command = Command::RecordOwnedFile(RecordOwnedFile(RecordFile {
            app_key: claims.app_key.clone(),
            record: record.clone(),
        }));
        let envelope = Envelope {
            area: app.area,
            command,
        };
        if let Err(error) = area.cluster.write_one(envelope).await {
            // Refused (quota) or unknown: the bytes go; a retry uploads them again.
            let _ = area.store.delete(original).await;
            let _ = area.store.delete(preview).await;
            return Err(error.into());
        }
        self.metrics
            .file_bytes_stored
            .with(&FileArea {
                area: app.area.as_str(),
            })
            .inc_by(stored.size + stored.preview_size);
        let (processed, video) = (stored.processed.as_ref(), stored.video.as_ref());
        Ok(Uploaded {
            thumbnail: (processed.map(|p| p.thumbnail.clone()))
                .or_else(|| video.map(|v| v.thumbnail.clone())),
            width: (processed.map(|p| p.width)).or_else(|| video.map(|v| v.width)),
            height: (processed.map(|p| p.height)).or_else(|| video.map(|v| v.height)),
            duration_ms: video.map(|v| v.duration_ms),
            ..answer_of(&record, claims, app, base_url)
        })
    }

    /// The answer to an upload whose file is already recorded (its first answer was
    /// lost): the same file and links, without what only processing the bytes told.
    pub(super) async fn recorded(
        &self,
        claims: &GrantClaims,
        app: &Resolved,
        base_url: &str,
    ) -> Result<Option<Uploaded>, FileError> {
        let question = FileQuestion::Read {
            file_id: claims.file_id.clone(),
            reader: None,
            scope: None,
        };
        let area = self.area(app.area)?;
        match self.ask(&area.cluster, &claims.app_key, question).await {
            Ok(FileAnswer::Read(record, _)) => Ok(Some(answer_of(&record, claims, app, base_url))),
            Ok(_) => Err(FileError::Unavailable("unexpected answer to a file".into())),
            Err(FileError::NotFound(_)) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

/// What an upload answers of a recorded file: its links, minted for the conversation
/// the grant names.
fn answer_of(
    record: &FileRecord,
    claims: &GrantClaims,
    app: &Resolved,
    base_url: &str,
) -> Uploaded {
    let link = |variant| {
        let link = Link {
            app_key: &claims.app_key,
            file_id: &record.file_id,
            variant,
            expires_ms: record.expires_ms,
            scope: claims.scope.as_ref(),
        };
        link.url(base_url, app.secret())
    };
    Uploaded {
        file_id: record.file_id.clone(),
        kind: record.kind,
        size: record.size,
        sha256: record.sha256.clone(),
        content_type: record.content_type.clone(),
        name: record.name.clone(),
        url: link(Variant::Original),
        thumbnail: None,
        preview_url: record.has_preview.then(|| link(Variant::Preview)),
        width: None,
        height: None,
        duration_ms: None,
    }
}

impl Files {
    /// How many days the app keeps the history of conversations of this type.
    async fn history_days(
        &self,
        app: &Resolved,
        kind: meridian_proto::ConversationType,
    ) -> Result<u32, FileError> {
        let query = Query::AppLimits {
            app_key: app.app_key().to_string(),
        };
        match self.area(app.area)?.cluster.read(query).await? {
            QueryOutput::Limits(limits) => Ok(limits.retention_days.days_for(kind)),
            other => Err(FileError::Unavailable(format!(
                "unexpected answer {other:?}"
            ))),
        }
    }
}

/// What was stored of an upload.
struct Stored {
    size: u64,
    sha256: String,
    preview_size: u64,
    processed: Option<Processed>,
    video: Option<VideoInfo>,
}

pub(super) fn too_large(claims: &GrantClaims) -> FileError {
    FileError::TooLarge {
        what: "this upload (as granted)".into(),
        limit: claims.size,
    }
}

/// The content type the file is served with: as the uploader said, else by kind.
fn content_type(claims: &GrantClaims) -> String {
    if !claims.content_type.is_empty() {
        return claims.content_type.clone();
    }
    match claims.kind {
        FileKind::Gif => "image/gif",
        FileKind::Voice => "audio/aac",
        FileKind::Video => "video/mp4",
        FileKind::Image | FileKind::File => "application/octet-stream",
    }
    .to_string()
}

/// What an upload request answers: the stored file, or how much of a resumable upload
/// the store holds.
pub(super) enum UploadAnswer {
    Done(Uploaded),
    Received(super::resumable::Progress),
}

/// The grant an upload URL carries (its last segment).
pub(super) fn grant_of<B>(request: &Request<B>) -> String {
    let path = request.uri().path();
    path.rsplit('/').next().unwrap_or_default().to_string()
}

/// The bytes of an upload as they arrive: a request's body, or a resumable upload's
/// stored chunks.
pub(super) type Chunks = BoxStream<'static, Result<Bytes, FileError>>;

pub(super) fn body_chunks(body: Incoming) -> Chunks {
    BodyDataStream::new(body)
        .map_err(|e| FileError::Invalid(format!("the upload was cut off: {e}")))
        .boxed()
}

/// The next chunk, refusing more than the grant allows.
async fn next_chunk(
    chunks: &mut Chunks,
    received: &mut u64,
    claims: &GrantClaims,
) -> Result<Option<Bytes>, FileError> {
    let Some(data) = chunks.next().await.transpose()? else {
        return Ok(None);
    };
    *received += data.len() as u64;
    if *received > claims.size {
        return Err(too_large(claims));
    }
    Ok(Some(data))
}

async fn read_whole(mut body: Chunks, claims: &GrantClaims) -> Result<Bytes, FileError> {
    let mut received = 0;
    let mut bytes = BytesMut::new();
    while let Some(chunk) = next_chunk(&mut body, &mut received, claims).await? {
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes.freeze())
}

/// Streams the body to the store; with `spool`, also into that file.
async fn stream_to_store(
    store: &Store,
    name: ObjectName<'_>,
    mut body: Chunks,
    claims: &GrantClaims,
    mut spool: Option<&mut tokio::fs::File>,
) -> Result<Stored, FileError> {
    let mut upload = store.upload(name);
    let mut received = 0;
    loop {
        match next_chunk(&mut body, &mut received, claims).await {
            Ok(Some(chunk)) => {
                if let Some(file) = spool.as_deref_mut() {
                    if let Err(e) = file.write_all(&chunk).await {
                        upload.abort().await;
                        return Err(FileError::Unavailable(format!("spooling the video: {e}")));
                    }
                }
                if let Err(e) = upload.write(chunk).await {
                    upload.abort().await;
                    return Err(FileError::Unavailable(e.to_string()));
                }
            }
            Ok(None) => break,
            Err(error) => {
                upload.abort().await;
                return Err(error);
            }
        }
    }
    if received == 0 {
        upload.abort().await;
        return Err(FileError::Invalid("the upload is empty".into()));
    }
    let sha256 = upload
        .finish()
        .await
        .map_err(|e| FileError::Unavailable(e.to_string()))?;
    Ok(Stored {
        size: received,
        sha256,
        preview_size: 0,
        processed: None,
        video: None,
    })
}

/// Streams a video to the store and, through a spooled copy, reads its length, size
/// and first frame ([`videos::probe`]; skipped when the tools are missing).
async fn store_video(
    store: &Store,
    name: ObjectName<'_>,
    body: Chunks,
    claims: &GrantClaims,
) -> Result<Stored, FileError> {
    let spool = tempfile::NamedTempFile::new()
        .map_err(|e| FileError::Unavailable(format!("spooling the video: {e}")))?;
    let mut file = tokio::fs::File::create(spool.path())
        .await
        .map_err(|e| FileError::Unavailable(format!("spooling the video: {e}")))?;
    let mut stored = stream_to_store(store, name, body, claims, Some(&mut file)).await?;
    if file.flush().await.is_ok() {
        stored.video = videos::probe(spool.path()).await;
    }
    Ok(stored)
}

async fn store_image(
    store: &Store,
    original: ObjectName<'_>,
    preview: ObjectName<'_>,
    bytes: Bytes,
    strip_exif: bool,
) -> Result<Stored, FileError> {
    let (bytes, processed) = tokio::task::spawn_blocking(move || {
        let bytes = if strip_exif {
            images::without_exif(bytes)
        } else {
            bytes
        };
        let processed = images::process(&bytes);
        (bytes, processed)
    })
    .await
    .map_err(|e| FileError::Unavailable(format!("image processing failed: {e}")))?;
    let processed = processed.map_err(|e| FileError::Invalid(e.to_string()))?;
    let sha256 = meridian_files::store::sha256_hex(&bytes);
    let size = bytes.len() as u64;
    let unavailable = |e: meridian_files::StoreError| FileError::Unavailable(e.to_string());
    let mut preview_size = 0;
    if let Some(resized) = &processed.preview {
        preview_size = resized.len() as u64;
        store
            .put(preview, resized.clone())
            .await
            .map_err(unavailable)?;
    }
    store.put(original, bytes).await.map_err(unavailable)?;
    Ok(Stored {
        size,
        sha256,
        preview_size,
        processed: Some(processed),
        video: None,
    })
}
