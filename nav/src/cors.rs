//! CORS for web pages (WEB-02): a browser page may ask nav for edges from the origins its
//! app lists as secure domains (MSG-10), the same origins the edge lets open sessions; an
//! app listing none allows every origin, as its sessions do. Requests without `Origin`
//! are not from browsers and get no CORS headers.

use bytes::Bytes;
use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE, ALLOW, ORIGIN, VARY,
};
use http::{HeaderValue, Request, Response, StatusCode};
use meridian_telemetry::json_response;
use serde_json::json;

/// What a page may send: the commercial SDK's `RC-Appkey` and `RC-Negotiate` (5.x sends
/// it with every navigation request) headers and a form body.
const ALLOWED_HEADERS: &str = "RC-Appkey, RC-Negotiate, Content-Type";
const ALLOWED_METHODS: &str = "GET, POST, OPTIONS";
/// How long a browser may reuse a preflight's answer (seconds).
const PREFLIGHT_MAX_AGE: &str = "600";

/// The request's `Origin`, if it came from a browser page.
pub fn origin(request: &Request<Bytes>) -> Option<String> {
    request
        .headers()
        .get(ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// The app key a navigation request names: `appKey` in `/v1/nav`'s query, or the
/// `RC-Appkey` header of `/v2/navi.json` (absent from preflights, which carry no headers
/// of the request they announce).
pub fn app_key(request: &Request<Bytes>) -> Option<String> {
    if let Some(key) = request.headers().get("RC-Appkey") {
        return key.to_str().ok().map(str::to_owned);
    }
    let query = request.uri().query()?;
    meridian_access::params::Params::parse_form(query.as_bytes())
        .ok()?
        .get("appKey")
        .map(str::to_owned)
}

/// Lets `origin` read `response`.
pub fn allow(response: &mut Response<Bytes>, origin: &str) {
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    // The answer depends on the origin: caches must not hand it to another.
    headers.insert(VARY, HeaderValue::from_static("Origin"));
}

/// The answer to a preflight that the app allows (or that names no app: the request it
/// announces is checked when it comes).
pub fn preflight(origin: Option<&str>) -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(ALLOW, HeaderValue::from_static(ALLOWED_METHODS));
    if let Some(origin) = origin {
        headers.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOWED_METHODS),
        );
        headers.insert(
            ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOWED_HEADERS),
        );
        headers.insert(
            ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(PREFLIGHT_MAX_AGE),
        );
        allow(&mut response, origin);
    }
    response
}

/// The refusal of a page whose origin the app does not list: no CORS headers, so the
/// browser hands the page nothing.
pub fn refused(origin: &str) -> Response<Bytes> {
    json_response(
        StatusCode::FORBIDDEN,
        &json!({
            "code": 403,
            "error": format!("origin {origin} is not one of the app's secure domains"),
        }),
    )
}
