//! `GET`/`HEAD /files/v1/{appKey}/{fileId}[/preview]?e=&s=`: a signed link's bytes, whole
//! or one byte range, streamed from the store.

use futures::StreamExt;
use http::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE,
    ETAG, RANGE,
};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody as StreamedFrames};
use hyper::body::{Frame, Incoming};
use meridian_access::params::Params;
use meridian_cluster::state::files::{FileAnswer, FileQuestion, FileRecord};
use meridian_files::ObjectName;
use meridian_proto::files::FileKind;
use meridian_proto::{Conversation, ConversationType};
use meridian_telemetry::{whole_body, StreamBody};

use super::links::{Link, Variant};
use super::{Caller, FileError, Files};
use crate::metrics::FileArea;
use crate::now_ms;

impl Files {
    pub(super) async fn download(&self, request: Request<Incoming>) -> Response<StreamBody> {
        match self.try_download(&request).await {
            Ok(response) => response,
            Err(error) => error.response(),
        }
    }

    async fn try_download(
        &self,
        request: &Request<Incoming>,
    ) -> Result<Response<StreamBody>, FileError> {
        let not_found = || FileError::NotFound("file".into());
        let path = request
            .uri()
            .path()
            .strip_prefix(super::PREFIX)
            .unwrap_or_default();
        let (app_key, file_id, variant) = match path.split('/').collect::<Vec<_>>()[..] {
            [app_key, file_id] => (app_key, file_id, Variant::Original),
            [app_key, file_id, "preview"] => (app_key, file_id, Variant::Preview),
            _ => return Err(not_found()),
        };
        let query = Params::parse_form(request.uri().query().unwrap_or_default().as_bytes())
            .map_err(|_| FileError::LinkInvalid)?;
        let expires = query
            .get("e")
            .and_then(|e| e.parse::<u64>().ok())
            .unwrap_or(0);
        let signature = query.get("s").unwrap_or_default();
        let scope = link_scope(&query)?;
        let app = self
            .directory
            .resolve(app_key)
            .await
            .map_err(|_| not_found())?;
        let link = Link {
            app_key,
            file_id,
            variant,
            expires_ms: expires,
            scope: scope.as_ref(),
        };
        if !app.signed_by(|secret| link.signed(secret, signature)) || expires < now_ms() {
            return Err(FileError::LinkInvalid);
        }
        let caller = self.caller(request.headers()).await?;
        if caller.as_ref().is_some_and(|c| c.app_key != app_key) {
            return Err(FileError::Unauthorized(
                "the credentials are another app's".into(),
            ));
        }
        let area = self.area(app.area)?;
        let question = FileQuestion::Read {
            file_id: file_id.to_string(),
            reader: caller.as_ref().and_then(|c| c.user.clone()),
            scope,
        };
        let FileAnswer::Read(record, allowed) = self.ask(&area.cluster, app_key, question).await?
        else {
            return Err(FileError::Unavailable("unexpected answer to a file".into()));
        };
        match (allowed, &caller) {
            (None, _) | (Some(_), Some(Caller { user: None, .. })) | (Some(true), Some(_)) => {}
            (Some(_), None) => {
                return Err(FileError::Unauthorized(
                    "the app's files are private: show the reader's bearer token".into(),
                ))
            }
            (Some(false), Some(_)) => {
                return Err(FileError::NotMember(
                    "only the conversation's members may fetch this file".into(),
                ))
            }
        }
        let (name, content_type, size) = match variant {
            Variant::Original => (
                ObjectName::Original { app_key, file_id },
                record.content_type.clone(),
                record.size,
            ),
            Variant::Preview if record.has_preview => {
                let name = ObjectName::Preview { app_key, file_id };
                let size = area.store.size(name).await.map_err(|_| not_found())?;
                (name, "image/jpeg".to_string(), size)
            }
            Variant::Preview => return Err(not_found()),
        };
        let range = match request.headers().get(RANGE).and_then(|v| v.to_str().ok()) {
            Some(header) => byte_range(header, size)?,
            None => None,
        };
        let (status, span) = match &range {
            Some(span) => (StatusCode::PARTIAL_CONTENT, span.clone()),
            None => (StatusCode::OK, 0..size),
        };
        let body = if request.method() == Method::HEAD {
            whole_body(bytes::Bytes::new())
        } else {
            let stream = area
                .store
                .read(name, span.clone())
                .await
                .map_err(|e| FileError::Unavailable(e.to_string()))?;
            let served = self.metrics.file_bytes_served.with(&FileArea {
                area: app.area.as_str(),
            });
            let frames = stream.map(move |chunk| {
                let chunk = chunk.map_err(std::io::Error::other)?;
                served.inc_by(chunk.len() as u64);
                Ok(Frame::data(chunk))
            });
            StreamedFrames::new(frames).boxed_unsync()
        };
        let mut response = Response::new(body);
        *response.status_mut() = status;
        let headers = response.headers_mut();
        let value = |text: &str| HeaderValue::from_str(text).map_err(|_| not_found());
        headers.insert(CONTENT_TYPE, value(&content_type)?);
        headers.insert(CONTENT_LENGTH, value(&(span.end - span.start).to_string())?);
        headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        headers.insert(ETAG, value(&format!("\"{}\"", record.sha256))?);
        // The link expires; what it names never changes.
        headers.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("private, max-age=86400"),
        );
        if range.is_some() {
            let text = format!("bytes {}-{}/{size}", span.start, span.end - 1);
            headers.insert(CONTENT_RANGE, value(&text)?);
        }
        if variant == Variant::Original {
            headers.insert(CONTENT_DISPOSITION, value(&disposition(&record))?);
        }
        Ok(response)
    }
}

