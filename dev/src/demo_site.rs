//! The web chat demo (WEB-05) as `meridian dev` serves it: the JavaScript SDK's build
//! (`sdk/js/dist`: the demo page under `/demo/`, the SDK's modules under `/src/`), what
//! the page needs to know (`/demo/config.json`: each area's dev app key and the navs),
//! and a token helper (`POST /demo/token`) that asks the area's Server API for a user's
//! token signed as the dev app's server would, so the page never holds an App Secret;
//! `POST /demo/join` plays the app server's part in putting a user into a group, an ultra
//! group or a chatroom (clients cannot create those).
//! It exists only here: no production process serves tokens to whoever asks.
//! The page is on its own origin, so it reaches nav across origins as any web app does.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::FutureExt;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use http::{Method, Request, Response, StatusCode};
use meridian_telemetry::{json_response, AdminHooks, AdminServer, Running};
use prometheus::Registry;
use serde::Deserialize;
use serde_json::json;

use crate::endpoints::AppCredentials;

/// `sdk/js/dist` of the source tree this binary was built from: where `npm run build`
/// puts the SDK and the demo.
pub fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk/js/dist")
}

/// What the page is told when the SDK has not been built.
const NOT_BUILT: &str = "The web demo is not built. Build it once with\n\n  \
    cd sdk/js && npm ci && npm run build\n\nthen reload this page (meridian dev serves \
    sdk/js/dist, or the directory given with --demo-dir).\n";

/// One area as the page sees it.
pub struct DemoArea {
    pub area: String,
    /// The area's Server API base URL.
    pub api: String,
    /// The demo app's `dev` environment.
    pub app: AppCredentials,
}

struct Site {
    /// `sdk/js/dist`: `demo/` and `src/` below it.
    root: PathBuf,
    areas: Vec<DemoArea>,
    navs: Vec<String>,
}

pub struct DemoSite {
    server: Running,
}

impl DemoSite {
    pub async fn start(
        listen: &str,
        root: PathBuf,
        areas: Vec<DemoArea>,
        navs: Vec<String>,
    ) -> anyhow::Result<Self> {
        let listener = meridian_telemetry::listen("demo", listen).await?;
        let site = Site { root, areas, navs };
        let server = AdminServer::new(Registry::new(), Arc::new(site)).body_limit(4096);
        Ok(Self {
            server: server.spawn(listener, "demo site")?,
        })
    }

    /// The page: `http://<addr>/demo/`.
    pub fn url(&self) -> String {
        format!("http://{}/demo/", self.server.addr())
    }

    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

impl AdminHooks for Site {
    fn stats(&self) -> serde_json::Value {
        json!({ "component": "demo" })
    }

    fn route(&self, request: Request<Bytes>) -> BoxFuture<'static, Response<Bytes>> {
        let path = request.uri().path().to_string();
        match (request.method().clone(), path.as_str()) {
            (Method::GET, "/") => futures::future::ready(redirect("/demo/")).boxed(),
            (Method::GET, "/demo/config.json") => {
                futures::future::ready(json_response(StatusCode::OK, &self.config())).boxed()
            }
            (Method::POST, "/demo/token") => {
                let (areas, body) = (self.token_targets(), request.into_body());
                async move { token(&areas, &body).await }.boxed()
            }
            (Method::POST, "/demo/join") => {
                let (areas, body) = (self.token_targets(), request.into_body());
                async move { join(&areas, &body).await }.boxed()
            }
            (Method::GET, _) => futures::future::ready(self.file(&path)).boxed(),
            _ => {
                futures::future::ready(error(StatusCode::METHOD_NOT_ALLOWED, "GET or POST")).boxed()
            }
        }
    }
}

impl Site {
    fn config(&self) -> serde_json::Value {
        let areas: Vec<_> = self
            .areas
            .iter()
            .map(|a| json!({ "area": a.area, "appKey": a.app.app_key }))
            .collect();
        json!({ "areas": areas, "navs": self.navs })
    }

    /// Each area's Server API and dev credentials, owned for the token call.
    fn token_targets(&self) -> Vec<(String, String, AppCredentials)> {
        self.areas
            .iter()
            .map(|a| (a.area.clone(), a.api.clone(), a.app.clone()))
            .collect()
    }

