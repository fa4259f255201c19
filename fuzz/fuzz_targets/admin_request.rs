//! Admin API requests as an operator's tool or a stranger may send them: a method, a path
//! of the API's own words, area codes, numbers and free text, a query, and a JSON body of
//! the fields its operations take (or bytes that are not JSON), read as
//! `AdminApi::handle` reads them. A request names an operation or is refused with a 400
//! or 404 whose body says why; it never panics.
#![no_main]

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use meridian_client::url_encode;
use serde_json::{Map, Value};

#[derive(Arbitrary, Debug)]
struct Call {
    method: Verb,
    /// Under `/admin/v1`, else under `/api`.
    admin: bool,
    segments: Vec<Segment>,
    trailing_slash: bool,
    query: Vec<(QueryKey, Text)>,
    json_lines: bool,
    body: Body,
}

#[derive(Arbitrary, Debug)]
enum Verb {
    Get,
    Post,
    Put,
    Delete,
    Patch,
}

#[derive(Arbitrary, Debug)]
enum Segment {
    Word(Word),
    Area(AreaName),
    Number(u64),
    Free(Text),
}

/// The words of the API's paths.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Word {
    Apps,
    Users,
    Erase,
    Erasing,
    Import,
    Export,
    Settings,
    Limits,
    FileLimits,
    FileAccess,
    Secret,
    PushVendors,
    UltraGroupPush,
    PushTemplates,
    PushRate,
    PushStyle,
    SdkFeatures,
    RtcCallback,
    ErasureCallback,
    Callbacks,
    DeadLetters,
    Retry,
    Usage,
    Storage,
    Areas,
    Cluster,
    Backup,
    Members,
}

#[derive(Arbitrary, Debug)]
enum AreaName {
    Cn,
    Sg,
    SgB,
    Na,
    Sa,
}

#[derive(Arbitrary, Debug)]
enum QueryKey {
    By,
    From,
    To,
    Other(Text),
}

#[derive(Arbitrary, Debug)]
enum Body {
    Empty,
    Json(Json),
    Raw(Vec<u8>),
}

#[derive(Debug)]
struct Text(String);

impl<'a> Arbitrary<'a> for Text {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(Text(u.arbitrary()?))
    }
}

/// A JSON value at most six levels deep, its object keys mostly the API's field names.
#[derive(Debug)]
struct Json(Value);

impl<'a> Arbitrary<'a> for Json {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        json(u, 6).map(Json)
    }
}

/// Field names of the admin API's bodies.
const FIELDS: &[&str] = &[
    "name",
    "dev",
    "prod",
    "appKey",
    "appSecret",
    "userId",
    "userIds",
    "sentMessages",
    "portraitUri",
    "tags",
    "newSecret",
    "overlapSeconds",
    "url",
    "id",
    "addr",
    "code",
    "nav",
    "api",
    "edges",
    "primary",
    "backup",
    "discovery",
    "static",
    "tls",
    "perSecond",
    "intervalSecs",
    "default",
    "languages",
    "title",
    "body",
    "sound",
    "quietHours",
    "startSecs",
    "periodMinutes",
    "level",
    "realtimeConversations",
    "private",
    "maxBytes",
    "image",
    "gif",
    "voice",
    "video",
    "file",
    "quotaBytes",
    "linkValidDays",
    "stripExif",
    "offlineWindowDays",
    "multiDevice",
    "preJoinHistory",
    "whitelistMode",
    "secureDomains",
    "strictReplay",
    "callbacks",
    "routingUrl",
    "routingTypes",
    "moderation",
    "senders",
    "receivers",
    "conversationTypes",
    "objectNames",
    "timeoutMs",
    "defaultAction",
    "groupMemberCap",
    "multiRoomChatrooms",
    "clientSendsPerSecond",
    "apiRates",
    "retentionDays",
    "group",
    "ultraGroup",
    "chatroom",
    "apps",
    "appId",
    "channels",
    "huawei",
    "xiaomi",
    "oppo",
    "vivo",
    "meizu",
    "honor",
    "masterSecret",
    "packageName",
    "clientId",
    "clientSecret",
    "endpoint",
    "users",
    "groups",
    "members",
    "messages",
    "friends",
    "chatrooms",
    "roomId",
    "entries",
    "sets",
    "kind",
];

