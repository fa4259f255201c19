//! The hourly message archive: `/message/history.json` answers a download link for one UTC
//! hour's messages, signed with the App Secret and valid for a day; the link itself is
//! served here (`GET /message/archive/…`) as JSON lines. `/message/history/delete.json`
//! deletes an hour's archive (the conversations keep their history).

use bytes::Bytes;
use http::{header, Request, Response, StatusCode};
use meridian_cluster::state::{Command, DeleteArchiveHour, Query, QueryOutput};
use serde_json::{json, Map};

use super::messages::message_json;
use super::{fields, unexpected, Call, Fields, ServerApi};
use meridian_access::error::ApiError;
use meridian_access::token;

pub(super) const DOWNLOAD_PREFIX: &str = "/message/archive/";
const LINK_VALID_MS: u64 = 24 * 3_600_000;

/// `date` (`yyyyMMddHH`, UTC) as the hour's first millisecond.
fn hour_start_ms(date: &str) -> Result<u64, ApiError> {
    let bad = || ApiError::param(format!("date {date:?} must be yyyyMMddHH"));
    if date.len() != 10 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let number = |range: std::ops::Range<usize>| date[range].parse::<i64>().map_err(|_| bad());
    let (year, month, day, hour) = (number(0..4)?, number(4..6)?, number(6..8)?, number(8..10)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || year < 1970 {
        return Err(bad());
    }
    // Days since the epoch of a proleptic Gregorian date (Howard Hinnant's algorithm).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * m + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Ok((days * 24 + hour) as u64 * 3_600_000)
}

fn signed_text(app_key: &str, date: &str, expires_ms: u64) -> String {
    format!("{app_key}/{date}/{expires_ms}")
}

/// `/message/history.json`: `url` of the hour's archive, empty when it holds nothing.
pub(super) async fn link(call: &Call) -> Fields {
    let date = call.form()?.required("date")?.to_string();
    let start = hour_start_ms(&date)?;
    let messages = match call
        .read(Query::ArchiveHour {
            app_key: call.app_key(),
            hour_start_ms: start,
        })
        .await?
    {
        QueryOutput::Messages(messages) => messages,
        other => return Err(unexpected(other)),
    };
    let url = if messages.is_empty() {
        String::new()
    } else {
        let app_key = call.app_key();
        let expires = call.now_ms + LINK_VALID_MS;
        let signature = token::sign(call.app.secret(), &signed_text(&app_key, &date, expires));
        format!(
            "{}{DOWNLOAD_PREFIX}{app_key}/{date}.json?expires={expires}&signature={signature}",
            call.base_url
        )
    };
    Ok(fields(json!({ "url": url, "date": date })))
}

pub(super) async fn delete(call: &Call) -> Fields {
    let start = hour_start_ms(call.form()?.required("date")?)?;
    call.write(Command::DeleteArchiveHour(DeleteArchiveHour {
        app_key: call.app_key(),
        hour_start_ms: start,
    }))
    .await?;
    Ok(Map::new())
}

fn plain(status: StatusCode, text: &str) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(text.to_string()));
    *response.status_mut() = status;
    response
}

impl ServerApi {
    /// Serves an archive download link (`GET`, no signed headers: the link is the key).
    pub(super) async fn archive_download(&self, request: &Request<Bytes>) -> Response<Bytes> {
        let Some(rest) = request.uri().path().strip_prefix(DOWNLOAD_PREFIX) else {
            return plain(StatusCode::NOT_FOUND, "not found");
        };
        let Some((app_key, date)) = rest
            .strip_suffix(".json")
            .and_then(|name| name.split_once('/'))
        else {
            return plain(StatusCode::NOT_FOUND, "not found");
        };
        let query = request.uri().query().unwrap_or_default();
        let param = |name: &str| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
        };
        let expires = param("expires")
            .and_then(|e| e.parse::<u64>().ok())
            .unwrap_or(0);
        let (Ok(app), Some(signature), Ok(start)) = (
            self.directory.resolve(app_key).await,
            param("signature"),
            hour_start_ms(date),
        ) else {
            return plain(StatusCode::NOT_FOUND, "not found");
        };
        let text = signed_text(app_key, date, expires);
        if !app.signed_by(|secret| token::verify_signature(secret, &text, signature))
            || expires < super::now_ms()
        {
            return plain(StatusCode::FORBIDDEN, "the link is not valid (any more)");
        }
        let Some(cluster) = self.directory.client(app.area) else {
            return plain(StatusCode::SERVICE_UNAVAILABLE, "area not served here");
        };
        let query = Query::ArchiveHour {
            app_key: app_key.to_string(),
            hour_start_ms: start,
        };
        match cluster.read(query).await {
            Ok(QueryOutput::Messages(messages)) => {
                let mut body = String::new();
                for message in &messages {
                    let mut line = message_json(message, &message.sender);
                    line["appKey"] = json!(app_key);
                    body.push_str(&line.to_string());
                    body.push('\n');
                }
                let mut response = plain(StatusCode::OK, &body);
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    header::HeaderValue::from_static("application/x-ndjson"),
                );
                response
            }
            _ => plain(StatusCode::SERVICE_UNAVAILABLE, "the area is unavailable"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_hours() {
        assert_eq!(hour_start_ms("1970010100").unwrap(), 0);
        assert_eq!(hour_start_ms("2026112805").unwrap(), 1_795_842_000_000);
        assert_eq!(hour_start_ms("2024022923").unwrap(), 1_709_247_600_000);
        for bad in ["2026112824", "20261128", "2026130100", "abcdefghij"] {
            assert!(hour_start_ms(bad).is_err(), "{bad}");
        }
    }
}