/// The conversation a link names (`ct`, `c1`, `c2`), if it names one.
fn link_scope(query: &Params) -> Result<Option<Conversation>, FileError> {
    let Some(code) = query.get("ct") else {
        return Ok(None);
    };
    let kind = code
        .parse()
        .ok()
        .and_then(ConversationType::from_code)
        .ok_or(FileError::LinkInvalid)?;
    Ok(Some(Conversation {
        kind,
        first: query.get("c1").unwrap_or_default().to_string(),
        second: query.get("c2").unwrap_or_default().to_string(),
        channel: String::new(),
    }))
}

/// Files download as attachments under their name; media show inline.
fn disposition(record: &FileRecord) -> String {
    let kind = if record.kind == FileKind::File {
        "attachment"
    } else {
        "inline"
    };
    if record.name.is_empty() {
        return kind.to_string();
    }
    // RFC 6266: an ASCII fallback, and the exact name percent-encoded (RFC 8187).
    let fallback: String = record
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = record
        .name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// The one byte range a `Range` header asks for; `None` (the whole file) for forms this
/// service does not serve partially (several ranges), as RFC 9110 allows.
fn byte_range(header: &str, size: u64) -> Result<Option<std::ops::Range<u64>>, FileError> {
    let unsatisfiable = || FileError::Range { size };
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let (first, last) = spec.split_once('-').ok_or_else(unsatisfiable)?;
    let number = |text: &str| text.trim().parse::<u64>().map_err(|_| unsatisfiable());
    let range = match (first.trim().is_empty(), last.trim().is_empty()) {
        // `bytes=-n`: the last n bytes.
        (true, false) => {
            let n = number(last)?.min(size);
            if n == 0 {
                return Err(unsatisfiable());
            }
            size - n..size
        }
        (false, true) => number(first)?..size,
        (false, false) => number(first)?..number(last)?.saturating_add(1).min(size),
        (true, true) => return Err(unsatisfiable()),
    };
    if range.start >= range.end || range.start >= size {
        return Err(unsatisfiable());
    }
    Ok(Some(range))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(byte_range("bytes=0-9", 100).unwrap(), Some(0..10));
        assert_eq!(byte_range("bytes=90-", 100).unwrap(), Some(90..100));
        assert_eq!(byte_range("bytes=-5", 100).unwrap(), Some(95..100));
        assert_eq!(byte_range("bytes=-500", 100).unwrap(), Some(0..100));
        assert_eq!(byte_range("bytes=50-500", 100).unwrap(), Some(50..100));
        assert_eq!(byte_range("bytes=0-1,5-6", 100).unwrap(), None);
        assert_eq!(byte_range("items=0-1", 100).unwrap(), None);
        for bad in [
            "bytes=100-",
            "bytes=5-4",
            "bytes=-0",
            "bytes=x-1",
            "bytes=-",
        ] {
            assert!(
                matches!(byte_range(bad, 100), Err(FileError::Range { size: 100 })),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_file_name_survives_in_the_disposition() {
        let record = FileRecord {
            file_id: "f".into(),
            kind: FileKind::File,
            owner: String::new(),
            size: 1,
            content_type: "application/pdf".into(),
            name: "Plan \"Q3\" 报告.pdf".into(),
            sha256: String::new(),
            created_ms: 0,
            has_preview: false,
            expires_ms: 1,
        };
        assert_eq!(
            disposition(&record),
            "attachment; filename=\"Plan _Q3_ __.pdf\"; \
             filename*=UTF-8''Plan%20%22Q3%22%20%E6%8A%A5%E5%91%8A.pdf"
        );
    }
}
