//! An admin API call as the router reads it: the operation its method and path name,
//! with its body and query parsed into what that operation takes. Reading touches
//! nothing; [`AdminApi::handle`](super::AdminApi::handle) then carries the operation out.

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use meridian_regions::{AreaCode, CatalogEntry, UnknownAreaCode};
use serde_json::{json, Value};

use super::callback_urls::CallbackUrl;
use super::transfer::{self, Import};
use super::usage::{self, Range};
use super::{client_error, AddMember, CreateApp, CreateUser, Erasure, Rotation};
use crate::state::files::{FileAccess, FileLimits};
use crate::state::push_style::{PushRate, PushStyle, UltraGroupPushPace};
use crate::state::push_templates::PushTemplate;
use crate::state::vendor_push::VendorPush;
use crate::state::{AppLimits, AppSettings, SdkFeatures};

/// Where every operation's path starts.
pub(super) const PREFIX: &str = "/admin/v1";

/// One operation of the table in the module's documentation, with what it acts on: an
/// app key, a user id, a template id, an area.
pub(super) enum Operation {
    ListApps,
    CreateApp(CreateApp),
    GetApp(String),
    DeleteApp(String),
    CreateUser(String, CreateUser),
    EraseUsers(String, Erasure),
    Erasing(String),
    GetUser(String, String),
    /// An export's lines, applied as they are read.
    ImportLines(String, Bytes),
    Import(String, Import),
    Export(String),
    GetSettings(String),
    PutSettings(String, AppSettings),
    GetLimits(String),
    PutLimits(String, AppLimits),
    GetFileLimits(String),
    PutFileLimits(String, FileLimits),
    GetFileAccess(String),
    PutFileAccess(String, FileAccess),
    RotateSecret(String, Rotation),
    GetPushVendors(String),
    PutPushVendors(String, VendorPush),
    GetUltraGroupPush(String),
    PutUltraGroupPush(String, UltraGroupPushPace),
    GetPushTemplates(String),
    /// `None` deletes the template.
    SetPushTemplate(String, String, Option<PushTemplate>),
    GetPushRate(String),
    PutPushRate(String, PushRate),
    GetPushStyle(String),
    PutPushStyle(String, PushStyle),
    GetSdkFeatures(String),
    PutSdkFeatures(String, SdkFeatures),
    GetRtcCallback(String),
    PutRtcCallback(String, Option<String>),
    GetErasureCallback(String),
    PutErasureCallback(String, Option<String>),
    DeadLetters(String),
    RetryDeadLetters(String),
    Usage(String, Range),
    Storage(String),
    ListAreas,
    GetArea(AreaCode),
    PutArea(CatalogEntry),
    DeleteArea(AreaCode),
    ClusterStatus,
    Backup,
    AddMember(AddMember),
    RemoveMember(u64),
}

/// The answer refusing a request (boxed: a response is large).
pub(super) type Refusal = Box<Response<Bytes>>;

