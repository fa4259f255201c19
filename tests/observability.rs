//! Stats proven by the real tools: `promtool` lints every process's exposition, and a real
//! Prometheus scrapes a `meridian dev` deployment with the configuration Meridian writes.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{binary, Api};
use meridian_testkit::{eventually, free_port, raw_http, DevDeployment, Process};
use serde_json::Value;

fn tool(name: &str) -> &str {
    let found = Command::new(name)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        found,
        "{name} is missing: install Debian's `prometheus` package (scripts/test does)"
    );
    name
}

#[tokio::test]
async fn promtool_finds_nothing_and_prometheus_scrapes_every_process() {
    let promtool = tool("promtool");
    let prometheus = tool("prometheus");
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let urls: Vec<String> = dev.endpoints["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().to_string())
        .collect();
    assert!(urls.len() >= 4, "navs, an edge and a node: {urls:?}");
    for url in &urls {
        let exposition = raw_http(url, "GET", &[], b"").await;
        assert_eq!(exposition.status, 200, "{url}");
        let mut check = Command::new(promtool)
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        check
            .stdin
            .take()
            .unwrap()
            .write_all(&exposition.body)
            .unwrap();
        let output = check.wait_with_output().unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            output.status.success() && said.trim().is_empty(),
            "{url}: {said}"
        );
    }

    // The shipped alert rules load, and the dashboard's queries name only catalogued metrics.
    let rules = Command::new(promtool)
        .args(["check", "rules"])
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/deploy/prometheus/alerts.yml"
        ))
        .output()
        .unwrap();
    assert!(
        rules.status.success(),
        "{}",
        String::from_utf8_lossy(&rules.stdout)
    );
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/deploy/grafana/meridian.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let catalog =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/metrics.md")).unwrap();
    for panel in dashboard["panels"].as_array().unwrap() {
        let expr = panel["targets"][0]["expr"].as_str().unwrap();
        let metric = expr
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .find(|word| word.starts_with("meridian_"))
            .unwrap();
        let base = metric.trim_end_matches("_bucket");
        assert!(
            catalog.contains(&format!("`{base}`")),
            "{} queries {metric}, which docs/metrics.md does not list",
            panel["title"]
        );
    }

    // A real Prometheus with the configuration `meridian prometheus-config` writes.
    let dir = tempfile::tempdir().unwrap();
    let written = Command::new(binary())
        .args(["prometheus-config", "--scrape-interval", "1", "--endpoints"])
        .arg(&dev.endpoints_file)
        .arg("--out")
        .arg(dir.path().join("config"))
        .output()
        .unwrap();
    assert!(written.status.success());
    let port = free_port();
    let _prometheus = Process::spawn(
        Command::new(prometheus)
            .arg(format!(
                "--config.file={}",
                dir.path().join("config/prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let query = |expr: &str| {
        let url = format!(
            "http://127.0.0.1:{port}/api/v1/query?query={}",
            expr.replace(' ', "%20")
                .replace('{', "%7B")
                .replace('}', "%7D")
                .replace('"', "%22")
                .replace('/', "%2F")
                .replace('=', "%3D")
        );
        async move {
            // Prometheus may not listen yet: a refused connection is "not yet".
            let answer =
                meridian_rpc::http::request("GET", &url, None, None, Duration::from_secs(5))
                    .await
                    .ok()?;
            let value: Value = serde_json::from_slice(&answer.body).ok()?;
            value["data"]["result"].as_array().cloned()
        }
    };
    eventually(Duration::from_secs(60), "every target up", || async {
        let results = query("up").await?;
        let up = results.iter().filter(|r| r["value"][1] == "1").count();
        (results.len() == urls.len() && up == urls.len()).then_some(())
    })
    .await;

    // Messages sent through the Server API move the edge's counter by as many.
    let api = Api::new(&dev, "SG", "prod");
    for _ in 0..5 {
        api.ok(
            "/message/private/publish.json",
            "fromUserId=alice&toUserId=bob&objectName=RC:TxtMsg&content=%7B%7D",
        )
        .await;
    }
    let expr =
        r#"sum(meridian_edge_api_requests_total{path="/message/private/publish.json",code="200"})"#;
    eventually(
        Duration::from_secs(30),
        "the publish counter at 5",
        || async {
            let results = query(expr).await?;
            (results.first()?["value"][1] == "5").then_some(())
        },
    )
    .await;
    dev.stop();
}

/// A Server API request's id (the caller's `X-Request-Id`) reaches the logs of the
/// cluster node that served it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_id_is_carried_from_the_edge_into_the_cluster_logs() {
    use meridian_cluster::admin::generate_credentials;
    use meridian_cluster::state::{Command as ClusterCommand, CreateApp, Envelope};
    use meridian_regions::AreaCode;
    use meridian_testkit::{signed_headers, ClusterOptions, ProcessCluster, OPERATOR_TOKEN};

    let mut cluster = ProcessCluster::new(
        binary(),
        ClusterOptions {
            nodes: 1,
            log_filter: Some("warn,meridian_cluster=debug".into()),
            ..ClusterOptions::default()
        },
    );
    cluster.start_all();
    cluster.wait_for_leader(0, Duration::from_secs(15)).await;
    let prod = generate_credentials();
    cluster
        .client()
        .write_one(Envelope {
            area: AreaCode::Sg,
            command: ClusterCommand::CreateApp(CreateApp {
                name: "ids".into(),
                dev: generate_credentials(),
                prod: prod.clone(),
            }),
        })
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (public, admin) = (free_port(), free_port());
    let config = dir.path().join("edge.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{public}\"\nadmin_listen = \"127.0.0.1:{admin}\"\n\
             operator_token = \"{OPERATOR_TOKEN}\"\n[[areas]]\narea = \"SG\"\ncluster = [{:?}]\n",
            cluster.spec(1).rpc_addr()
        ),
    )
    .unwrap();
    let _edge = Process::spawn(
        Command::new(binary())
            .args(["edge", "--config"])
            .arg(&config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null()),
    );
    meridian_testkit::listening(public, "the edge listening").await;

    let request_id = "rid-observability-4242";
    let mut headers = signed_headers(&prod.app_key, &prod.app_secret, "n1", &unix_secs());
    headers.push(("X-Request-Id".into(), request_id.into()));
    headers.push((
        "Content-Type".into(),
        "application/x-www-form-urlencoded".into(),
    ));
    let url = format!("http://127.0.0.1:{public}/user/getToken.json");
    let answer = raw_http(&url, "POST", &headers, b"userId=alice").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let logged = eventually(Duration::from_secs(10), "the id in the node's log", || {
        let log = cluster.log(1);
        async move { log.contains(request_id).then_some(log) }
    })
    .await;
    let line = logged.lines().find(|l| l.contains(request_id)).unwrap();
    assert!(line.contains("write") || line.contains("read"), "{line}");
}

fn unix_secs() -> String {
    meridian_clock::now_secs().to_string()
}
