//! Request parameters of the Server API: lenient `application/x-www-form-urlencoded`
//! parsing and typed accessors, plus the JSON body reader (`shared/server-api/COMPAT.md`,
//! "Bodies").
//!
//! Parsing is lenient because one published SDK does not URL-encode form values at all:
//! raw spaces, `:`, `/` and `%` must come through unchanged. Only `&` and `=` inside such
//! values (and a literal `+`, which reads as a space) cannot be recovered.

use std::str::FromStr;

use crate::error::ApiError;

/// The ordered (key, value) pairs of a form body. Repeated keys are kept in order
/// because the Server API sends arrays as repeated keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parses a form body leniently: split on `&`, then on the first `=`; `+` is a space;
    /// `%XX` with two hex digits is decoded, any other `%` is kept as is; empty segments
    /// are skipped; a key without `=` gets the value "". An empty body yields no pairs
    /// (whether that is an error is the handler's call).
    pub fn parse_form(body: &[u8]) -> Result<Params, ApiError> {
        let mut pairs = Vec::new();
        for segment in body.split(|&b| b == b'&') {
            if segment.is_empty() {
                continue;
            }
            let (raw_key, raw_value) = match segment.iter().position(|&b| b == b'=') {
                Some(eq) => (&segment[..eq], &segment[eq + 1..]),
                None => (segment, &[][..]),
            };
            let key_bytes = decode(raw_key);
            let value_bytes = decode(raw_value);
            let key = match String::from_utf8(key_bytes) {
                Ok(key) => key,
                Err(e) => {
                    // Name the key as best we can; the bytes are not text.
                    let shown = String::from_utf8_lossy(e.as_bytes()).into_owned();
                    return Err(ApiError::param(format!(
                        "parameter name {shown} is not valid UTF-8"
                    )));
                }
            };
            let value = String::from_utf8(value_bytes)
                .map_err(|_| ApiError::param(format!("{key} is not valid UTF-8")))?;
            pairs.push((key, value));
        }
        Ok(Params { pairs })
    }

    /// All pairs, in body order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// True when the body held no pairs at all.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, in body order (arrays are repeated keys).
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The first value of `key`; missing or empty is a parameter error, as the commercial
    /// service treats an empty required field the same as an absent one.
    pub fn required(&self, key: &str) -> Result<&str, ApiError> {
        match self.get(key) {
            Some(value) if !value.is_empty() => Ok(value),
            _ => Err(ApiError::missing(key)),
        }
    }

    /// The non-empty values of `key`, in order; at least one is required. Empty entries
    /// are dropped because they cannot name anything (e.g. a trailing `toUserId=`).
    pub fn required_all(&self, key: &str) -> Result<Vec<&str>, ApiError> {
        let values: Vec<&str> = self
            .all(key)
            .into_iter()
            .filter(|v| !v.is_empty())
            .collect();
        if values.is_empty() {
            Err(ApiError::missing(key))
        } else {
            Ok(values)
        }
    }

    /// As [`Params::required_all`], refusing more than `max` values (1502).
    pub fn required_at_most(&self, key: &str, max: usize) -> Result<Vec<&str>, ApiError> {
        let values = self.required_all(key)?;
        if values.len() > max {
            return Err(ApiError::CountOverLimit {
                what: format!("{key} values"),
                limit: max as u64,
            });
        }
        Ok(values)
    }

    /// `(id, value)` for every `prefix[<id>]=<value>` pair, in body order, e.g.
    /// `chatroom[room1]=Room One` or `group[g1]=name`. Ids are returned as sent (possibly
    /// empty); validating them is the handler's job.
    pub fn bracketed(&self, prefix: &str) -> Vec<(String, String)> {
        self.pairs
            .iter()
            .filter_map(|(k, v)| {
                let id = k
                    .strip_prefix(prefix)?
                    .strip_prefix('[')?
                    .strip_suffix(']')?;
                Some((id.to_owned(), v.clone()))
            })
            .collect()
    }

    /// A boolean flag: `1`/`0`/`true`/`false` (any case). Absent or empty → `default`.
    pub fn bool_flag(&self, key: &str, default: bool) -> Result<bool, ApiError> {
        flag(key, self.get(key), default)
    }

    /// A number. Absent or empty → `None`; present but not a `T` → parameter error
    /// naming the key.
    pub fn int<T: FromStr>(&self, key: &str) -> Result<Option<T>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse::<T>()
                .map(Some)
                .map_err(|_| ApiError::param(format!("{key} must be a number in range"))),
        }
    }

    /// The first value of `key`, refused with `TooLong` when it has more than `max_chars`
    /// characters (characters, not bytes: limits in the docs count characters).
    pub fn bounded(&self, key: &str, max_chars: usize) -> Result<Option<&str>, ApiError> {
        match self.get(key) {
            // Cheap exit first: a string never has more chars than bytes.
            Some(v) if v.len() > max_chars && v.chars().count() > max_chars => {
                Err(ApiError::TooLong(key.to_owned()))
            }
            other => Ok(other),
        }
    }

    /// The ids of `key`, as repeated keys, comma separated or both (all are seen in the
    /// wild): 1 to `max` of them (1502 over).
    pub fn required_ids(&self, key: &str, max: usize) -> Result<Vec<String>, ApiError> {
        let ids: Vec<String> = self
            .all(key)
            .iter()
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(str::to_string)
            .collect();
        if ids.is_empty() {
            return Err(ApiError::missing(key));
        }
        if ids.len() > max {
            return Err(ApiError::CountOverLimit {
                what: format!("{key} values"),
                limit: max as u64,
            });
        }
        Ok(ids)
    }
}

