//! Resumable uploads (FILE-01): a large file goes up in chunks, each a `PUT` to the same
//! upload URL with `Content-Range: bytes {first}-{last}/{total}`, in order. A chunk is
//! stored as a part in the area's store before it is acknowledged (`202` with how much is
//! held), so an edge that dies loses at most the chunk it was receiving, and the next
//! chunk may go to any edge of the area. `GET` on the upload URL answers how much is held.
//! The chunk that completes the file is answered as a whole upload is: the parts are read
//! back in order, stored as the file, and removed. Once the file is recorded, `GET` says
//! all of it is held, and the last chunk sent again is answered with the file.

use futures::{stream, StreamExt, TryStreamExt};
use http::header::{CONTENT_LENGTH, CONTENT_RANGE};
use http::{HeaderMap, Request, Response, StatusCode};
use hyper::body::Incoming;
use meridian_access::directory::Resolved;
use meridian_files::{ObjectName, Part, Store};
use meridian_telemetry::StreamBody;
use serde::Serialize;

use super::links::GrantClaims;
use super::upload::{body_chunks, grant_of, too_large, Chunks, UploadAnswer};
use super::{json_answer, FileError, Files};

/// The bytes a chunk carries, and the size of the whole file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ChunkRange {
    first: u64,
    last: u64,
    total: u64,
}

/// How much of a resumable upload the store holds.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Progress {
    file_id: String,
    /// Bytes held from the start of the file: the next chunk starts here.
    received: u64,
}

/// The `Content-Range: bytes {first}-{last}/{total}` of a chunk, if the request has one.
pub(super) fn content_range(headers: &HeaderMap) -> Result<Option<ChunkRange>, FileError> {
    let Some(value) = headers.get(CONTENT_RANGE) else {
        return Ok(None);
    };
    let invalid =
        || FileError::Invalid("Content-Range must be bytes {first}-{last}/{total}".into());
    let text = value.to_str().map_err(|_| invalid())?;
    let (span, total) = text
        .strip_prefix("bytes ")
        .and_then(|rest| rest.split_once('/'))
        .ok_or_else(invalid)?;
    let (first, last) = span.split_once('-').ok_or_else(invalid)?;
    let number = |text: &str| text.trim().parse::<u64>().map_err(|_| invalid());
    let range = ChunkRange {
        first: number(first)?,
        last: number(last)?,
        total: number(total)?,
    };
    if range.first > range.last || range.last >= range.total {
        return Err(invalid());
    }
    Ok(Some(range))
}

/// Bytes held from the start of the file, following parts that continue each other.
fn held(parts: &[Part]) -> u64 {
    let mut held = 0;
    for part in parts {
        if part.offset != held {
            break;
        }
        held += part.size;
    }
    held
}

