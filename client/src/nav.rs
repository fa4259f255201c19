//! Finding an edge: asks the area's navs (`GET /v1/nav`) in order, the hosts a token
//! carries after `@` first, then the configured primary and backup, and falls back to
//! the last answer it got when no nav answers.

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;

use crate::server_api::exchange;
use crate::url_encode;

const NAV_TIMEOUT: Duration = Duration::from_secs(3);

/// A nav's answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    pub area: String,
    /// `ws://…/websocket` (or `wss://`) of the best edge, and of the next best.
    pub primary: String,
    pub backup: String,
    pub heartbeat_ms: u64,
    /// The area's Server API base URLs.
    pub api: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum NavError {
    /// A nav refused: unknown app or bad token (401), or the app lives elsewhere (421,
    /// the body names the area). Asking another nav would not help.
    #[error("nav refused ({status}): {body}")]
    Refused { status: u16, body: String },
    #[error("no nav answered and no earlier answer is cached: {0}")]
    Unreachable(String),
}

/// The navs of one area, with the last good answer.
pub struct Navigator {
    navs: Vec<String>,
    cached: Mutex<Option<Route>>,
}

impl Navigator {
    /// `navs`: base URLs, primary first.
    pub fn new(navs: Vec<String>) -> Self {
        Self {
            navs,
            cached: Mutex::default(),
        }
    }

    /// Where `token`'s user of `app_key` should connect in `area`.
    pub async fn route(&self, app_key: &str, token: &str, area: &str) -> Result<Route, NavError> {
        let (token, carried) = match token.split_once('@') {
            Some((token, hosts)) => (token, hosts.split(';').map(with_scheme).collect()),
            None => (token, Vec::new()),
        };
        let path = format!(
            "/v1/nav?appKey={}&token={}&area={}",
            url_encode(app_key),
            url_encode(token),
            url_encode(area)
        );
        let mut last_error = String::from("no nav configured");
        for nav in carried.iter().chain(&self.navs) {
            let request = hyper::Request::get(path.as_str());
            match exchange(nav, request, Bytes::new(), NAV_TIMEOUT).await {
                Ok(answer) if answer.status == 200 => {
                    match serde_json::from_str::<Route>(&answer.body) {
                        Ok(route) => {
                            *self.cached.lock().unwrap_or_else(|p| p.into_inner()) =
                                Some(route.clone());
                            return Ok(route);
                        }
                        Err(e) => last_error = format!("{nav}: {e}"),
                    }
                }
                Ok(answer) if matches!(answer.status, 401 | 403 | 421) => {
                    return Err(NavError::Refused {
                        status: answer.status,
                        body: answer.body,
                    })
                }
                Ok(answer) => last_error = format!("{nav} answered {}", answer.status),
                Err(e) => last_error = format!("{nav}: {e}"),
            }
        }
        self.cached
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or(NavError::Unreachable(last_error))
    }
}

/// Which edge a reconnecting client dials: the best one the navs name, and the next best
/// after an attempt that failed. With no nav answering, the last answer serves.
pub struct Navigation {
    navigator: std::sync::Arc<Navigator>,
    area: String,
    backup_next: bool,
}

impl Navigation {
    pub fn new(navigator: std::sync::Arc<Navigator>, area: impl Into<String>) -> Self {
        Self {
            navigator,
            area: area.into(),
            backup_next: false,
        }
    }

    /// The `/websocket` URL to dial next.
    pub async fn next_url(&self, app_key: &str, token: &str) -> Result<String, NavError> {
        let route = self.navigator.route(app_key, token, &self.area).await?;
        Ok(match self.backup_next {
            true => route.backup,
            false => route.primary,
        })
    }

    /// The URL given last could not be dialled: the next attempt takes the other one.
    pub fn failed(&mut self) {
        self.backup_next = !self.backup_next;
    }

    /// Connected: the next attempt starts from the best edge again.
    pub fn connected(&mut self) {
        self.backup_next = false;
    }
}

fn with_scheme(host: &str) -> String {
    match host.starts_with("http://") {
        true => host.to_string(),
        false => format!("http://{host}"),
    }
}