impl Operation {
    /// The operation `request` names, or the 400 or 404 answer saying what is wrong
    /// with it. The usage range is read against `now_ms`.
    pub(super) fn read(request: &Request<Bytes>, now_ms: u64) -> Result<Self, Refusal> {
        use Operation as O;
        let path = request.uri().path().trim_end_matches('/');
        let Some(rest) = path.strip_prefix(PREFIX) else {
            return Err(not_found(format!("no such path {path}")));
        };
        let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        let body = request.body();
        let key = |key: &str| key.to_string();
        let method = request.method();
        Ok(match (method, segments.as_slice()) {
            (&Method::GET, ["apps"]) => O::ListApps,
            (&Method::POST, ["apps"]) => O::CreateApp(parse(body)?),
            (&Method::GET, ["apps", app]) => O::GetApp(key(app)),
            (&Method::DELETE, ["apps", app]) => O::DeleteApp(key(app)),
            (&Method::POST, ["apps", app, "users"]) => O::CreateUser(key(app), parse(body)?),
            (&Method::POST, ["apps", app, "users", "erase"]) => {
                O::EraseUsers(key(app), parse(body)?)
            }
            (&Method::GET, ["apps", app, "users", "erasing"]) => O::Erasing(key(app)),
            (&Method::GET, ["apps", app, "users", user]) => O::GetUser(key(app), key(user)),
            (&Method::POST, ["apps", app, "import"]) if transfer::is_json_lines(request) => {
                O::ImportLines(key(app), body.clone())
            }
            (&Method::POST, ["apps", app, "import"]) => O::Import(key(app), parse(body)?),
            (&Method::GET, ["apps", app, "export"]) => O::Export(key(app)),
            (&Method::GET, ["apps", app, "settings"]) => O::GetSettings(key(app)),
            (&Method::PUT, ["apps", app, "settings"]) => O::PutSettings(key(app), parse(body)?),
            (&Method::GET, ["apps", app, "limits"]) => O::GetLimits(key(app)),
            (&Method::PUT, ["apps", app, "limits"]) => O::PutLimits(key(app), parse(body)?),
            (&Method::GET, ["apps", app, "file-limits"]) => O::GetFileLimits(key(app)),
            (&Method::PUT, ["apps", app, "file-limits"]) => {
                O::PutFileLimits(key(app), parse(body)?)
            }
            (&Method::GET, ["apps", app, "file-access"]) => O::GetFileAccess(key(app)),
            (&Method::PUT, ["apps", app, "file-access"]) => {
                O::PutFileAccess(key(app), parse(body)?)
            }
            (&Method::POST, ["apps", app, "secret"]) => O::RotateSecret(key(app), parse(body)?),
            (&Method::GET, ["apps", app, "push-vendors"]) => O::GetPushVendors(key(app)),
            (&Method::PUT, ["apps", app, "push-vendors"]) => {
                O::PutPushVendors(key(app), parse(body)?)
            }
            (&Method::GET, ["apps", app, "ultra-group-push"]) => O::GetUltraGroupPush(key(app)),
            (&Method::PUT, ["apps", app, "ultra-group-push"]) => {
                O::PutUltraGroupPush(key(app), parse(body)?)
            }
            (&Method::GET, ["apps", app, "push-templates"]) => O::GetPushTemplates(key(app)),
            (&Method::PUT, ["apps", app, "push-templates", id]) => {
                O::SetPushTemplate(key(app), key(id), Some(parse(body)?))
            }
            (&Method::DELETE, ["apps", app, "push-templates", id]) => {
                O::SetPushTemplate(key(app), key(id), None)
            }
            (&Method::GET, ["apps", app, "push-rate"]) => O::GetPushRate(key(app)),
            (&Method::PUT, ["apps", app, "push-rate"]) => O::PutPushRate(key(app), parse(body)?),
            (&Method::GET, ["apps", app, "push-style"]) => O::GetPushStyle(key(app)),
            (&Method::PUT, ["apps", app, "push-style"]) => O::PutPushStyle(key(app), parse(body)?),
            (&Method::GET, ["apps", app, "sdk-features"]) => O::GetSdkFeatures(key(app)),
            (&Method::PUT, ["apps", app, "sdk-features"]) => {
                O::PutSdkFeatures(key(app), parse(body)?)
            }
            (&Method::GET, ["apps", app, "rtc-callback"]) => O::GetRtcCallback(key(app)),
            // Where room callbacks go (RTC-01); `null` stops them.
            (&Method::PUT, ["apps", app, "rtc-callback"]) => {
                let CallbackUrl { url } = parse(body)?;
                O::PutRtcCallback(key(app), url)
            }
            (&Method::GET, ["apps", app, "erasure-callback"]) => O::GetErasureCallback(key(app)),
            // Where finished erasures are told (LIFE-02); `null` stops them.
            (&Method::PUT, ["apps", app, "erasure-callback"]) => {
                let CallbackUrl { url } = parse(body)?;
                O::PutErasureCallback(key(app), url)
            }
            (&Method::GET, ["apps", app, "callbacks", "dead-letters"]) => O::DeadLetters(key(app)),
            (&Method::POST, ["apps", app, "callbacks", "dead-letters", "retry"]) => {
                O::RetryDeadLetters(key(app))
            }
            (&Method::GET, ["apps", app, "usage"]) => {
                let range = usage::parse_range(request.uri().query(), now_ms).map_err(invalid)?;
                O::Usage(key(app), range)
            }
            (&Method::GET, ["apps", app, "usage", "storage"]) => O::Storage(key(app)),
            (&Method::GET, ["areas"]) => O::ListAreas,
            (&Method::GET, ["areas", code]) => O::GetArea(area_code(code)?),
            (&Method::PUT, ["areas", code]) => O::PutArea(catalog_entry(area_code(code)?, body)?),
            (&Method::DELETE, ["areas", code]) => O::DeleteArea(area_code(code)?),
            (&Method::GET, ["cluster"]) => O::ClusterStatus,
            (&Method::POST, ["cluster", "backup"]) => O::Backup,
            (&Method::POST, ["cluster", "members"]) => O::AddMember(parse(body)?),
            (&Method::DELETE, ["cluster", "members", id]) => match id.parse::<u64>() {
                Ok(id) => O::RemoveMember(id),
                Err(_) => return Err(invalid(format!("member id {id:?} is not a number"))),
            },
            _ => return Err(not_found(format!("no such operation {method} {path}"))),
        })
    }
}