impl Files {
    /// Stores one chunk; the last one completes the file.
    pub(super) async fn put_chunk(
        &self,
        claims: &GrantClaims,
        app: &Resolved,
        range: ChunkRange,
        request: Request<Incoming>,
    ) -> Result<UploadAnswer, FileError> {
        if range.total > claims.size {
            return Err(too_large(claims));
        }
        let length = range.last - range.first + 1;
        let declared = request
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|declared| declared != length) {
            return Err(FileError::Invalid(
                "Content-Length must be the length of the Content-Range".into(),
            ));
        }
        let store = &self.area(app.area)?.store;
        let (app_key, file_id) = (claims.app_key.as_str(), claims.file_id.as_str());
        let parts = store.parts(app_key, file_id).await.map_err(unavailable)?;
        let base_url = self.base_url(&request);
        // The last chunk sent again after its answer was lost: the parts are gone, the
        // file is recorded.
        if parts.is_empty() && range.first > 0 {
            if let Some(uploaded) = self.recorded(claims, app, &base_url).await? {
                return Ok(UploadAnswer::Done(uploaded));
            }
        }
        let received = held(&parts);
        let progress = |received| Progress {
            file_id: file_id.to_string(),
            received,
        };
        if range.first < received && range.last < received {
            // A retried chunk that is already held.
            return Ok(UploadAnswer::Received(progress(received)));
        }
        if range.first != received {
            return Err(FileError::Offset { received });
        }
        let part = ObjectName::Part {
            app_key,
            file_id,
            offset: range.first,
        };
        store_part(store, part, body_chunks(request.into_body()), length).await?;
        let received = range.last + 1;
        if received < range.total {
            return Ok(UploadAnswer::Received(progress(received)));
        }
        let parts = store.parts(app_key, file_id).await.map_err(unavailable)?;
        if held(&parts) != range.total {
            return Err(FileError::Offset {
                received: held(&parts),
            });
        }
        let chunks = read_parts(store.clone(), claims, parts);
        let uploaded = self.store_file(claims, app, &base_url, chunks).await?;
        // Left behind if this fails: the sweep removes stale parts.
        let _ = store.delete_parts(app_key, file_id).await;
        Ok(UploadAnswer::Done(uploaded))
    }

    /// `GET /files/v1/uploads/{grant}`: how much of the upload is held.
    pub(super) async fn upload_progress(&self, request: Request<Incoming>) -> Response<StreamBody> {
        let grant = grant_of(&request);
        let answer = async {
            let (claims, app) = self.granted(&grant, &mut "unknown").await?;
            let store = &self.area(app.area)?.store;
            let parts = store
                .parts(&claims.app_key, &claims.file_id)
                .await
                .map_err(unavailable)?;
            let mut received = held(&parts);
            if parts.is_empty() {
                let base_url = self.base_url(&request);
                if let Some(uploaded) = self.recorded(&claims, &app, &base_url).await? {
                    received = uploaded.size;
                }
            }
            Ok::<_, FileError>(Progress {
                file_id: claims.file_id,
                received,
            })
        };
        match answer.await {
            Ok(progress) => json_answer(
                StatusCode::OK,
                &serde_json::to_value(progress).unwrap_or_default(),
            ),
            Err(error) => error.response(),
        }
    }
}

fn unavailable(error: meridian_files::StoreError) -> FileError {
    FileError::Unavailable(error.to_string())
}

/// Streams a chunk's body to its part: exactly `length` bytes, or nothing is kept.
async fn store_part(
    store: &Store,
    part: ObjectName<'_>,
    mut chunks: Chunks,
    length: u64,
) -> Result<(), FileError> {
    let mut upload = store.upload(part);
    while let Some(chunk) = chunks.next().await {
        let written = chunk.map(|chunk| (upload.written() + chunk.len() as u64, chunk));
        let result = match written {
            Ok((total, _)) if total > length => Err(FileError::Invalid(
                "the chunk is longer than its Content-Range".into(),
            )),
            Ok((_, chunk)) => upload.write(chunk).await.map_err(unavailable),
            Err(error) => Err(error),
        };
        if let Err(error) = result {
            upload.abort().await;
            return Err(error);
        }
    }
    if upload.written() != length {
        upload.abort().await;
        return Err(FileError::Invalid(
            "the chunk is shorter than its Content-Range".into(),
        ));
    }
    upload.finish().await.map_err(unavailable)?;
    Ok(())
}

/// The held parts' bytes in order, read as they are needed.
fn read_parts(store: Store, claims: &GrantClaims, parts: Vec<Part>) -> Chunks {
    let (app_key, file_id) = (claims.app_key.clone(), claims.file_id.clone());
    stream::iter(parts)
        .then(move |part| {
            let (store, app_key, file_id) = (store.clone(), app_key.clone(), file_id.clone());
            async move {
                let name = ObjectName::Part {
                    app_key: &app_key,
                    file_id: &file_id,
                    offset: part.offset,
                };
                let bytes = store.read(name, 0..part.size).await.map_err(unavailable)?;
                Ok::<_, FileError>(bytes.map_err(unavailable))
            }
        })
        .try_flatten()
        .boxed()
}
