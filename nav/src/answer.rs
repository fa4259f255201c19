//! The two navigation requests: the commercial client's `POST /v2/navi.json` and our own
//! SDKs' `GET /v1/nav`, both answered from the app's home area and the healthy edges
//! serving it.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use meridian_edge::server_api::directory::AppDirectory;
use meridian_edge::server_api::error::ApiError;
use meridian_edge::server_api::params::Params;
use meridian_edge::token;
use meridian_regions::AreaCode;
use meridian_telemetry::{json_response, PeerAddr};
use serde_json::{json, Value};

use crate::config::{LocationRules, NavArea};
use crate::edges::{EdgeBook, EdgeState};
use crate::metrics::NavMetrics;

/// Everything a request needs.
pub struct Navigator {
    pub directory: AppDirectory,
    pub edges: Arc<EdgeBook>,
    /// Areas this nav answers for, and the others it can name (API and nav hosts).
    pub areas: BTreeMap<AreaCode, NavArea>,
    pub served: Vec<AreaCode>,
    pub location: LocationRules,
    pub heartbeat_ms: u64,
    pub metrics: NavMetrics,
}

/// Why there is no answer.
enum Refusal {
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

/// The edges to use, best first.
struct Answer {
    area: AreaCode,
    edges: Vec<EdgeState>,
}

impl Navigator {
    /// Answers `/v2/navi.json` and `/v1/nav`; `None` for other paths.
    pub async fn handle(&self, request: Request<Bytes>) -> Option<Response<Bytes>> {
        let commercial = match (request.method().as_str(), request.uri().path()) {
            ("POST", "/v2/navi.json") => true,
            ("GET", "/v1/nav") => false,
            _ => return None,
        };
        let started = std::time::Instant::now();
        let outcome = match commercial {
            true => self.navi(&request).await,
            false => self.nav(&request).await,
        };
        let area = match &outcome {
            Ok(answer) => answer.area.as_str(),
            Err(Refusal::WrongArea { home, .. }) => home.as_str(),
            Err(_) => "none",
        };
        let response = match outcome {
            Ok(answer) => {
                let body = match commercial {
                    true => self.commercial_body(&answer),
                    false => self.plain_body(&answer),
                };
                json_response(StatusCode::OK, &body)
            }
            Err(refusal) => json_response(refusal.status(), &refusal.body()),
        };
        self.metrics
            .observe(area, response.status().as_u16(), started.elapsed());
        Some(response)
    }

    /// `POST /v2/navi.json`: header `RC-Appkey`, form `token`, `v`, `platfrom` (sic). The
    /// area is the app's home, which this nav must serve.
    async fn navi(&self, request: &Request<Bytes>) -> Result<Answer, Refusal> {
        let app_key = request
            .headers()
            .get("RC-Appkey")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Refusal::Unauthorized("the RC-Appkey header is missing".into()))?;
        let form =
            Params::parse_form(request.body()).map_err(|e| Refusal::BadRequest(e.to_string()))?;
        let token = form
            .get("token")
            .ok_or_else(|| Refusal::Unauthorized("token is missing".into()))?;
        let home = self.verify(app_key, token).await?;
        self.answer(home, None, request)
    }

    /// `GET /v1/nav?appKey=&token=&area=`: `area` must be the app's home.
    async fn nav(&self, request: &Request<Bytes>) -> Result<Answer, Refusal> {
        let query = Params::parse_form(request.uri().query().unwrap_or_default().as_bytes())
            .map_err(|e| Refusal::BadRequest(e.to_string()))?;
        let app_key = query
            .get("appKey")
            .ok_or_else(|| Refusal::Unauthorized("appKey is missing".into()))?;
        let token = query
            .get("token")
            .ok_or_else(|| Refusal::Unauthorized("token is missing".into()))?;
        let asked = match query.get("area") {
            Some(code) => Some(
                code.parse::<AreaCode>()
                    .map_err(|_| Refusal::BadRequest(format!("unknown area code {code:?}")))?,
            ),
            None => None,
        };
        let home = self.verify(app_key, token).await?;
        self.answer(home, asked, request)
    }

    /// The app's home area, once its key is known and the token verifies.
    async fn verify(&self, app_key: &str, token: &str) -> Result<AreaCode, Refusal> {
        // Clients may append nav hosts after `@`; the token is what comes before.
        let token = token.split('@').next().unwrap_or_default();
        let resolved = match self.directory.resolve(app_key).await {
            Ok(resolved) => resolved,
            Err(ApiError::WrongArea { home, .. }) => return Err(self.wrong_area(home)),
            Err(ApiError::AppKey) => {
                return Err(Refusal::Unauthorized(format!("unknown app key {app_key}")))
            }
            Err(e) => return Err(Refusal::Unavailable(e.to_string())),
        };
        match token::verify(resolved.secret(), token) {
            Ok(claims) if claims.app_key == app_key => Ok(resolved.area),
            _ => Err(Refusal::Unauthorized("token incorrect".into())),
        }
    }

    fn wrong_area(&self, home: AreaCode) -> Refusal {
        let nav = self
            .areas
            .get(&home)
            .map(|a| a.nav.clone())
            .unwrap_or_default();
        Refusal::WrongArea { home, nav }
    }

    fn answer(
        &self,
        home: AreaCode,
        asked: Option<AreaCode>,
        request: &Request<Bytes>,
    ) -> Result<Answer, Refusal> {
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
        Ok(Answer { area: home, edges })
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
        self.areas
            .get(&area)
            .map(|a| a.api.clone())
            .unwrap_or_default()
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

/// `serverAddr`: every edge, best first, weights falling by rank.
fn server_addrs(edges: &[EdgeState]) -> Vec<Value> {
    edges
        .iter()
        .enumerate()
        .map(|(rank, e)| {
            json!({
                "addr": e.host_port(),
                "protocol": if e.tls() { "wss" } else { "ws" },
                "weight": 100usize.saturating_sub(rank * 10).max(1),
            })
        })
        .collect()
}