/// A JSON body's list of strings `name`.
pub fn json_strings(value: &serde_json::Value, name: &str) -> Result<Vec<String>, ApiError> {
    value
        .get(name)
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| ApiError::missing(name))?
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| ApiError::param(format!("{name} must hold strings")))
        })
        .collect()
}

/// A JSON body's list of strings `name`: 1 to `max` of them.
pub fn json_strings_at_most(
    value: &serde_json::Value,
    name: &str,
    max: usize,
) -> Result<Vec<String>, ApiError> {
    let strings = json_strings(value, name)?;
    if strings.is_empty() {
        return Err(ApiError::missing(name));
    }
    if strings.len() > max {
        return Err(ApiError::CountOverLimit {
            what: name.into(),
            limit: max as u64,
        });
    }
    Ok(strings)
}

/// Parses a JSON body (the JSON-bodied paths listed in COMPAT.md). An empty or
/// whitespace-only body is `NoBody`; anything unparsable is a parameter error.
pub fn json_body(body: &[u8]) -> Result<serde_json::Value, ApiError> {
    if body.trim_ascii().is_empty() {
        return Err(ApiError::NoBody);
    }
    serde_json::from_slice(body).map_err(|e| ApiError::param(format!("invalid JSON body: {e}")))
}

/// A flag's value as the SDKs send it: `1`/`0` or `true`/`false` (any case); absent or
/// empty → `default`.
pub fn flag(key: &str, value: Option<&str>, default: bool) -> Result<bool, ApiError> {
    match value {
        None | Some("") => Ok(default),
        Some("1") => Ok(true),
        Some("0") => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(ApiError::param(format!(
            "{key} must be one of 1, 0, true, false"
        ))),
    }
}

/// A percent-encoded text decoded leniently (see [`decode`]), when the result is UTF-8.
pub fn percent_decoded(text: &str) -> Option<String> {
    String::from_utf8(decode(text.as_bytes())).ok()
}

