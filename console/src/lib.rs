//! The web console (CON-02, CON-03): server-rendered pages for operators and app
//! developers over each area's operator admin API and Server API. No script, no
//! framework: HTML built by [`html!`] (escaping in one place), CSS compiled in, forms
//! that post and redirect, a session cookie and a CSRF token in every form.
//!
//! Operators sign in with the operator token and see every area and app; a developer
//! signs in with an App Key and Secret (more keys add more apps to the session) and sees
//! only those apps: any other app's page answers 403.

#[macro_use]
pub mod html;
pub mod areas;
pub mod charts;
pub mod forms;
pub mod jsonform;
mod pages;
pub mod session;

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::FutureExt;
use http::{Request, Response};
use meridian_rpc::outbound::OutboundClient;
use meridian_telemetry::{AdminHooks, AdminServer, Running};
use prometheus::Registry;
use serde_json::json;

pub use areas::{areas_from_flags, parse_flag, Area, Areas};
use session::Sessions;

/// Import files up to this size are taken (an export of a large app is larger: import
/// it with the admin API directly).
pub const BODY_LIMIT: usize = 32 * 1024 * 1024;

pub struct ConsoleConfig {
    /// `host:port` to listen on (plain HTTP; put TLS in front of it).
    pub listen: String,
    /// The operator token: what operators sign in with, and what the console calls
    /// each area's admin API with.
    pub operator_token: String,
    pub areas: Vec<Area>,
    /// CA certificates trusted for https admin and API URLs (besides the web's roots).
    pub ca_files: Vec<PathBuf>,
}

/// What every request handler shares.
pub(crate) struct State {
    pub operator_token: String,
    pub areas: Areas,
    pub sessions: Sessions,
}

pub struct Console {
    server: Running,
}

impl Console {
    pub async fn start(config: ConsoleConfig) -> anyhow::Result<Self> {
        if config.operator_token.is_empty() {
            anyhow::bail!("the console needs the operator token");
        }
        if config.areas.is_empty() {
            anyhow::bail!("the console needs at least one area (--area CODE=ADMIN_URL)");
        }
        let http = OutboundClient::with_ca_files(&config.ca_files)?;
        let state = State {
            areas: Areas::new(config.areas, config.operator_token.clone(), http),
            operator_token: config.operator_token,
            sessions: Sessions::default(),
        };
        let listener = meridian_telemetry::listen("console.listen", &config.listen).await?;
        let server = AdminServer::new(Registry::new(), Arc::new(Hooks(Arc::new(state))))
            .body_limit(BODY_LIMIT);
        Ok(Self {
            server: server.spawn(listener, "console")?,
        })
    }

    /// `http://host:port/`
    pub fn url(&self) -> String {
        format!("http://{}/", self.server.addr())
    }

    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

struct Hooks(Arc<State>);

impl AdminHooks for Hooks {
    fn stats(&self) -> serde_json::Value {
        json!({ "component": "console", "areas": self.0.areas.list().len() })
    }

    fn route(&self, request: Request<Bytes>) -> BoxFuture<'static, Response<Bytes>> {
        let state = self.0.clone();
        async move { pages::handle(&state, request).await }.boxed()
    }
}