fn json(u: &mut Unstructured<'_>, depth: u32) -> arbitrary::Result<Value> {
    let kinds = if depth == 0 { 5 } else { 7 };
    Ok(match u.choose_index(kinds)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => Value::from(u.arbitrary::<i64>()?),
        3 => Value::from(u.arbitrary::<f64>()?),
        4 => Value::String(u.arbitrary()?),
        5 => {
            let mut items = Vec::new();
            while items.len() < 8 && u.arbitrary::<bool>()? {
                items.push(json(u, depth - 1)?);
            }
            Value::Array(items)
        }
        _ => {
            let mut fields = Map::new();
            while fields.len() < 12 && u.arbitrary::<bool>()? {
                let name = if u.ratio(7, 8)? {
                    u.choose(FIELDS)?.to_string()
                } else {
                    u.arbitrary()?
                };
                fields.insert(name, json(u, depth - 1)?);
            }
            Value::Object(fields)
        }
    })
}

impl Word {
    fn text(self) -> &'static str {
        match self {
            Word::Apps => "apps",
            Word::Users => "users",
            Word::Erase => "erase",
            Word::Erasing => "erasing",
            Word::Import => "import",
            Word::Export => "export",
            Word::Settings => "settings",
            Word::Limits => "limits",
            Word::FileLimits => "file-limits",
            Word::FileAccess => "file-access",
            Word::Secret => "secret",
            Word::PushVendors => "push-vendors",
            Word::UltraGroupPush => "ultra-group-push",
            Word::PushTemplates => "push-templates",
            Word::PushRate => "push-rate",
            Word::PushStyle => "push-style",
            Word::SdkFeatures => "sdk-features",
            Word::RtcCallback => "rtc-callback",
            Word::ErasureCallback => "erasure-callback",
            Word::Callbacks => "callbacks",
            Word::DeadLetters => "dead-letters",
            Word::Retry => "retry",
            Word::Usage => "usage",
            Word::Storage => "storage",
            Word::Areas => "areas",
            Word::Cluster => "cluster",
            Word::Backup => "backup",
            Word::Members => "members",
        }
    }
}

impl Call {
    fn request(&self) -> Request<Bytes> {
        let mut path = String::from(if self.admin { "/admin/v1" } else { "/api" });
        for segment in &self.segments {
            path.push('/');
            match segment {
                Segment::Word(word) => path.push_str(word.text()),
                Segment::Area(area) => path.push_str(match area {
                    AreaName::Cn => "CN",
                    AreaName::Sg => "SG",
                    AreaName::SgB => "SG-B",
                    AreaName::Na => "NA",
                    AreaName::Sa => "SA",
                }),
                Segment::Number(n) => path.push_str(&n.to_string()),
                Segment::Free(text) => path.push_str(&url_encode(&text.0)),
            }
        }
        if self.trailing_slash {
            path.push('/');
        }
        if !self.query.is_empty() {
            let pairs: Vec<String> = self
                .query
                .iter()
                .map(|(key, value)| {
                    let key = match key {
                        QueryKey::By => "by".to_string(),
                        QueryKey::From => "from".to_string(),
                        QueryKey::To => "to".to_string(),
                        QueryKey::Other(text) => url_encode(&text.0),
                    };
                    format!("{key}={}", url_encode(&value.0))
                })
                .collect();
            path = format!("{path}?{}", pairs.join("&"));
        }
        let method = match self.method {
            Verb::Get => Method::GET,
            Verb::Post => Method::POST,
            Verb::Put => Method::PUT,
            Verb::Delete => Method::DELETE,
            Verb::Patch => Method::PATCH,
        };
        let body = match &self.body {
            Body::Empty => Bytes::new(),
            Body::Json(json) => Bytes::from(json.0.to_string()),
            Body::Raw(bytes) => Bytes::from(bytes.clone()),
        };
        let content_type = if self.json_lines {
            "application/x-ndjson"
        } else {
            "application/json"
        };
        Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::CONTENT_TYPE, content_type)
            .body(body)
            .expect("a path of URL-encoded segments is a URI")
    }
}

fuzz_target!(|call: Call| {
    let request = call.request();
    let Some(refusal) = meridian_cluster::admin::refusal(&request) else {
        return;
    };
    // Refused with a client error that says what is wrong.
    let status = refusal.status();
    assert!(
        status == StatusCode::BAD_REQUEST || status == StatusCode::NOT_FOUND,
        "{status}"
    );
    let body: Value = serde_json::from_slice(refusal.body()).expect("a JSON refusal");
    let code = body["code"].as_str().expect("a code");
    assert_eq!(code == "not_found", status == StatusCode::NOT_FOUND);
    assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    if !call.admin {
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
});
