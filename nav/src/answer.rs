//! The navigation requests: the commercial client's `POST /v2/navi.json` (and its 2.x Web
//! SDKs' script form, `GET /navi.js`) and our own SDKs' `GET /v1/nav`, all answered from
//! the app's home area and the healthy edges serving it.

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use meridian_access::directory::AppDirectory;
use meridian_access::error::ApiError;
use meridian_access::params::Params;
use meridian_regions::AreaCode;
use meridian_telemetry::{json_response, PeerAddr};
use serde_json::{json, Value};

use crate::catalog::LiveAreas;
use crate::config::LocationRules;
use crate::cors;
use crate::edges::{EdgeBook, EdgeState};
use crate::metrics::NavMetrics;

/// Everything a request needs.
pub struct Navigator {
    pub directory: AppDirectory,
    pub edges: Arc<EdgeBook>,
    /// Areas this nav answers for, and the others it can name (API and nav hosts).
    pub areas: Arc<LiveAreas>,
    pub served: Vec<AreaCode>,
    pub location: LocationRules,
    pub heartbeat_ms: u64,
    pub metrics: NavMetrics,
}

/// What a navigation request asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NavRequest {
    pub app_key: String,
    /// Without the nav hosts a client may append after `@`.
    pub token: String,
    /// The area the client believes the app lives in (`/v1/nav` only).
    pub area: Option<AreaCode>,
}

impl NavRequest {
    /// `POST /v2/navi.json`: the `RC-Appkey` header, a form body with `token` (and `v`,
    /// `platfrom` (sic), which nav does not need).
    pub fn from_navi(app_key: Option<&[u8]>, body: &[u8]) -> Result<Self, Refusal> {
        let app_key = app_key
            .and_then(|v| std::str::from_utf8(v).ok())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Refusal::Unauthorized("the RC-Appkey header is missing".into()))?;
        let form = Params::parse_form(body).map_err(|e| Refusal::BadRequest(e.to_string()))?;
        Self::new(app_key, form.get("token"), None)
    }

    /// `GET /navi.js?appId=&token=&callBack=`: the request and the script function to
    /// call with the answer (a plain name, so the answer is a call and nothing else).
    pub fn from_script_query(query: &str) -> Result<(Self, String), Refusal> {
        let query =
            Params::parse_form(query.as_bytes()).map_err(|e| Refusal::BadRequest(e.to_string()))?;
        let app_key = query
            .get("appId")
            .filter(|k| !k.is_empty())
            .ok_or_else(|| Refusal::Unauthorized("appId is missing".into()))?;
        let callback = query.get("callBack").unwrap_or_default();
        let plain = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$';
        let is_name = callback.len() <= 64
            && callback.chars().all(plain)
            && callback.chars().next().is_some_and(|c| !c.is_ascii_digit());
        if !is_name {
            return Err(Refusal::BadRequest("callBack must be a plain name".into()));
        }
        Ok((
            Self::new(app_key, query.get("token"), None)?,
            callback.to_string(),
        ))
    }

    /// `GET /v1/nav?appKey=&token=&area=`.
    pub fn from_query(query: &str) -> Result<Self, Refusal> {
        let query =
            Params::parse_form(query.as_bytes()).map_err(|e| Refusal::BadRequest(e.to_string()))?;
        let app_key = query
            .get("appKey")
            .filter(|k| !k.is_empty())
            .ok_or_else(|| Refusal::Unauthorized("appKey is missing".into()))?;
        let area = match query.get("area") {
            Some(code) => Some(
                code.parse::<AreaCode>()
                    .map_err(|_| Refusal::BadRequest(format!("unknown area code {code:?}")))?,
            ),
            None => None,
        };
        Self::new(app_key, query.get("token"), area)
    }

    fn new(app_key: &str, token: Option<&str>, area: Option<AreaCode>) -> Result<Self, Refusal> {
        let token = token
            .map(|t| t.split('@').next().unwrap_or_default())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Refusal::Unauthorized("token is missing".into()))?;
        Ok(Self {
            app_key: app_key.to_string(),
            token: token.to_string(),
            area,
        })
    }
}

