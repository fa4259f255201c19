//! `<data-dir>/endpoints.json`: what `meridian dev` runs and where, written once every area
//! is up and read by the commands that talk to a deployment (`meridian chat`, `meridian
//! prometheus-config`, the benchmarks' dev child). One type for both sides, so the file
//! cannot drift from its readers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// `meridian dev --data-dir`'s default, and where the commands reading endpoints.json look.
pub const DEFAULT_DATA_DIR: &str = "meridian-data";
/// Sets `--data-dir` for `meridian dev` and for the commands reading endpoints.json.
pub const DATA_DIR_ENV: &str = "MERIDIAN_DEV_DATA_DIR";

/// Where a deployment with data dir `data_dir` writes its endpoints.json.
pub fn endpoints_path(data_dir: &Path) -> PathBuf {
    data_dir.join("endpoints.json")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoints {
    /// The primary nav's base URL, then the backup's.
    pub nav: Vec<String>,
    pub operator_token: String,
    /// By area code.
    pub areas: BTreeMap<String, AreaEndpoints>,
    /// Every process's `/metrics` URL.
    pub metrics: Vec<String>,
    /// The web demo's page (absent from files written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demo: Option<String>,
    /// The web console (absent from files written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AreaEndpoints {
    /// Server API base URLs.
    pub api: Vec<String>,
    pub edges: Vec<EdgeEndpoints>,
    pub cluster: Vec<NodeEndpoints>,
    /// The demo app's environments: `dev`, then `prod`.
    pub apps: Vec<AppCredentials>,
    /// The area's media server (absent from files written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaEndpoints>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaEndpoints {
    /// WHIP/WHEP base URL (`http://host:port`); media flows over UDP on the same port.
    pub url: String,
    pub metrics: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeEndpoints {
    /// `ws://host:port/websocket`
    pub ws: String,
    /// The operator admin API's base URL.
    pub admin: String,
    pub metrics: String,
    pub location: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeEndpoints {
    pub id: u64,
    /// `host:port` of Raft and the internal API.
    pub rpc: String,
    pub admin: String,
    pub metrics: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppCredentials {
    /// `dev` or `prod`.
    pub env: String,
    pub app_key: String,
    pub app_secret: String,
}

impl Endpoints {
    /// Reads `path`; errors name it and say how to get one.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: run `meridian dev` first", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a `meridian dev` endpoints.json", path.display()))
    }

    /// Writes `path` atomically (a temporary file renamed over it), so a reader sees all of
    /// it or none.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("{}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("{}", path.display()))
    }

    pub fn area(&self, code: &str) -> anyhow::Result<&AreaEndpoints> {
        self.areas.get(code).with_context(|| {
            let running: Vec<&str> = self.areas.keys().map(String::as_str).collect();
            format!(
                "the deployment runs no area {code} (it runs {})",
                running.join(", ")
            )
        })
    }
}

impl AreaEndpoints {
    /// The first Server API base URL.
    pub fn api(&self) -> anyhow::Result<&str> {
        self.api
            .first()
            .map(String::as_str)
            .context("endpoints.json lists no Server API URL")
    }

    /// The first edge's WebSocket URL.
    pub fn ws(&self) -> anyhow::Result<&str> {
        self.edges
            .first()
            .map(|edge| edge.ws.as_str())
            .context("endpoints.json lists no edge")
    }

    /// The demo app's credentials in environment `env` (`dev` or `prod`).
    pub fn app(&self, env: &str) -> anyhow::Result<&AppCredentials> {
        self.apps
            .iter()
            .find(|app| app.env == env)
            .with_context(|| format!("endpoints.json has no {env} environment of the demo app"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The file as README.md documents it, trimmed to one area.
    const DOCUMENTED: &str = r#"{ "nav": ["http://127.0.0.1:7000", "http://127.0.0.1:7001"],
      "operatorToken": "t",
      "areas": { "SG": {
          "api":   ["http://127.0.0.1:7010"],
          "edges": [{ "ws": "ws://127.0.0.1:7010/websocket", "admin": "http://127.0.0.1:7010",
                      "metrics": "http://127.0.0.1:7011/metrics", "location": "local" }],
          "cluster": [{ "id": 1, "rpc": "127.0.0.1:7012", "admin": "http://127.0.0.1:7013",
                        "metrics": "http://127.0.0.1:7013/metrics" }],
          "apps":  [{ "env": "dev", "appKey": "kd", "appSecret": "sd" },
                    { "env": "prod", "appKey": "kp", "appSecret": "sp" }] } },
      "metrics": ["http://127.0.0.1:7000/metrics"] }"#;

    #[test]
    fn reads_the_documented_file_and_writes_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = endpoints_path(dir.path());
        std::fs::write(&path, DOCUMENTED).unwrap();
        let endpoints = Endpoints::read(&path).unwrap();
        let sg = endpoints.area("SG").unwrap();
        assert_eq!(sg.api().unwrap(), "http://127.0.0.1:7010");
        assert_eq!(sg.ws().unwrap(), "ws://127.0.0.1:7010/websocket");
        assert_eq!(sg.app("prod").unwrap().app_key, "kp");
        assert_eq!(sg.cluster[0].rpc, "127.0.0.1:7012");
        endpoints.write(&path).unwrap();
        assert_eq!(Endpoints::read(&path).unwrap(), endpoints);
    }

    #[test]
    fn errors_say_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let missing = Endpoints::read(&dir.path().join("endpoints.json")).unwrap_err();
        assert!(format!("{missing:#}").contains("run `meridian dev` first"));
        let endpoints: Endpoints = serde_json::from_str(DOCUMENTED).unwrap();
        let area = endpoints.area("NA").unwrap_err().to_string();
        assert!(area.contains("no area NA") && area.contains("SG"), "{area}");
        let env = endpoints.area("SG").unwrap().app("staging").unwrap_err();
        assert!(env.to_string().contains("staging"));
    }
}