/// Lenient percent-decoding: `+` → space, `%XX` with valid hex → that byte, any other
/// `%` kept literally (unencoded SDKs send raw `%`).
fn decode(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut rest = raw;
    while let Some((&b, tail)) = rest.split_first() {
        match b {
            b'+' => {
                out.push(b' ');
                rest = tail;
            }
            b'%' => match tail {
                [hi, lo, after @ ..] => match (hex_value(*hi), hex_value(*lo)) {
                    (Some(hi), Some(lo)) => {
                        out.push(hi << 4 | lo);
                        rest = after;
                    }
                    _ => {
                        out.push(b'%');
                        rest = tail;
                    }
                },
                _ => {
                    out.push(b'%');
                    rest = tail;
                }
            },
            _ => {
                out.push(b);
                rest = tail;
            }
        }
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Params {
        Params::parse_form(body.as_bytes()).unwrap()
    }

    #[test]
    fn encoded_body_from_the_docs() {
        let p =
            parse("userId=jlk456j5&name=Ironman&portraitUri=http%3A%2F%2Fabc.com%2Fmyportrait.jpg");
        assert_eq!(p.get("userId"), Some("jlk456j5"));
        assert_eq!(p.get("name"), Some("Ironman"));
        assert_eq!(p.get("portraitUri"), Some("http://abc.com/myportrait.jpg"));
        assert_eq!(p.pairs().len(), 3);
    }

    #[test]
    fn raw_unencoded_values_pass_through() {
        let p = parse(r#"fromUserId=u1&content={"content":"a b:c/d"}&pushData=x y"#);
        assert_eq!(p.get("content"), Some(r#"{"content":"a b:c/d"}"#));
        assert_eq!(p.get("pushData"), Some("x y"));
    }

    #[test]
    fn plus_is_space_and_encoded_plus_is_plus() {
        let p = parse("name=Iron+Man&tag=a%2Bb&raw=c+%2B+d");
        assert_eq!(p.get("name"), Some("Iron Man"));
        assert_eq!(p.get("tag"), Some("a+b"));
        assert_eq!(p.get("raw"), Some("c + d"));
    }

    #[test]
    fn invalid_percent_sequences_are_kept() {
        let p = parse(r#"content={"content":"100% sure"}&a=%zz&b=%4&c=%&d=50%25&e=%4g1"#);
        assert_eq!(p.get("content"), Some(r#"{"content":"100% sure"}"#));
        assert_eq!(p.get("a"), Some("%zz"));
        assert_eq!(p.get("b"), Some("%4"));
        assert_eq!(p.get("c"), Some("%"));
        assert_eq!(p.get("d"), Some("50%"));
        assert_eq!(p.get("e"), Some("%4g1"));
    }

    #[test]
    fn percent_decodes_utf8_and_mixed_case_hex() {
        let p = parse("name=%E4%BD%A0%e5%a5%bd&raw=你好");
        assert_eq!(p.get("name"), Some("你好"));
        assert_eq!(p.get("raw"), Some("你好"));
    }

    #[test]
    fn keys_are_decoded_too() {
        let p = parse("chatroom%5Br1%5D=Room+One");
        assert_eq!(
            p.bracketed("chatroom"),
            vec![("r1".into(), "Room One".into())]
        );
    }

    #[test]
    fn empty_segments_skipped_and_keys_without_equals() {
        let p = parse("&&a=1&&flag&b=&=v&");
        assert_eq!(
            p.pairs(),
            &[
                ("a".to_owned(), "1".to_owned()),
                ("flag".to_owned(), String::new()),
                ("b".to_owned(), String::new()),
                (String::new(), "v".to_owned()),
            ]
        );
        assert_eq!(p.get("flag"), Some(""));
    }

    #[test]
    fn only_first_equals_splits() {
        let p = parse("extra=a=b=c");
        assert_eq!(p.get("extra"), Some("a=b=c"));
    }

    #[test]
    fn empty_body_is_not_an_error() {
        let p = Params::parse_form(b"").unwrap();
        assert!(p.is_empty());
        assert_eq!(p.get("x"), None);
        assert_eq!(p.required("x"), Err(ApiError::missing("x")));
    }

    #[test]
    fn non_utf8_value_refused_naming_the_key() {
        match Params::parse_form(b"ok=1&userId=%FF%FE") {
            Err(ApiError::Param(m)) => assert!(m.contains("userId"), "{m}"),
            other => panic!("expected Param error, got {other:?}"),
        }
        // Raw (unencoded) invalid bytes as well.
        match Params::parse_form(b"name=\xC3\x28") {
            Err(ApiError::Param(m)) => assert!(m.contains("name"), "{m}"),
            other => panic!("expected Param error, got {other:?}"),
        }
        // A non-UTF-8 key is refused too.
        assert!(matches!(
            Params::parse_form(b"k%FF=1"),
            Err(ApiError::Param(_))
        ));
    }

    #[test]
    fn repeated_keys_keep_order() {
        let p = parse("toUserId=a&x=1&toUserId=b&toUserId=&toUserId=c");
        assert_eq!(p.get("toUserId"), Some("a"));
        assert_eq!(p.all("toUserId"), vec!["a", "b", "", "c"]);
        assert_eq!(p.required_all("toUserId").unwrap(), vec!["a", "b", "c"]);
        assert!(p.all("none").is_empty());
    }

    #[test]
    fn required_rules() {
        let p = parse("a=1&b=&c=&c=2&d=");
        assert_eq!(p.required("a"), Ok("1"));
        assert_eq!(p.required("b"), Err(ApiError::missing("b")));
        assert_eq!(p.required("missing"), Err(ApiError::missing("missing")));
        // First occurrence decides for `required`.
        assert_eq!(p.required("c"), Err(ApiError::missing("c")));
        assert_eq!(p.required_all("c").unwrap(), vec!["2"]);
        assert_eq!(p.required_all("d"), Err(ApiError::missing("d")));
        assert_eq!(p.required_all("missing"), Err(ApiError::missing("missing")));
    }

    #[test]
    fn bracketed_pairs() {
        let p = parse(
            "userId=u1&chatroom[room1]=Room+One&chatroom[room 2]=Two&group[g1]=name\
             &chatroom=plain&chatroomX[r]=no&chatroom[open=bad&chatroom[]=empty",
        );
        assert_eq!(
            p.bracketed("chatroom"),
            vec![
                ("room1".to_owned(), "Room One".to_owned()),
                ("room 2".to_owned(), "Two".to_owned()),
                (String::new(), "empty".to_owned()),
            ]
        );
        assert_eq!(
            p.bracketed("group"),
            vec![("g1".to_owned(), "name".to_owned())]
        );
        assert!(p.bracketed("user").is_empty());
    }

    #[test]
    fn bool_flags() {
        let p = parse("a=1&b=0&c=TRUE&d=False&e=yes&f=&g=2");
        assert_eq!(p.bool_flag("a", false), Ok(true));
        assert_eq!(p.bool_flag("b", true), Ok(false));
        assert_eq!(p.bool_flag("c", false), Ok(true));
        assert_eq!(p.bool_flag("d", true), Ok(false));
        assert_eq!(p.bool_flag("f", true), Ok(true));
        assert_eq!(p.bool_flag("missing", false), Ok(false));
        assert_eq!(p.bool_flag("missing", true), Ok(true));
        for key in ["e", "g"] {
            match p.bool_flag(key, false) {
                Err(ApiError::Param(m)) => assert!(m.contains(key), "{m}"),
                other => panic!("expected Param error, got {other:?}"),
            }
        }
    }

    #[test]
    fn integers() {
        let p = parse("count=42&neg=-3&bad=4x&big=300&empty=");
        assert_eq!(p.int::<u32>("count"), Ok(Some(42)));
        assert_eq!(p.int::<i64>("neg"), Ok(Some(-3)));
        assert_eq!(p.int::<u32>("missing"), Ok(None));
        assert_eq!(p.int::<u32>("empty"), Ok(None));
        for (key, result) in [
            ("bad", p.int::<u32>("bad")),
            ("big", p.int::<u8>("big").map(|v| v.map(u32::from))),
        ] {
            match result {
                Err(ApiError::Param(m)) => assert!(m.contains(key), "{m}"),
                other => panic!("expected Param error, got {other:?}"),
            }
        }
        assert!(matches!(p.int::<u32>("neg"), Err(ApiError::Param(_))));
    }

    #[test]
    fn bounded_counts_chars_not_bytes() {
        // 4 chars, 12 bytes.
        let p = parse("name=%E4%BD%A0%E5%A5%BD%E4%BD%A0%E5%A5%BD&ascii=abcde");
        assert_eq!(p.bounded("name", 4), Ok(Some("你好你好")));
        assert_eq!(p.bounded("name", 3), Err(ApiError::TooLong("name".into())));
        assert_eq!(p.bounded("ascii", 5), Ok(Some("abcde")));
        assert_eq!(
            p.bounded("ascii", 4),
            Err(ApiError::TooLong("ascii".into()))
        );
        assert_eq!(p.bounded("missing", 1), Ok(None));
    }

    #[test]
    fn json_bodies() {
        assert_eq!(json_body(b""), Err(ApiError::NoBody));
        assert_eq!(json_body(b" \r\n"), Err(ApiError::NoBody));
        let v = json_body(br#"{"userId":"u1","tags":["a","b"]}"#).unwrap();
        assert_eq!(v["userId"], "u1");
        assert_eq!(v["tags"][1], "b");
        match json_body(b"{\"userId\":") {
            Err(ApiError::Param(m)) => assert!(m.contains("EOF"), "{m}"),
            other => panic!("expected Param error, got {other:?}"),
        }
        assert_eq!(json_body(b"{nope}").map_err(|e| e.code().0), Err(1002));
    }
}