/// Why there is no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Unknown app or a token that does not verify: the client reports 31004.
    Unauthorized(String),
    /// The app lives in another area: named, with its nav hosts.
    WrongArea {
        home: AreaCode,
        nav: Vec<String>,
    },
    BadRequest(String),
    /// No healthy edge serves the area right now, or its cluster did not answer.
    Unavailable(String),
}

impl Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Refusal::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Refusal::WrongArea { .. } => StatusCode::MISDIRECTED_REQUEST,
            Refusal::BadRequest(_) => StatusCode::BAD_REQUEST,
            Refusal::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn body(&self) -> Value {
        let code = self.status().as_u16();
        match self {
            Refusal::WrongArea { home, nav } => json!({
                "code": code,
                "error": format!("this app lives in area {home}; ask its nav"),
                "area": home,
                "nav": nav,
            }),
            Refusal::Unauthorized(why) | Refusal::BadRequest(why) | Refusal::Unavailable(why) => {
                json!({ "code": code, "error": why })
            }
        }
    }
}

/// The form a navigation request takes.
#[derive(Clone, Copy)]
enum Form {
    /// `POST /v2/navi.json`: the commercial JSON answer.
    Navi,
    /// `GET /navi.js`: the same answer as a call of the client's function.
    Script,
    /// `GET /v1/nav`: our SDKs' answer.
    Nav,
}

/// The edges to use, best first.
struct Answer {
    area: AreaCode,
    edges: Vec<EdgeState>,
    /// The app keeps its conversation lists on the server for the commercial SDKs.
    realtime_conversations: bool,
}

/// An app whose token verified.
struct VerifiedApp {
    home: AreaCode,
    realtime_conversations: bool,
}

impl Navigator {
    /// Answers `/v2/navi.json` and `/v1/nav` (and their CORS preflights); `None` for
    /// other paths.
    pub async fn handle(&self, request: Request<Bytes>) -> Option<Response<Bytes>> {
        let origin = cors::origin(&request);
        let form = match (request.method().as_str(), request.uri().path()) {
            ("POST", "/v2/navi.json") => Form::Navi,
            ("GET", "/navi.js") => Form::Script,
            ("GET", "/v1/nav") => Form::Nav,
            ("OPTIONS", "/v2/navi.json" | "/v1/nav") => {
                let app_key = cors::app_key(&request);
                return Some(match origin {
                    Some(origin) if !self.origin_allowed(app_key.as_deref(), &origin).await => {
                        cors::refused(&origin)
                    }
                    origin => cors::preflight(origin.as_deref()),
                });
            }
            _ => return None,
        };
        let started = tokio::time::Instant::now();
        if let Some(origin) = &origin {
            let app_key = cors::app_key(&request);
            if !self.origin_allowed(app_key.as_deref(), origin).await {
                let response = cors::refused(origin);
                self.metrics.observe("none", 403, started.elapsed());
                return Some(response);
            }
        }
        let mut callback = String::new();
        let outcome = match form {
            Form::Navi => self.navi(&request).await,
            Form::Script => self.navi_script(&request, &mut callback).await,
            Form::Nav => self.nav(&request).await,
        };
        let area = match &outcome {
            Ok(answer) => answer.area.as_str(),
            Err(Refusal::WrongArea { home, .. }) => home.as_str(),
            Err(_) => "none",
        };
        let response = match outcome {
            Ok(answer) => match form {
                Form::Navi => json_response(StatusCode::OK, &self.commercial_body(&answer)),
                Form::Script => {
                    let call = format!("{callback}({});", self.commercial_body(&answer));
                    Response::builder()
                        .header(http::header::CONTENT_TYPE, "application/javascript")
                        .body(Bytes::from(call))
                        .unwrap_or_else(|_| Response::new(Bytes::new()))
                }
                Form::Nav => json_response(StatusCode::OK, &self.plain_body(&answer)),
            },
            Err(refusal) => json_response(refusal.status(), &refusal.body()),
        };
        let mut response = response;
        if let Some(origin) = &origin {
            cors::allow(&mut response, origin);
        }
        self.metrics
            .observe(area, response.status().as_u16(), started.elapsed());
        Some(response)
    }