    /// A file below the root; `/demo/` is the page. Paths leaving the root are refused.
    fn file(&self, path: &str) -> Response<Bytes> {
        let relative = match path {
            "/demo" | "/demo/" => "demo/index.html",
            _ => path.trim_start_matches('/'),
        };
        let relative = Path::new(relative);
        if relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return error(StatusCode::NOT_FOUND, "not found");
        }
        match std::fs::read(self.root.join(relative)) {
            Ok(bytes) => {
                let mut response = Response::new(Bytes::from(bytes));
                let headers = response.headers_mut();
                headers.insert(
                    CONTENT_TYPE,
                    content_type(relative).parse().expect("static"),
                );
                // A rebuilt SDK shows on the next reload.
                headers.insert(CACHE_CONTROL, "no-cache".parse().expect("static"));
                response
            }
            Err(_) if relative == Path::new("demo/index.html") => {
                let mut response = Response::new(Bytes::from_static(NOT_BUILT.as_bytes()));
                *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                response
            }
            Err(_) => error(StatusCode::NOT_FOUND, "not found"),
        }
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenRequest {
    area: String,
    user_id: String,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JoinRequest {
    area: String,
    user_id: String,
    /// 3 group, 4 chatroom, 10 ultra group.
    conversation_type: u8,
    target_id: String,
}

/// `/user/getToken.json` for the page's user, signed with the area's dev app; the Server
/// API checks the user id as it checks an app server's.
async fn token(areas: &[(String, String, AppCredentials)], body: &[u8]) -> Response<Bytes> {
    let request: TokenRequest = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("expected {{area, userId}}: {e}"),
            )
        }
    };
    let mut pairs = vec![("userId", request.user_id.as_str())];
    if !request.name.is_empty() {
        pairs.push(("name", request.name.as_str()));
    }
    server_api(areas, &request.area, "/user/getToken.json", &pairs).await
}

/// The Server API calls an app server makes to let a user into a conversation: a group
/// join creates the group; an ultra group or a chatroom is created first (an existing one
/// refuses that, and the join that follows is what counts).
async fn join(areas: &[(String, String, AppCredentials)], body: &[u8]) -> Response<Bytes> {
    let request: JoinRequest = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(e) => {
            let expected = "expected {area, userId, conversationType, targetId}";
            return error(StatusCode::BAD_REQUEST, &format!("{expected}: {e}"));
        }
    };
    let (area, user, target) = (
        &request.area,
        request.user_id.as_str(),
        request.target_id.as_str(),
    );
    match request.conversation_type {
        3 => {
            let pairs = [("userId", user), ("groupId", target), ("groupName", target)];
            server_api(areas, area, "/group/join.json", &pairs).await
        }
        10 => {
            let pairs = [("userId", user), ("groupId", target), ("groupName", target)];
            let created = server_api(areas, area, "/ultragroup/create.json", &pairs).await;
            if created.status() == StatusCode::OK && created_ok(&created) {
                return created;
            }
            let pairs = [("userId", user), ("groupId", target)];
            server_api(areas, area, "/ultragroup/join.json", &pairs).await
        }
        4 => {
            let pairs = [("chatroomId", target)];
            let created = server_api(areas, area, "/chatroom/create_new.json", &pairs).await;
            if created.status().is_server_error() {
                return created;
            }
            json_response(StatusCode::OK, &json!({ "code": 200 }))
        }
        other => error(
            StatusCode::BAD_REQUEST,
            &format!("conversationType {other}: 3 (group), 4 (chatroom) or 10 (ultra group)"),
        ),
    }
}

/// Whether a Server API answer's body says `code: 200`.
fn created_ok(answer: &Response<Bytes>) -> bool {
    serde_json::from_slice::<serde_json::Value>(answer.body()).is_ok_and(|body| body["code"] == 200)
}

/// One Server API call of `area`'s dev app, answered as the Server API answered it.
async fn server_api(
    areas: &[(String, String, AppCredentials)],
    area: &str,
    path: &str,
    pairs: &[(&str, &str)],
) -> Response<Bytes> {
    let Some((_, api, app)) = areas.iter().find(|(code, _, _)| code == area) else {
        return error(StatusCode::NOT_FOUND, &format!("no area {area}"));
    };
    let form = meridian_client::server_api::form(pairs);
    let answer = meridian_client::server_api::post_form_answer(
        api,
        &app.app_key,
        &app.app_secret,
        path,
        &form,
        0,
    )
    .await;
    match answer {
        Ok(answer) => {
            let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap_or_default();
            let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
            json_response(status, &body)
        }
        Err(e) => error(StatusCode::BAD_GATEWAY, &e.to_string()),
    }
}

fn redirect(to: &'static str) -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = StatusCode::FOUND;
    response
        .headers_mut()
        .insert(LOCATION, to.parse().expect("static"));
    response
}

fn error(status: StatusCode, message: &str) -> Response<Bytes> {
    json_response(status, &json!({ "error": message }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(root: &Path) -> Site {
        Site {
            root: root.to_path_buf(),
            areas: Vec::new(),
            navs: Vec::new(),
        }
    }

    #[test]
    fn files_are_served_from_the_root_only_and_an_unbuilt_demo_says_how_to_build_it() {
        let dir = tempfile::tempdir().unwrap();
        let site = site(dir.path());
        let unbuilt = site.file("/demo/");
        assert_eq!(unbuilt.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(String::from_utf8_lossy(unbuilt.body()).contains("npm run build"));

        std::fs::create_dir_all(dir.path().join("demo")).unwrap();
        std::fs::write(dir.path().join("demo/index.html"), "<p>chat</p>").unwrap();
        std::fs::write(dir.path().join("secret"), "x").unwrap();
        let page = site.file("/demo/");
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(page.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(page.body().as_ref(), b"<p>chat</p>");
        assert_eq!(site.file("/demo/../secret").status(), StatusCode::NOT_FOUND);
        assert_eq!(
            site.file("/demo/missing.js").status(),
            StatusCode::NOT_FOUND
        );
    }
}