fn not_found(message: String) -> Refusal {
    Box::new(client_error(StatusCode::NOT_FOUND, "not_found", message))
}

fn invalid(message: impl Into<String>) -> Refusal {
    Box::new(client_error(StatusCode::BAD_REQUEST, "invalid", message))
}

/// The body as `T`, or the 400 answer saying why not.
fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Refusal> {
    serde_json::from_slice(body).map_err(|e| invalid(format!("request body: {e}")))
}

fn area_code(text: &str) -> Result<AreaCode, Refusal> {
    text.parse()
        .map_err(|e: UnknownAreaCode| invalid(e.to_string()))
}

/// A PUT's entry for the path's area (the body may leave its `code` out).
fn catalog_entry(code: AreaCode, body: &[u8]) -> Result<CatalogEntry, Refusal> {
    let mut fields = parse::<serde_json::Map<String, Value>>(body)?;
    let named = fields
        .entry("code")
        .or_insert_with(|| json!(code))
        .as_str()
        .map(str::parse::<AreaCode>);
    if !matches!(named, Some(Ok(named)) if named == code) {
        return Err(invalid(format!(
            "the body's code must be the path's area {code}"
        )));
    }
    parse(&serde_json::to_vec(&fields).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(method: Method, path: &str, body: &str) -> Result<Operation, Refusal> {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Bytes::from(body.to_string()))
            .unwrap();
        Operation::read(&request, 1_700_000_000_000)
    }

    fn refused(method: Method, path: &str, body: &str) -> Option<StatusCode> {
        read(method, path, body)
            .err()
            .map(|refusal| refusal.status())
    }

    #[test]
    fn paths_name_operations_and_what_names_none_is_refused() {
        let user = read(Method::GET, "/admin/v1/apps/k/users/u/", "");
        assert!(matches!(user, Ok(Operation::GetUser(app, user)) if app == "k" && user == "u"));
        let erasing = read(Method::GET, "/admin/v1/apps/k/users/erasing", "");
        assert!(matches!(erasing, Ok(Operation::Erasing(app)) if app == "k"));
        let member = read(Method::DELETE, "/admin/v1/cluster/members/3", "");
        assert!(matches!(member, Ok(Operation::RemoveMember(3))));
        let unset = read(
            Method::PUT,
            "/admin/v1/apps/k/rtc-callback",
            r#"{"url":null}"#,
        );
        assert!(matches!(unset, Ok(Operation::PutRtcCallback(_, None))));

        let bad = Some(StatusCode::BAD_REQUEST);
        assert_eq!(refused(Method::PUT, "/admin/v1/apps/k/limits", "{"), bad);
        assert_eq!(
            refused(Method::DELETE, "/admin/v1/cluster/members/x", ""),
            bad
        );
        let other_area = r#"{"code":"NA"}"#;
        assert_eq!(refused(Method::PUT, "/admin/v1/areas/SG", other_area), bad);
        assert_eq!(refused(Method::GET, "/admin/v1/areas/XX", ""), bad);
        let usage = "/admin/v1/apps/k/usage?by=week";
        assert_eq!(refused(Method::GET, usage, ""), bad);

        let missing = Some(StatusCode::NOT_FOUND);
        assert_eq!(refused(Method::PATCH, "/admin/v1/apps", ""), missing);
        assert_eq!(refused(Method::GET, "/admin/v2/apps", ""), missing);
        assert_eq!(
            refused(Method::GET, "/admin/v1/apps/k/nothing", ""),
            missing
        );
    }
}