    /// `POST /v2/navi.json`: the area is the app's home, which this nav must serve.
    async fn navi(&self, request: &Request<Bytes>) -> Result<Answer, Refusal> {
        let app_key = request.headers().get("RC-Appkey").map(|v| v.as_bytes());
        let asked = NavRequest::from_navi(app_key, request.body())?;
        let app = self.verify(&asked.app_key, &asked.token).await?;
        self.answer(app, None, request)
    }

    /// `GET /navi.js`: as `/v2/navi.json`, asked in a query; sets the script's `callback`.
    async fn navi_script(
        &self,
        request: &Request<Bytes>,
        callback: &mut String,
    ) -> Result<Answer, Refusal> {
        let query = request.uri().query().unwrap_or_default();
        let (asked, name) = NavRequest::from_script_query(query)?;
        *callback = name;
        let app = self.verify(&asked.app_key, &asked.token).await?;
        self.answer(app, None, request)
    }

    /// `GET /v1/nav?appKey=&token=&area=`: `area` must be the app's home.
    async fn nav(&self, request: &Request<Bytes>) -> Result<Answer, Refusal> {
        let asked = NavRequest::from_query(request.uri().query().unwrap_or_default())?;
        let app = self.verify(&asked.app_key, &asked.token).await?;
        self.answer(app, asked.area, request)
    }

    /// The app's home area and switches, once its key is known and the token verifies.
    async fn verify(&self, app_key: &str, token: &str) -> Result<VerifiedApp, Refusal> {
        let resolved = match self.directory.resolve(app_key).await {
            Ok(resolved) => resolved,
            Err(ApiError::WrongArea { home, .. }) => return Err(self.wrong_area(home)),
            Err(ApiError::AppKey) => {
                return Err(Refusal::Unauthorized(format!("unknown app key {app_key}")))
            }
            Err(e) => return Err(Refusal::Unavailable(e.to_string())),
        };
        match resolved.verify_token(token) {
            Ok(claims) if claims.app_key == app_key => Ok(VerifiedApp {
                home: resolved.area,
                realtime_conversations: resolved.sdk_features.realtime_conversations,
            }),
            _ => Err(Refusal::Unauthorized("token incorrect".into())),
        }
    }

    /// Whether a page from `origin` may read nav's answers about `app_key` (MSG-10). An
    /// app nav cannot resolve (unknown, or homed elsewhere) has no list to apply here:
    /// its answer (401, 421) tells nothing about it.
    async fn origin_allowed(&self, app_key: Option<&str>, origin: &str) -> bool {
        let Some(app_key) = app_key else {
            return true;
        };
        match self.directory.resolve(app_key).await {
            Ok(resolved) => resolved.settings.allows_origin(Some(origin)),
            Err(_) => true,
        }
    }

    fn wrong_area(&self, home: AreaCode) -> Refusal {
        let nav = self.areas.get(home).map(|a| a.nav).unwrap_or_default();
        Refusal::WrongArea { home, nav }
    }

    fn answer(
        &self,
        app: VerifiedApp,
        asked: Option<AreaCode>,
        request: &Request<Bytes>,
    ) -> Result<Answer, Refusal> {
        let home = app.home;
        if asked.is_some_and(|asked| asked != home) || !self.served.contains(&home) {
            return Err(self.wrong_area(home));
        }
        let location = self.client_location(request);
        let edges = self.edges.choose(home, location.as_deref());
        if edges.is_empty() {
            return Err(Refusal::Unavailable(format!(
                "no healthy edge serves area {home} right now"
            )));
        }
        Ok(Answer {
            area: home,
            edges,
            realtime_conversations: app.realtime_conversations,
        })
    }

