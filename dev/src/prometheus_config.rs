//! `meridian prometheus-config`: a Prometheus scrape configuration for a deployment,
//! from its endpoints.json: `prometheus.yml` with file-based discovery of `targets.json`,
//! where every process is a target labelled with its job (and area).

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{json, Value};

/// `host:port` of a URL like `http://127.0.0.1:7011/metrics`.
fn authority(url: &str) -> Option<String> {
    let rest = url.split("://").nth(1)?;
    Some(rest.split('/').next()?.to_string())
}

fn target(url: &Value, labels: Value) -> Option<Value> {
    let authority = authority(url.as_str()?)?;
    Some(json!({ "targets": [authority], "labels": labels }))
}

/// The file-discovery targets of every process in `endpoints`.
pub fn targets(endpoints: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for nav in endpoints["nav"].as_array().into_iter().flatten() {
        out.extend(target(nav, json!({ "job": "meridian-nav" })));
    }
    for (area, entry) in endpoints["areas"].as_object().into_iter().flatten() {
        for edge in entry["edges"].as_array().into_iter().flatten() {
            out.extend(target(
                &edge["metrics"],
                json!({ "job": "meridian-edge", "area": area }),
            ));
        }
        for node in entry["cluster"].as_array().into_iter().flatten() {
            let labels =
                json!({ "job": "meridian-cluster", "area": area, "node": node["id"].to_string() });
            out.extend(target(&node["metrics"], labels));
        }
        out.extend(target(
            &entry["media"]["metrics"],
            json!({ "job": "meridian-media", "area": area }),
        ));
    }
    out
}

/// Writes `prometheus.yml` and `targets.json` into `dir`; answers the configuration's path.
pub fn write(endpoints: &Value, dir: &Path, scrape_interval_secs: u64) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let targets_path = dir.join("targets.json");
    std::fs::write(
        &targets_path,
        serde_json::to_vec_pretty(&targets(endpoints))?,
    )
    .with_context(|| format!("writing {}", targets_path.display()))?;
    let config = format!(
        "# Written by `meridian prometheus-config`: every Meridian process of the deployment.\n\
         global:\n  scrape_interval: {scrape_interval_secs}s\n  evaluation_interval: {scrape_interval_secs}s\n\
         scrape_configs:\n  - job_name: meridian\n    file_sd_configs:\n      - files: [{:?}]\n",
        targets_path.display().to_string()
    );
    let config_path = dir.join("prometheus.yml");
    std::fs::write(&config_path, config)
        .with_context(|| format!("writing {}", config_path.display()))?;
    Ok(config_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_process_is_a_labelled_target() {
        let endpoints = json!({
            "nav": ["http://127.0.0.1:7000"],
            "areas": { "SG": {
                "edges": [{ "metrics": "http://127.0.0.1:7011/metrics" }],
                "cluster": [{ "id": 1, "metrics": "http://127.0.0.1:7013/metrics" }],
            } },
        });
        assert_eq!(
            targets(&endpoints),
            vec![
                json!({"targets": ["127.0.0.1:7000"], "labels": {"job": "meridian-nav"}}),
                json!({"targets": ["127.0.0.1:7011"], "labels": {"job": "meridian-edge", "area": "SG"}}),
                json!({"targets": ["127.0.0.1:7013"], "labels": {"job": "meridian-cluster", "area": "SG", "node": "1"}}),
            ]
        );
    }
}
