//! Navigation: the first service a client calls, answering which edges to use for its
//! app's home area. For now a nav process serves its health and metrics endpoints with the
//! area catalog it knows; routing answers build on it.

use std::net::SocketAddr;
use std::sync::Arc;

use meridian_regions::Catalog;
use meridian_telemetry::{AdminHooks, AdminServer};
use prometheus::{IntGauge, Registry};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NavRole {
    Primary,
    Backup,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NavConfig {
    pub listen: String,
    #[serde(default = "default_role")]
    pub role: NavRole,
}

fn default_role() -> NavRole {
    NavRole::Primary
}

#[derive(Debug, thiserror::Error)]
pub enum NavError {
    #[error("key listen: {0:?} is not an ip:port address")]
    Listen(String),
    #[error(transparent)]
    Bind(#[from] meridian_telemetry::ListenError),
    #[error("{0}")]
    Setup(String),
}

pub struct Nav {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    addr: SocketAddr,
}

struct Hooks {
    role: NavRole,
    catalog: Catalog,
}

impl AdminHooks for Hooks {
    fn stats(&self) -> serde_json::Value {
        json!({
            "component": "nav",
            "role": self.role,
            "areas": self.catalog.codes().map(|c| c.as_str()).collect::<Vec<_>>(),
        })
    }
}

impl Nav {
    pub async fn start(config: NavConfig, catalog: Catalog) -> Result<Self, NavError> {
        if config.listen.parse::<SocketAddr>().is_err() {
            return Err(NavError::Listen(config.listen));
        }
        let listener = meridian_telemetry::listen("listen", &config.listen).await?;
        let addr = listener
            .local_addr()
            .map_err(|e| NavError::Setup(e.to_string()))?;
        let registry = Registry::new();
        let areas = IntGauge::new("meridian_nav_catalog_areas", "Areas in this nav's catalog")
            .map_err(|e| NavError::Setup(e.to_string()))?;
        areas.set(catalog.codes().count() as i64);
        registry
            .register(Box::new(areas))
            .map_err(|e| NavError::Setup(e.to_string()))?;
        let server = AdminServer::new(
            registry,
            Arc::new(Hooks {
                role: config.role,
                catalog,
            }),
        );
        let (stop, mut stop_rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            let stopped = async move {
                let _ = stop_rx.wait_for(|stop| *stop).await;
            };
            if let Err(e) = server.serve(listener, stopped).await {
                tracing::error!(error = %e, "nav listener failed");
            }
        });
        Ok(Self { stop, task, addr })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}