    /// The configured header, else the longest IP prefix matching the peer.
    fn client_location(&self, request: &Request<Bytes>) -> Option<String> {
        let header = request
            .headers()
            .get(self.location.header.as_str())
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty());
        if let Some(location) = header {
            return Some(location.to_string());
        }
        let peer: IpAddr = request.extensions().get::<PeerAddr>()?.0.ip();
        self.location.locate(peer)
    }

    fn api_hosts(&self, area: AreaCode) -> Vec<String> {
        self.areas.get(area).map(|a| a.api).unwrap_or_default()
    }

    /// The commercial SDKs' fields, plus ours.
    fn commercial_body(&self, answer: &Answer) -> Value {
        let first = &answer.edges[0];
        let backup = answer.edges.get(1).unwrap_or(first);
        json!({
            "code": 200,
            "server": first.host_port(),
            "backupServer": backup.host_port(),
            "serverAddr": server_addrs(&answer.edges),
            "openTLS": first.tls(),
            "heartbeatMs": self.heartbeat_ms,
            // Bit 0: the SDK's "real-time conversation" calls are on, and it keeps no
            // conversation list of its own (the app's switch; COMMERCIAL-PROTOCOL.md).
            "sessionMode": u8::from(answer.realtime_conversations),
            // Bit 0: the 5.x SDK syncs ultra groups as Meridian's edges serve them
            // (`pullUgSes`, `pullUgMsg`); without it its ultra-group calls refuse.
            "ugMsg": 1,
            "area": answer.area,
            "apiHosts": self.api_hosts(answer.area),
        })
    }

    fn plain_body(&self, answer: &Answer) -> Value {
        let edges: Vec<Value> = answer
            .edges
            .iter()
            .map(|e| json!({ "ws": e.ws_url(), "location": e.location, "sessions": e.sessions }))
            .collect();
        json!({
            "area": answer.area,
            "primary": edges[0]["ws"],
            "backup": edges.get(1).unwrap_or(&edges[0])["ws"],
            "edges": edges,
            "heartbeatMs": self.heartbeat_ms,
            "api": self.api_hosts(answer.area),
        })
    }
}

/// `serverAddr` transport codes as the commercial Web SDK 5.x reads them (it connects
/// `ws://` for 5 and `wss://` for anything else; COMMERCIAL-PROTOCOL.md).
const TRANSPORT_WS: u8 = 5;
const TRANSPORT_WSS: u8 = 6;

/// `serverAddr`: every edge, best first, weights falling by rank.
fn server_addrs(edges: &[EdgeState]) -> Vec<Value> {
    edges
        .iter()
        .enumerate()
        .map(|(rank, e)| {
            json!({
                "addr": e.host_port(),
                "protocol": if e.tls() { TRANSPORT_WSS } else { TRANSPORT_WS },
                "weight": 100usize.saturating_sub(rank * 10).max(1),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_script_request_names_a_plain_function_only() {
        let (asked, callback) = NavRequest::from_script_query(
            "appId=key1&token=abc%40nav&callBack=getServerEndpoint&v=4.4",
        )
        .unwrap();
        assert_eq!(
            (asked.app_key.as_str(), asked.token.as_str()),
            ("key1", "abc")
        );
        assert_eq!(callback, "getServerEndpoint");
        for bad in ["alert(1)//", "1a", "", "a.b"] {
            let query = format!("appId=key1&token=abc&callBack={bad}");
            assert!(matches!(
                NavRequest::from_script_query(&query),
                Err(Refusal::BadRequest(_))
            ));
        }
    }

    #[test]
    fn requests_parse_and_carried_nav_hosts_are_dropped() {
        let navi =
            NavRequest::from_navi(Some(b"key1"), b"token=abc%40nav1%3Bnav2&v=5.6&platfrom=iOS");
        assert_eq!(
            navi,
            Ok(NavRequest {
                app_key: "key1".into(),
                token: "abc".into(),
                area: None
            })
        );
        let query = NavRequest::from_query("appKey=k&token=t&area=SG-B").unwrap();
        assert_eq!(query.area, Some(AreaCode::SgB));
        assert_eq!(
            NavRequest::from_navi(None, b"token=t"),
            Err(Refusal::Unauthorized(
                "the RC-Appkey header is missing".into()
            ))
        );
        assert!(matches!(
            NavRequest::from_navi(Some(b"k"), b"v=1"),
            Err(Refusal::Unauthorized(_))
        ));
        assert!(matches!(
            NavRequest::from_query("appKey=k&token=t&area=XX"),
            Err(Refusal::BadRequest(_))
        ));
        assert!(matches!(
            NavRequest::from_query("token=t"),
            Err(Refusal::Unauthorized(_))
        ));
    }
}
