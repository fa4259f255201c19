//! What forms send: `application/x-www-form-urlencoded` bodies and query strings, and
//! `multipart/form-data` (the import form's file).

use bytes::Bytes;

/// A form's fields in the order sent (a name may repeat).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form(pub Vec<(String, String)>);

impl Form {
    /// An urlencoded body or query string.
    pub fn parse(text: &[u8]) -> Self {
        Self(form_urlencoded::parse(text).into_owned().collect())
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, trimmed; empty when absent.
    pub fn text(&self, name: &str) -> &str {
        self.get(name).unwrap_or_default().trim()
    }
}

/// One part of a multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub body: Bytes,
}

/// The parts of a `multipart/form-data` body (RFC 7578); `None` if the content type
/// names no boundary or the body does not follow it.
pub fn multipart(content_type: &str, body: &Bytes) -> Option<Vec<Part>> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))?
        .trim_matches('"');
    if !content_type.trim_start().starts_with("multipart/form-data") || boundary.is_empty() {
        return None;
    }
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut rest = &body[find(body, delimiter.as_bytes())? + delimiter.len()..];
    loop {
        if rest.starts_with(b"--") {
            return Some(parts);
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let header_end = find(rest, b"\r\n\r\n")?;
        let headers = std::str::from_utf8(&rest[..header_end]).ok()?;
        let content = &rest[header_end + 4..];
        let end = find(content, format!("\r\n{delimiter}").as_bytes())?;
        let mut part = Part {
            name: String::new(),
            filename: None,
            content_type: None,
            body: body.slice_ref(&content[..end]),
        };
        for line in headers.split("\r\n") {
            let (name, value) = line.split_once(':')?;
            match name.trim().to_ascii_lowercase().as_str() {
                "content-disposition" => {
                    for param in value.split(';').map(str::trim) {
                        if let Some(v) = param.strip_prefix("name=") {
                            part.name = v.trim_matches('"').to_string();
                        } else if let Some(v) = param.strip_prefix("filename=") {
                            part.filename = Some(v.trim_matches('"').to_string());
                        }
                    }
                }
                "content-type" => part.content_type = Some(value.trim().to_string()),
                _ => {}
            }
        }
        parts.push(part);
        rest = &content[end + 2 + delimiter.len()..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoded_fields_are_decoded_in_order() {
        let form = Form::parse(b"a=1&b=x+y%26z&a=2&empty=");
        assert_eq!(form.get("a"), Some("1"));
        assert_eq!(form.get("b"), Some("x y&z"));
        assert_eq!(form.text("empty"), "");
        assert_eq!(form.get("missing"), None);
        assert_eq!(form.0.len(), 4);
    }

    #[test]
    fn multipart_parts_carry_their_names_files_and_bytes() {
        let body = Bytes::from_static(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\ntok\r\n\
              --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"export.ndjson\"\r\n\
              Content-Type: application/x-ndjson\r\n\r\n{\"kind\":\"user\"}\n{\"kind\":\"user\"}\n\r\n--XyZ--\r\n",
        );
        let parts = multipart("multipart/form-data; boundary=XyZ", &body).expect("parsed");
        assert_eq!(parts.len(), 2);
        assert_eq!(
            (parts[0].name.as_str(), parts[0].body.as_ref()),
            ("csrf", &b"tok"[..])
        );
        assert_eq!(parts[1].filename.as_deref(), Some("export.ndjson"));
        assert_eq!(
            parts[1].content_type.as_deref(),
            Some("application/x-ndjson")
        );
        assert_eq!(
            parts[1].body.as_ref(),
            b"{\"kind\":\"user\"}\n{\"kind\":\"user\"}\n"
        );
        assert!(
            multipart("multipart/form-data", &body).is_none(),
            "no boundary"
        );
        assert!(multipart("multipart/form-data; boundary=Other", &body).is_none());
        let cut = Bytes::from_static(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end",
        );
        assert!(multipart("multipart/form-data; boundary=XyZ", &cut).is_none());
    }
}
