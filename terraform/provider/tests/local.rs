//! The provider as an operator runs it: built, installed into a filesystem mirror and
//! driven by the real `terraform` binary, offline, against a live `meridian dev`.
//! Without `terraform` on PATH these tests fail; they never skip.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use meridian_testkit::{
    eventually, free_port, listening, raw_http, raw_http_with_head, signed_headers, DevDeployment,
    Process,
};
use serde_json::{json, Value};

const PROVIDER_SOURCE: &str = "meridian.local/meridian/meridian";
const PROVIDER_VERSION: &str = "0.1.0";

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/local")
}

fn terraform_binary() -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("terraform"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!("terraform is not on PATH: install terraform 1.11, these tests drive the provider through it")
        })
}

/// `$MERIDIAN_BIN`, else the `meridian` binary built now by the cargo that built this
/// test: a test can only name binaries of its own package, and a path guessed under
/// `target/` breaks with `CARGO_TARGET_DIR` or goes stale. Cargo answers at once when
/// the binary is fresh.
fn meridian_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("MERIDIAN_BIN") {
        return path.into();
    }
    let output = Command::new(env!("CARGO"))
        .args(["build", "-p", "meridian", "--bin", "meridian"])
        .arg("--message-format=json-render-diagnostics")
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo build -p meridian");
    assert!(output.status.success(), "cargo build -p meridian failed");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|message| {
            message["reason"] == "compiler-artifact" && message["target"]["name"] == "meridian"
        })
        .and_then(|artifact| artifact["executable"].as_str().map(PathBuf::from))
        .expect("cargo build -p meridian named no executable")
}

/// Terraform's name for this machine's platform, as in the mirror's directory names.
fn terraform_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    format!("{}_{arch}", std::env::consts::OS)
}

/// A Terraform working directory with its own filesystem mirror holding the freshly
/// built provider, and a CLI configuration that installs only from there.
struct Terraform {
    binary: PathBuf,
    root: tempfile::TempDir,
    vars: Vec<(String, String)>,
}

impl Terraform {
    /// A copy of the configuration files (`*.tf`, `*.tftest.hcl`) in `source`.
    fn copy_of(source: &Path, vars: &[(&str, &str)]) -> Self {
        let terraform = Self::empty(vars);
        for entry in std::fs::read_dir(source).expect("read the example") {
            let path = entry.expect("example entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".tf") || name.ends_with(".tftest.hcl") {
                std::fs::copy(&path, terraform.config_dir().join(name)).expect("copy");
            }
        }
        terraform
    }

    /// A configuration written by the test.
    fn with_main_tf(main_tf: &str, vars: &[(&str, &str)]) -> Self {
        let terraform = Self::empty(vars);
        std::fs::write(terraform.config_dir().join("main.tf"), main_tf).expect("write main.tf");
        terraform
    }

    fn empty(vars: &[(&str, &str)]) -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        let plugin_dir = root
            .path()
            .join("mirror")
            .join(PROVIDER_SOURCE)
            .join(PROVIDER_VERSION)
            .join(terraform_platform());
        std::fs::create_dir_all(&plugin_dir).expect("mirror dir");
        std::fs::copy(
            env!("CARGO_BIN_EXE_terraform-provider-meridian"),
            plugin_dir.join(format!("terraform-provider-meridian_v{PROVIDER_VERSION}")),
        )
        .expect("install the provider into the mirror");
        let cli_config = format!(
            r#"provider_installation {{
  filesystem_mirror {{
    path    = "{}"
    include = ["meridian.local/*/*"]
  }}
  direct {{
    exclude = ["meridian.local/*/*"]
  }}
}}
"#,
            root.path().join("mirror").display()
        );
        std::fs::write(root.path().join("cli.tfrc"), cli_config).expect("cli config");
        std::fs::create_dir(root.path().join("config")).expect("config dir");
        Self {
            binary: terraform_binary(),
            root,
            vars: vars
                .iter()
                .map(|(name, value)| (format!("TF_VAR_{name}"), value.to_string()))
                .collect(),
        }
    }

    fn config_dir(&self) -> PathBuf {
        self.root.path().join("config")
    }

    /// Sets an environment variable for the following runs (the provider inherits it).
    fn set_env(&mut self, name: &str, value: &str) {
        self.vars.push((name.to_string(), value.to_string()));
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(&self.binary)
            .args(args)
            .current_dir(self.config_dir())
            .env("TF_CLI_CONFIG_FILE", self.root.path().join("cli.tfrc"))
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env("CHECKPOINT_DISABLE", "1")
            .env_remove("TF_PLUGIN_CACHE_DIR")
            .envs(self.vars.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .output()
            .expect("run terraform")
    }

    /// Runs terraform and answers its stdout, panicking with everything it said if it
    /// fails.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "terraform {}: {}\n{}\n{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// `terraform plan -detailed-exitcode`: (exit code, stdout); 0 no changes, 2 changes.
    fn plan(&self) -> (i32, String) {
        let output = self.run(&["plan", "-no-color", "-detailed-exitcode"]);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let code = output.status.code().expect("terraform exit code");
        assert!(
            code == 0 || code == 2,
            "terraform plan failed ({code}):\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        (code, stdout)
    }

    fn outputs(&self) -> Value {
        serde_json::from_str(&self.ok(&["output", "-json"])).expect("outputs as JSON")
    }
}

/// The start of a test-written configuration: the provider, pointed at a `Dev` by the
/// `endpoint` and `token` variables.
const PROVIDER_TF: &str = r#"
terraform {
  required_providers {
    meridian = { source = "meridian.local/meridian/meridian", version = "0.1.0" }
  }
}

variable "endpoint" { type = string }
variable "token" { type = string }

provider "meridian" {
  endpoint = var.endpoint
  token    = var.token
}
"#;

/// A `meridian dev` with one area (SG) and what the example needs to reach it.
struct Dev {
    binary: PathBuf,
    deployment: DevDeployment,
    admin: String,
    token: String,
    endpoints_file: String,
}

impl Dev {
    async fn start() -> Self {
        let binary = meridian_binary();
        let deployment = DevDeployment::start(&binary, "SG", 1).await;
        let admin = deployment.endpoints["areas"]["SG"]["edges"][0]["admin"]
            .as_str()
            .expect("edge admin URL")
            .to_string();
        let token = deployment.endpoints["operatorToken"]
            .as_str()
            .expect("operator token")
            .to_string();
        let endpoints_file = deployment.endpoints_file.display().to_string();
        Self {
            binary,
            deployment,
            admin,
            token,
            endpoints_file,
        }
    }

    fn vars(&self) -> [(&str, &str); 3] {
        [
            ("endpoint", &self.admin),
            ("token", &self.token),
            ("endpoints_file", &self.endpoints_file),
        ]
    }

    /// An admin API call made directly, as an operator would outside Terraform.
    async fn admin_call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let body = body.map(Value::to_string);
        let answer = meridian_rpc::http::request(
            method,
            &format!("{}{path}", self.admin),
            Some(&self.token),
            body.as_deref().map(str::as_bytes),
            Duration::from_secs(10),
        )
        .await
        .expect("admin API call");
        let json = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        (answer.status, json)
    }
}

/// `/user/getToken.json` signed with `key` and `secret` (App-Key, Nonce, Timestamp,
/// Signature = SHA-1 of secret, nonce and timestamp): the Server API's answer.
async fn get_token(api: &str, key: &str, secret: &str, user: &str) -> (u16, Value) {
    let timestamp = meridian_clock::now_ms().to_string();
    let mut headers = signed_headers(key, secret, "terraform-nonce", &timestamp);
    headers.push((
        "Content-Type".into(),
        "application/x-www-form-urlencoded".into(),
    ));
    let body = format!("userId={user}&name={user}");
    let answer = raw_http(
        &format!("{api}/user/getToken.json"),
        "POST",
        &headers,
        body.as_bytes(),
    )
    .await;
    let json = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    (answer.status, json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_made_by_terraform_serves_the_api_its_drift_shows_and_destroy_removes_it() {
    let dev = Dev::start().await;
    let terraform = Terraform::copy_of(&example_dir(), &dev.vars());
    terraform.ok(&["init", "-no-color"]);
    terraform.ok(&["apply", "-no-color", "-auto-approve"]);

    let outputs = terraform.outputs();
    let output = |name: &str| {
        outputs[name]["value"]
            .as_str()
            .unwrap_or_else(|| panic!("output {name} in {outputs}"))
            .to_string()
    };
    let (prod_key, prod_secret) = (output("prod_app_key"), output("prod_app_secret"));
    assert_eq!(outputs["prod_app_secret"]["sensitive"], true);
    assert_eq!(output("home_area"), "SG");

    // The exported credentials work against the Server API (its URL read by the
    // meridian_endpoints data source), for both environments.
    let api = output("server_api");
    assert_eq!(api, dev.deployment.api("SG"));
    for (key, secret) in [
        (prod_key.clone(), prod_secret.clone()),
        (output("dev_app_key"), output("dev_app_secret")),
    ] {
        let (status, answer) = get_token(&api, &key, &secret, "terraform-user").await;
        assert_eq!((status, &answer["code"]), (200, &json!(200)), "{answer}");
        assert!(answer["token"].as_str().is_some_and(|t| !t.is_empty()));
    }
    let (status, _) = get_token(&api, &prod_key, "wrongSecret123", "terraform-user").await;
    assert_ne!(status, 200, "a wrong secret is refused");

    // The settings are stored as configured, and Terraform sees nothing to do.
    let settings_path = format!("/admin/v1/apps/{prod_key}/settings");
    let (_, stored) = dev.admin_call("GET", &settings_path, None).await;
    let mut settings = stored["settings"].clone();
    assert_eq!(settings["offlineWindowDays"], 3);
    assert_eq!(settings["callbacks"]["routingTypes"], json!([1, 3]));
    assert_eq!(
        settings["callbacks"]["moderation"],
        json!([{
            "url": "https://app.example.com/meridian/moderate",
            "senders": [],
            "receivers": [],
            "conversationTypes": [1, 3],
            "objectNames": ["RC:TxtMsg"],
            "timeoutMs": 2000,
            "defaultAction": "block",
        }])
    );
    let (status, _) = dev.admin_call("GET", "/admin/v1/areas/NA", None).await;
    assert_eq!(status, 200, "the example's catalog entry");
    assert_eq!(terraform.plan().0, 0, "no changes right after apply");

    // A setting changed through the admin API directly shows as drift.
    settings["offlineWindowDays"] = json!(5);
    let (status, _) = dev.admin_call("PUT", &settings_path, Some(&settings)).await;
    assert_eq!(status, 200);
    let (code, plan) = terraform.plan();
    assert_eq!(code, 2, "drift is a change to make:\n{plan}");
    assert!(
        plan.contains("5 -> 3"),
        "offline_window_days drift:\n{plan}"
    );
    terraform.ok(&["apply", "-no-color", "-auto-approve"]);
    let (_, stored) = dev.admin_call("GET", &settings_path, None).await;
    assert_eq!(
        stored["settings"]["offlineWindowDays"], 3,
        "apply undid the drift"
    );
    assert_eq!(terraform.plan().0, 0);

    // An existing app is imported by its App Key: the plan is then empty again.
    terraform.ok(&["state", "rm", "meridian_app.demo"]);
    terraform.ok(&["import", "-no-color", "meridian_app.demo", &prod_key]);
    let (code, plan) = terraform.plan();
    assert_eq!(
        code, 0,
        "the imported app matches the configuration:\n{plan}"
    );

    terraform.ok(&["destroy", "-no-color", "-auto-approve"]);
    let (status, answer) = dev
        .admin_call("GET", &format!("/admin/v1/apps/{prod_key}"), None)
        .await;
    assert_eq!(status, 404, "destroy removed the app: {answer}");
    let (status, answer) = dev.admin_call("GET", "/admin/v1/areas/NA", None).await;
    assert_eq!(status, 404, "destroy removed the catalog entry: {answer}");
    // Edges cache app records for a second.
    eventually(
        Duration::from_secs(5),
        "the destroyed app's key refused",
        || {
            let (api, key, secret) = (&api, &prod_key, &prod_secret);
            async move {
                let (status, _) = get_token(api, key, secret, "terraform-user").await;
                (status != 200).then_some(())
            }
        },
    )
    .await;
}

/// The web console `meridian dev` serves, used as a browser without script uses it: the
/// session cookie it sets and the CSRF token its forms carry.
struct ConsoleVisit {
    base: String,
    cookie: String,
    csrf: String,
}

impl ConsoleVisit {
    /// One request with the session cookie: (status, head, body).
    async fn exchange(&self, method: &str, path: &str, form: &str) -> (u16, String, String) {
        let mut headers = vec![("Cookie".to_string(), self.cookie.clone())];
        if method == "POST" {
            headers.push((
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            ));
        }
        let url = format!("{}{path}", self.base);
        let (answer, head) = raw_http_with_head(&url, method, &headers, form.as_bytes()).await;
        (answer.status, head, answer.text())
    }

    /// The session cookie a response sets.
    fn set_cookie(head: &str) -> String {
        head.lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .starts_with("set-cookie:")
                    .then(|| l[11..].trim())
            })
            .and_then(|v| v.split(';').next())
            .expect("a session cookie")
            .to_string()
    }

    /// The CSRF token in a page's forms.
    fn csrf_of(page: &str) -> String {
        let at = page
            .find(r#"name="csrf" value=""#)
            .expect("a form with its CSRF token")
            + 19;
        page[at..].split('"').next().unwrap_or_default().to_string()
    }

    /// Signs in with the operator token through the sign-in form.
    async fn operator(base: &str, token: &str) -> Self {
        let mut visit = Self {
            base: base.trim_end_matches('/').to_string(),
            cookie: String::new(),
            csrf: String::new(),
        };
        let (_, head, page) = visit.exchange("GET", "/signin", "").await;
        (visit.cookie, visit.csrf) = (Self::set_cookie(&head), Self::csrf_of(&page));
        // The token and CSRF value are letters and digits: nothing to escape.
        let form = format!("csrf={}&as=operator&token={token}", visit.csrf);
        let (status, head, _) = visit.exchange("POST", "/signin", &form).await;
        assert_eq!(status, 303, "signed in: {head}");
        visit.cookie = Self::set_cookie(&head);
        let (status, _, page) = visit.exchange("GET", "/apps", "").await;
        assert_eq!(status, 200);
        visit.csrf = Self::csrf_of(&page);
        visit
    }
}

// covers: CON-02
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_setting_changed_in_the_web_console_shows_as_terraform_drift() {
    let dev = Dev::start().await;
    let terraform = Terraform::copy_of(&example_dir(), &dev.vars());
    terraform.ok(&["init", "-no-color"]);
    terraform.ok(&["apply", "-no-color", "-auto-approve"]);
    let prod_key = terraform.outputs()["prod_app_key"]["value"]
        .as_str()
        .expect("prod_app_key")
        .to_string();
    assert_eq!(terraform.plan().0, 0, "no changes right after apply");

    let console = dev.deployment.endpoints["console"]
        .as_str()
        .expect("endpoints.json names the console");
    let visit = ConsoleVisit::operator(console, &dev.token).await;
    let settings = format!("/apps/{prod_key}/settings");
    // A form without its CSRF token changes nothing.
    let (status, _, _) = visit
        .exchange("POST", &settings, "value%3AofflineWindowDays=6")
        .await;
    assert_eq!(status, 403);
    let form = format!("csrf={}&value%3AofflineWindowDays=5", visit.csrf);
    let (status, head, _) = visit.exchange("POST", &settings, &form).await;
    assert_eq!(status, 303, "saved and redirected: {head}");

    let (_, stored) = dev
        .admin_call("GET", &format!("/admin/v1{settings}"), None)
        .await;
    assert_eq!(stored["settings"]["offlineWindowDays"], 5);
    assert_eq!(
        stored["settings"]["callbacks"]["routingTypes"],
        json!([1, 3]),
        "fields the form left out are kept"
    );
    let (code, plan) = terraform.plan();
    assert_eq!(code, 2, "the console's change is drift:\n{plan}");
    assert!(
        plan.contains("5 -> 3"),
        "offline_window_days drift:\n{plan}"
    );
    terraform.ok(&["destroy", "-no-color", "-auto-approve"]);
}

// covers: LIFE-04
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_app_secret_is_rotated_in_place_and_the_old_one_overlaps() {
    let dev = Dev::start().await;
    let app_tf = |secret: &str| {
        format!(
            r#"{PROVIDER_TF}
resource "meridian_app" "rotating" {{
  name                   = "rotating"
  prod_app_key           = "rotatingprod01"
  prod_app_secret        = "{secret}"
  secret_overlap_seconds = 3600
}}
"#
        )
    };
    let terraform = Terraform::with_main_tf(&app_tf("firstsecret01"), &dev.vars());
    terraform.ok(&["init", "-no-color"]);
    terraform.ok(&["apply", "-no-color", "-auto-approve"]);
    let api = dev.deployment.api("SG");
    let (status, answer) = get_token(&api, "rotatingprod01", "firstsecret01", "before").await;
    assert_eq!(status, 200, "{answer}");

    // A new secret in the configuration is an in-place update, not a new app.
    std::fs::write(
        terraform.config_dir().join("main.tf"),
        app_tf("secondsecret02"),
    )
    .unwrap();
    let (code, plan) = terraform.plan();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.contains("updated in-place"), "{plan}");
    assert!(!plan.contains("replace"), "{plan}");
    terraform.ok(&["apply", "-no-color", "-auto-approve"]);
    assert_eq!(terraform.plan().0, 0);

    // Both secrets sign during the overlap (edges see the rotation within a second),
    // and the user made before it is still there.
    eventually(Duration::from_secs(5), "the new secret accepted", || {
        let api = &api;
        async move {
            let (status, _) = get_token(api, "rotatingprod01", "secondsecret02", "after").await;
            (status == 200).then_some(())
        }
    })
    .await;
    let (status, answer) = get_token(&api, "rotatingprod01", "firstsecret01", "during").await;
    assert_eq!(status, 200, "the old secret overlaps: {answer}");
    let (status, answer) = dev
        .admin_call("GET", "/admin/v1/apps/rotatingprod01/users/before", None)
        .await;
    assert_eq!(status, 200, "the app was kept: {answer}");
    terraform.ok(&["destroy", "-no-color", "-auto-approve"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terraform_test_passes_on_examples_local_and_leaves_nothing_behind() {
    let dev = Dev::start().await;
    let terraform = Terraform::copy_of(&example_dir(), &dev.vars());
    terraform.ok(&["init", "-no-color"]);
    let report = terraform.ok(&["test", "-no-color"]);
    assert!(report.contains("4 passed, 0 failed"), "{report}");

    let (_, listed) = dev.admin_call("GET", "/admin/v1/apps", None).await;
    let names: Vec<&str> = listed["apps"]
        .as_array()
        .expect("apps")
        .iter()
        .filter_map(|app| app["name"].as_str())
        .collect();
    assert_eq!(names, ["demo"], "only meridian dev's own app is left");
    let (_, catalog) = dev.admin_call("GET", "/admin/v1/areas", None).await;
    assert_eq!(catalog, json!({"areas": []}), "no catalog entry is left");
}

/// Validation happens while planning, before the provider calls the admin API (nothing
/// listens at the endpoint here), and at the admin API's limits.
#[test]
fn plan_refuses_invalid_areas_and_settings() {
    let terraform = Terraform::with_main_tf(
        r#"
terraform {
  required_providers {
    meridian = { source = "meridian.local/meridian/meridian", version = "0.1.0" }
  }
}

provider "meridian" {
  endpoint = "http://127.0.0.1:9"
  token    = "unused"
}

resource "meridian_app" "bad" {
  name      = "bad"
  home_area = "EU"
}

resource "meridian_app_settings" "bad" {
  app_key               = "abcdefgh123456"
  offline_window_days   = 9
  routing_types         = [1, 2]
  callback_max_attempts = 0
  routing_url           = "ftp://example.com"
  erasure_callback_url  = "example.com/erased"
  secure_domains        = ["https://chat.example.com/"]

  moderation_rule {
    url            = "https://app.example.com/moderate"
    timeout_ms     = 50
    default_action = "drop"
  }

  push_app {
    app_id = "com.example.chat"
    apns {
      team_id         = "TEAM"
      key_id          = "KEY0123456"
      private_key_pem = "<redacted>"
    }
  }

  push_vendor_app {
    app_id = "com.example.chat"
    oppo {
      app_key       = "oppo-key"
      master_secret = "<redacted>"
      endpoint      = "ftp://oppo.example.com"
    }
  }
  push_sound                     = "a sound"
  ultra_group_push_interval_secs = 86401
  push_rate_per_second           = 100001
  push_quiet_hours {
    start_secs     = 86400
    period_minutes = 60
    level          = 3
  }
  limits {
    group_member_cap = 100001
    api_rates {
      private_messages_per_minute = 0
    }
    retention_days {
      ultra_group = 3651
    }
  }
}

resource "meridian_app_settings" "too_many_rules" {
  app_key = "abcdefgh123456"

  dynamic "moderation_rule" {
    for_each = range(21)
    content {
      url = "https://app.example.com/moderate/${moderation_rule.value}"
    }
  }
}

resource "meridian_area" "bad" {
  code           = "EU"
  nav_primary    = "nav-eu.example.com"
  nav_backup     = ""
  api_primary    = "https://api-eu.example.com"
  api_backup     = "https://api-eu-b.example.com"
  edge_discovery = "_meridian-edge._tcp.eu.example.com"
}

resource "meridian_area" "spaced_host" {
  code         = "NA"
  nav_primary  = "nav-na.example.com"
  nav_backup   = "nav-na-b.example.com"
  api_primary  = "https://api na.example.com"
  api_backup   = "https://api-na-b.example.com"
  static_edges = ["edge-na-1.example.com:443"]
}

resource "meridian_area" "no_edges" {
  code        = "SA"
  nav_primary = "nav-sa.example.com"
  nav_backup  = "nav-sa-b.example.com"
  api_primary = "https://api-sa.example.com"
  api_backup  = "https://api-sa-b.example.com"
}
"#,
        &[],
    );
    terraform.ok(&["init", "-no-color"]);
    let output = terraform.run(&["plan", "-no-color"]);
    assert!(!output.status.success());
    let errors = errors_of(&output);
    for expected in [
        r#"unknown area code "EU", expected one of CN, SG, SG-B, NA, SA"#,
        "Invalid offline_window_days",
        "2 is not a conversation type",
        "Invalid callback_max_attempts",
        "Invalid routing_url",
        "Invalid erasure_callback_url",
        "must be an origin like https://chat.example.com",
        "Invalid timeout_ms",
        "must be 100 to 10000",
        r#""drop" must be pass or block"#,
        "Invalid team_id",
        "must be a PKCS#8 PEM private key",
        "at most 20 blocks",
        "Invalid moderation_rule",
        "Invalid code",
        "Invalid nav_backup",
        "must not be empty",
        "Invalid api_primary",
        r#"must not contain whitespace, got "https://api na.example.com""#,
        "Invalid static_edges",
        "needs a discovery name or at least one static edge",
        "<redacted> is what the API shows, not a value",
        "Invalid endpoint",
        "Invalid push_sound",
        "Invalid start_secs",
        "must be 0 to 86399",
        "must be 0, 1 or 5",
        "Invalid ultra_group_push_interval_secs",
        "must be 0 to 86400",
        "Invalid push_rate_per_second",
        "must be 0 to 100000",
        "Invalid group_member_cap",
        "must be 1 to 100000",
        "Invalid private_messages_per_minute",
        "must be at least 1",
        "Invalid ultra_group",
        "must be 1 to 3650",
    ] {
        assert!(errors.contains(expected), "{expected:?} in:\n{errors}");
    }
    assert!(
        !errors.contains("unreachable"),
        "no API call was tried:\n{errors}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_node_joins_and_leaves_the_cluster_through_terraform() {
    let dev = Dev::start().await;
    // A second SG node with no peers: it waits to be added.
    let node_dir = tempfile::tempdir().expect("tempdir");
    let (rpc_port, admin_port) = (free_port(), free_port());
    let addr = format!("127.0.0.1:{rpc_port}");
    let node_config = node_dir.path().join("node.toml");
    std::fs::write(
        &node_config,
        format!(
            "area = \"SG\"\nnode_id = 2\ndata_dir = {:?}\nrpc_listen = \"{addr}\"\n\
             admin_listen = \"127.0.0.1:{admin_port}\"\noperator_token = \"{}\"\n",
            node_dir.path().join("data"),
            dev.token
        ),
    )
    .expect("node config");
    let _node = Process::spawn(
        Command::new(&dev.binary)
            .args(["cluster", "run", "--config"])
            .arg(&node_config)
            .env("RUST_LOG", "warn"),
    );
    listening(admin_port, "the new node's admin port").await;

    let terraform = Terraform::with_main_tf(
        &format!(
            r#"{PROVIDER_TF}
resource "meridian_cluster_member" "second" {{
  node_id = 2
  addr    = "{addr}"
}}
"#
        ),
        &dev.vars(),
    );
    let membership = || async {
        let (status, answer) = dev.admin_call("GET", "/admin/v1/cluster", None).await;
        assert_eq!(status, 200, "{answer}");
        (
            answer["status"]["voters"].clone(),
            answer["status"]["nodes"]["2"].clone(),
        )
    };

    terraform.ok(&["init", "-no-color"]);
    terraform.ok(&["apply", "-no-color", "-auto-approve"]);
    assert_eq!(membership().await, (json!([1, 2]), json!(addr)));
    assert_eq!(terraform.plan().0, 0);

    // Removed through the admin API directly: the plan adds it again.
    let (status, answer) = dev
        .admin_call("DELETE", "/admin/v1/cluster/members/2", None)
        .await;
    assert_eq!(status, 200, "{answer}");
    let (code, plan) = terraform.plan();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.contains("will be created"), "{plan}");
    terraform.ok(&["apply", "-no-color", "-auto-approve"]);
    assert_eq!(membership().await, (json!([1, 2]), json!(addr)));

    terraform.ok(&["destroy", "-no-color", "-auto-approve"]);
    assert_eq!(membership().await, (json!([1]), Value::Null));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_area_entry_made_by_terraform_is_in_the_catalog_its_drift_shows_and_import_and_destroy_work(
) {
    let dev = Dev::start().await;
    let terraform = Terraform::with_main_tf(
        &format!(
            r#"{PROVIDER_TF}
resource "meridian_area" "sg_b" {{
  code           = "SG-B"
  nav_primary    = "nav-sg-b.example.com"
  nav_backup     = "nav-sg-b-backup.example.com"
  api_primary    = "https://api-sg-b.example.com"
  api_backup     = "https://api-sg-b-backup.example.com"
  edge_discovery = "_meridian-edge._tcp.sg-b.example.com"
}}
"#
        ),
        &dev.vars(),
    );
    let path = "/admin/v1/areas/SG-B";
    let configured = json!({
        "code": "SG-B",
        "nav": {"primary": "nav-sg-b.example.com", "backup": "nav-sg-b-backup.example.com"},
        "api": {"primary": "https://api-sg-b.example.com", "backup": "https://api-sg-b-backup.example.com"},
        "edges": {"discovery": "_meridian-edge._tcp.sg-b.example.com", "static": [], "tls": false},
    });
    let stored = || async {
        let (status, answer) = dev.admin_call("GET", path, None).await;
        assert_eq!(status, 200, "{answer}");
        answer["area"].clone()
    };

    terraform.ok(&["init", "-no-color"]);
    terraform.ok(&["apply", "-no-color", "-auto-approve"]);
    assert_eq!(
        stored().await,
        configured,
        "stored as configured, with the defaults"
    );
    assert_eq!(terraform.plan().0, 0, "no changes right after apply");

    // Changed through the admin API directly: drift, which apply undoes.
    let mut changed = configured.clone();
    changed["api"]["primary"] = json!("https://api-elsewhere.example.com");
    changed["edges"]["static"] = json!(["edge-sg-b-1.example.com:443"]);
    let (status, answer) = dev.admin_call("PUT", path, Some(&changed)).await;
    assert_eq!(status, 200, "{answer}");
    let (code, plan) = terraform.plan();
    assert_eq!(code, 2, "drift is a change to make:\n{plan}");
    assert!(
        plan.contains(r#""https://api-elsewhere.example.com" -> "https://api-sg-b.example.com""#),
        "api_primary drift:\n{plan}"
    );
    assert!(plan.contains("update in-place"), "{plan}");
    terraform.ok(&["apply", "-no-color", "-auto-approve"]);
    assert_eq!(stored().await, configured, "apply undid the drift");

    // Deleted through the admin API: planned to be created again.
    let (status, answer) = dev.admin_call("DELETE", path, None).await;
    assert_eq!((status, answer), (200, json!({"deleted": "SG-B"})));
    let (code, plan) = terraform.plan();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.contains("will be created"), "{plan}");
    terraform.ok(&["apply", "-no-color", "-auto-approve"]);
    assert_eq!(stored().await, configured);

    // An entry Terraform does not know is not taken over by creating: it is imported
    // (by its code, in any case), and then matches the configuration.
    terraform.ok(&["state", "rm", "meridian_area.sg_b"]);
    let output = terraform.run(&["apply", "-no-color", "-auto-approve"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "creating over an entry fails");
    assert!(
        stderr.contains("The area catalog already has an entry for SG-B"),
        "{stderr}"
    );
    terraform.ok(&["import", "-no-color", "meridian_area.sg_b", "sg-b"]);
    let (code, plan) = terraform.plan();
    assert_eq!(
        code, 0,
        "the imported entry matches the configuration:\n{plan}"
    );

    terraform.ok(&["destroy", "-no-color", "-auto-approve"]);
    let (status, answer) = dev.admin_call("GET", path, None).await;
    assert_eq!(status, 404, "destroy removed the entry: {answer}");
    let (_, catalog) = dev.admin_call("GET", "/admin/v1/areas", None).await;
    assert_eq!(catalog, json!({"areas": []}));
}

/// TEST ONLY keys, for credentials the admin API accepts: an APNs .p8 key (P-256) and a
/// service account's RSA key (the push crate's fixture).
const TEST_APNS_KEY: &str = include_str!("testdata/TEST_ONLY_apns_p256.pem");
const TEST_FCM_KEY: &str =
    include_str!("../../../push/src/testdata/TEST_ONLY_fcm_service_account_rsa.pem");

/// The `limits` block of the app settings test, which it later removes.
const LIMITS_TF: &str = r#"
  limits {
    group_member_cap        = 500
    multi_room_chatrooms    = true
    client_sends_per_second = 10
    api_rates {
      default_per_second = 50
      broadcasts_per_day = 5
    }
    retention_days {
      chatroom = 30
    }
  }
"#;

/// The ultra-group push pace and push rate cap of the app settings test, which it later
/// removes.
const ULTRA_GROUP_PUSH_TF: &str = "  ultra_group_push_interval_secs = 600
  push_rate_per_second = 250";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_settings_rules_push_credentials_and_limits_apply_read_back_show_drift_and_plan_clean_despite_redacted_keys(
) {
    let dev = Dev::start().await;
    let main_tf = format!(
        r#"{PROVIDER_TF}
resource "meridian_app" "pushed" {{
  name = "terraform-push"
}}

resource "meridian_app_settings" "pushed" {{
  app_key = meridian_app.pushed.prod_app_key

  moderation_rule {{
    url       = "https://app.example.com/moderate/vip"
    receivers = ["vip-room"]
  }}
  moderation_rule {{
    url                = "https://app.example.com/moderate"
    senders            = ["u1", "u2"]
    conversation_types = [1, 3]
    object_names       = ["RC:TxtMsg", "RC:ImgMsg"]
    timeout_ms         = 1500
    default_action     = "block"
  }}

  push_webhook_url       = "https://app.example.com/push"
  rtc_callback_url       = "https://app.example.com/rtc"
  erasure_callback_url   = "https://app.example.com/erased"
  realtime_conversations = true
  private_files          = true
  push_app {{
    app_id = "com.example.chat"
    apns {{
      team_id         = "TEAM012345"
      key_id          = "KEY0123456"
      private_key_pem = file("apns.pem")
      endpoint        = "https://api.sandbox.push.apple.com"
    }}
  }}
  push_app {{
    app_id = "com.example.chat.android"
    fcm {{
      project_id      = "example-chat"
      client_email    = "push@example-chat.iam.gserviceaccount.com"
      private_key_pem = file("fcm.pem")
    }}
  }}
  push_vendor_app {{
    app_id = "com.example.chat.android"
    huawei {{
      app_id     = "104400000"
      app_secret = "huawei-secret"
    }}
    xiaomi {{
      app_secret   = "xiaomi-secret"
      package_name = "com.example.chat.android"
      endpoint     = "https://mipush.example.com"
    }}
  }}
  push_sound = "chime.caf"
{ULTRA_GROUP_PUSH_TF}
  push_quiet_hours {{
    start_secs     = 79200
    period_minutes = 480
    level          = 1
  }}
{LIMITS_TF}}}

output "app_key" {{
  value = meridian_app.pushed.prod_app_key
}}
"#
    );
    let terraform = Terraform::with_main_tf(&main_tf, &dev.vars());
    let key_file = |name: &str, pem: &str| {
        std::fs::write(terraform.config_dir().join(name), pem).expect("write a key file")
    };
    key_file("apns.pem", TEST_APNS_KEY);
    key_file("fcm.pem", TEST_FCM_KEY);

    terraform.ok(&["init", "-no-color"]);
    terraform.ok(&["apply", "-no-color", "-auto-approve"]);
    let app_key = terraform.outputs()["app_key"]["value"]
        .as_str()
        .expect("app_key output")
        .to_string();
    let path = format!("/admin/v1/apps/{app_key}/settings");
    let (status, answer) = dev.admin_call("GET", &path, None).await;
    assert_eq!(status, 200, "{answer}");
    let settings = answer["settings"].clone();
    assert_eq!(
        settings["callbacks"]["moderation"],
        json!([
            {
                "url": "https://app.example.com/moderate/vip",
                "senders": [], "receivers": ["vip-room"], "conversationTypes": [], "objectNames": [],
                "timeoutMs": 3000, "defaultAction": "pass",
            },
            {
                "url": "https://app.example.com/moderate",
                "senders": ["u1", "u2"], "receivers": [], "conversationTypes": [1, 3],
                "objectNames": ["RC:TxtMsg", "RC:ImgMsg"], "timeoutMs": 1500, "defaultAction": "block",
            },
        ])
    );
    assert_eq!(
        settings["push"],
        json!({
            "apps": [
                {
                    "appId": "com.example.chat",
                    "apns": {
                        "teamId": "TEAM012345", "keyId": "KEY0123456", "privateKeyPem": "<redacted>",
                        "bundleId": "com.example.chat", "endpoint": "https://api.sandbox.push.apple.com",
                    },
                    "fcm": null,
                },
                {
                    "appId": "com.example.chat.android",
                    "apns": null,
                    "fcm": {
                        "projectId": "example-chat",
                        "clientEmail": "push@example-chat.iam.gserviceaccount.com",
                        "privateKeyPem": "<redacted>",
                        "tokenUri": "https://oauth2.googleapis.com/token",
                        "endpoint": "https://fcm.googleapis.com",
                    },
                },
            ],
            "webhookUrl": "https://app.example.com/push",
        })
    );
    // The room callback lives at its own admin path.
    let rtc_path = format!("/admin/v1/apps/{app_key}/rtc-callback");
    let (_, rtc) = dev.admin_call("GET", &rtc_path, None).await;
    assert_eq!(rtc, json!({"url": "https://app.example.com/rtc"}));
    let erasure_path = format!("/admin/v1/apps/{app_key}/erasure-callback");
    let (_, erasure) = dev.admin_call("GET", &erasure_path, None).await;
    assert_eq!(erasure, json!({"url": "https://app.example.com/erased"}));

    // Vendor channels and the push style live at their own paths; the API fills in the
    // vendors' default URLs and redacts their secrets.
    let vendors_path = format!("/admin/v1/apps/{app_key}/push-vendors");
    let (_, vendors) = dev.admin_call("GET", &vendors_path, None).await;
    let channels = &vendors["pushVendors"]["apps"][0]["channels"];
    assert_eq!(
        vendors["pushVendors"]["apps"][0]["appId"],
        "com.example.chat.android"
    );
    assert_eq!(channels[0]["huawei"]["appId"], "104400000", "{vendors}");
    assert_eq!(channels[0]["huawei"]["appSecret"], "<redacted>");
    assert!(channels[0]["huawei"]["endpoint"]
        .as_str()
        .is_some_and(|e| e.starts_with("https://")));
    assert_eq!(
        channels[1]["xiaomi"],
        json!({"appSecret": "<redacted>", "packageName": "com.example.chat.android",
            "endpoint": "https://mipush.example.com"})
    );
    let style_path = format!("/admin/v1/apps/{app_key}/push-style");
    let (_, style) = dev.admin_call("GET", &style_path, None).await;
    assert_eq!(
        style["pushStyle"],
        json!({"sound": "chime.caf", "quietHours": {"startSecs": 79200, "periodMinutes": 480, "level": 1}})
    );
    let pace_path = format!("/admin/v1/apps/{app_key}/ultra-group-push");
    let (_, pace) = dev.admin_call("GET", &pace_path, None).await;
    assert_eq!(pace, json!({"ultraGroupPush": {"intervalSecs": 600}}));
    let rate_path = format!("/admin/v1/apps/{app_key}/push-rate");
    let (_, rate) = dev.admin_call("GET", &rate_path, None).await;
    assert_eq!(rate, json!({"pushRate": {"perSecond": 250}}));
    let features_path = format!("/admin/v1/apps/{app_key}/sdk-features");
    let (_, features) = dev.admin_call("GET", &features_path, None).await;
    assert_eq!(features["sdkFeatures"]["realtimeConversations"], true);
    let access_path = format!("/admin/v1/apps/{app_key}/file-access");
    let (_, access) = dev.admin_call("GET", &access_path, None).await;
    assert_eq!(access, json!({"fileAccess": {"private": true}}));
    let limits_path = format!("/admin/v1/apps/{app_key}/limits");
    let (_, limits) = dev.admin_call("GET", &limits_path, None).await;
    assert_eq!(
        limits["limits"],
        json!({
            "groupMemberCap": 500, "multiRoomChatrooms": true, "clientSendsPerSecond": 10,
            "apiRates": {
                "defaultPerSecond": 50, "getTokenPerSecond": null, "privateMessagesPerMinute": null,
                "groupPublishPerSecond": null, "chatroomPublishPerSecond": null,
                "ultraGroupPublishPerSecond": null, "chatroomBroadcastPerSecond": null,
                "broadcastsPerHour": null, "broadcastsPerDay": 5,
            },
            "retentionDays": {"private": 180, "group": 180, "ultraGroup": 7, "chatroom": 30},
        }),
        "rates left out stay null (the API's defaults)"
    );

    // The API shows "<redacted>" for the keys; the state keeps the configured ones, also
    // once a refresh is saved, so nothing flaps.
    let (code, plan) = terraform.plan();
    assert_eq!(code, 0, "no diff from the redacted keys:\n{plan}");
    terraform.ok(&["apply", "-no-color", "-auto-approve", "-refresh-only"]);
    let (code, plan) = terraform.plan();
    assert_eq!(code, 0, "still none after a saved refresh:\n{plan}");

    // A new key in the configuration is a change to make.
    key_file(
        "apns.pem",
        "-----BEGIN PRIVATE KEY-----\nANOTHERKEY\n-----END PRIVATE KEY-----\n",
    );
    let (code, plan) = terraform.plan();
    assert_eq!(code, 2, "a rotated key is planned:\n{plan}");
    assert!(
        plan.contains("private_key_pem = (sensitive value)"),
        "{plan}"
    );
    key_file("apns.pem", TEST_APNS_KEY);

    // Rules and credentials changed through the admin API show as drift; applying
    // writes the configured keys again (the API would refuse its placeholder for an
    // app identifier it no longer has).
    let mut changed = settings.clone();
    changed["callbacks"]["moderation"][1]["timeoutMs"] = json!(2500);
    changed["push"]["apps"] = json!([settings["push"]["apps"][0].clone()]);
    let (status, answer) = dev.admin_call("PUT", &path, Some(&changed)).await;
    assert_eq!(status, 200, "{answer}");
    let elsewhere = json!({"url": "https://elsewhere.example.com/rtc"});
    let (status, answer) = dev.admin_call("PUT", &rtc_path, Some(&elsewhere)).await;
    assert_eq!(status, 200, "{answer}");
    let unset = json!({"url": null});
    let (status, answer) = dev.admin_call("PUT", &erasure_path, Some(&unset)).await;
    assert_eq!(status, 200, "{answer}");
    let quieter = json!({"sound": "bell.caf"});
    let (status, answer) = dev.admin_call("PUT", &style_path, Some(&quieter)).await;
    assert_eq!(status, 200, "{answer}");
    let uncapped = json!({"perSecond": 0});
    let (status, answer) = dev.admin_call("PUT", &rate_path, Some(&uncapped)).await;
    assert_eq!(status, 200, "{answer}");
    let faster = json!({"intervalSecs": 30});
    let (status, answer) = dev.admin_call("PUT", &pace_path, Some(&faster)).await;
    assert_eq!(status, 200, "{answer}");
    let off = json!({"realtimeConversations": false});
    let (status, answer) = dev.admin_call("PUT", &features_path, Some(&off)).await;
    assert_eq!(status, 200, "{answer}");
    let public = json!({"private": false});
    let (status, answer) = dev.admin_call("PUT", &access_path, Some(&public)).await;
    assert_eq!(status, 200, "{answer}");
    let mut bigger_groups = limits["limits"].clone();
    bigger_groups["groupMemberCap"] = json!(600);
    let (status, answer) = dev
        .admin_call("PUT", &limits_path, Some(&bigger_groups))
        .await;
    assert_eq!(status, 200, "{answer}");
    let (code, plan) = terraform.plan();
    assert_eq!(code, 2, "{plan}");
    let flat = single_spaced(&plan);
    assert!(plan.contains("2500 -> 1500"), "timeout_ms drift:\n{plan}");
    assert!(
        plan.contains(r#""https://elsewhere.example.com/rtc" -> "https://app.example.com/rtc""#),
        "rtc_callback_url drift:\n{plan}"
    );
    assert!(
        plan.contains(r#"+ erasure_callback_url"#),
        "erasure_callback_url drift:\n{plan}"
    );
    assert!(
        plan.contains(r#"+ app_id = "com.example.chat.android""#),
        "push_app drift:\n{plan}"
    );
    assert!(
        plan.contains(r#""bell.caf" -> "chime.caf""#) && plan.contains("+ push_quiet_hours"),
        "push style drift:\n{plan}"
    );
    assert!(
        flat.contains("~ ultra_group_push_interval_secs = 30 -> 600"),
        "ultra_group_push_interval_secs drift:\n{plan}"
    );
    assert!(
        flat.contains("~ push_rate_per_second = 0 -> 250"),
        "push_rate_per_second drift:\n{plan}"
    );
    assert!(
        flat.contains("~ realtime_conversations = false -> true"),
        "realtime_conversations drift:\n{plan}"
    );
    assert!(
        flat.contains("~ private_files = false -> true"),
        "private_files drift:\n{plan}"
    );
    assert!(
        flat.contains("~ limits { ~ group_member_cap = 600 -> 500"),
        "limits drift:\n{plan}"
    );
    terraform.ok(&["apply", "-no-color", "-auto-approve"]);
    let (_, answer) = dev.admin_call("GET", &path, None).await;
    assert_eq!(answer["settings"], settings, "apply undid the drift");
    let (_, restyled) = dev.admin_call("GET", &style_path, None).await;
    assert_eq!(restyled, style);
    let (_, rtc) = dev.admin_call("GET", &rtc_path, None).await;
    assert_eq!(rtc["url"], "https://app.example.com/rtc");
    let (_, erasure) = dev.admin_call("GET", &erasure_path, None).await;
    assert_eq!(erasure["url"], "https://app.example.com/erased");
    let (_, repaced) = dev.admin_call("GET", &pace_path, None).await;
    assert_eq!(repaced, pace);
    let (_, recapped) = dev.admin_call("GET", &rate_path, None).await;
    assert_eq!(recapped, rate);
    let (_, features) = dev.admin_call("GET", &features_path, None).await;
    assert_eq!(features["sdkFeatures"]["realtimeConversations"], true);
    let (_, reopened) = dev.admin_call("GET", &access_path, None).await;
    assert_eq!(reopened, access);
    let (_, relimited) = dev.admin_call("GET", &limits_path, None).await;
    assert_eq!(relimited, limits);
    assert_eq!(terraform.plan().0, 0);

    // Imported settings have no keys to compare: the one plan after an import writes
    // the configured keys, and then there is nothing to do.
    terraform.ok(&["state", "rm", "meridian_app_settings.pushed"]);
    terraform.ok(&[
        "import",
        "-no-color",
        "meridian_app_settings.pushed",
        &app_key,
    ]);
    let (code, plan) = terraform.plan();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.contains("1 to change"), "{plan}");
    assert!(!plan.contains("limits {"), "imported limits match:\n{plan}");
    assert!(
        !plan.contains("ultra_group_push_interval_secs"),
        "the imported pace matches:\n{plan}"
    );
    terraform.ok(&["apply", "-no-color", "-auto-approve"]);
    assert_eq!(terraform.plan().0, 0);

    // Removing the limits block and the ultra-group push pace puts the API's defaults
    // back.
    let without_limits = main_tf
        .replace(LIMITS_TF, "\n")
        .replace(ULTRA_GROUP_PUSH_TF, "");
    std::fs::write(terraform.config_dir().join("main.tf"), without_limits).expect("main.tf");
    let (code, plan) = terraform.plan();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.contains("- limits {"), "{plan}");
    assert!(
        single_spaced(&plan).contains("~ ultra_group_push_interval_secs = 600 -> 0"),
        "{plan}"
    );
    terraform.ok(&["apply", "-no-color", "-auto-approve"]);
    let (_, pace) = dev.admin_call("GET", &pace_path, None).await;
    assert_eq!(pace, json!({"ultraGroupPush": {"intervalSecs": 0}}));
    let (_, rate) = dev.admin_call("GET", &rate_path, None).await;
    assert_eq!(rate, json!({"pushRate": {"perSecond": 0}}));
    let (_, limits) = dev.admin_call("GET", &limits_path, None).await;
    assert_eq!(limits["limits"]["groupMemberCap"], 3000, "{limits}");
    assert_eq!(limits["limits"]["multiRoomChatrooms"], false);
    assert_eq!(limits["limits"]["clientSendsPerSecond"], Value::Null);
    let rates = limits["limits"]["apiRates"].as_object().expect("apiRates");
    assert!(rates.values().all(Value::is_null), "{limits}");
    assert_eq!(
        limits["limits"]["retentionDays"],
        json!({"private": 180, "group": 180, "ultraGroup": 7, "chatroom": 60})
    );
    assert_eq!(terraform.plan().0, 0);

    terraform.ok(&["destroy", "-no-color", "-auto-approve"]);
    let (status, _) = dev.admin_call("GET", &path, None).await;
    assert_eq!(status, 404, "the app and its settings are gone");
}

/// A private CA and a certificate it signs for 127.0.0.1 and localhost, written into
/// `dir`: (CA certificate, certificate, key), PEM files.
fn private_ca_and_certificate(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "Meridian terraform test CA");
    let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let key = rcgen::KeyPair::generate().expect("edge key");
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
        .expect("edge params")
        .signed_by(&key, &issuer)
        .expect("edge certificate");
    let files = (
        dir.join("ca.pem"),
        dir.join("edge.pem"),
        dir.join("edge.key"),
    );
    std::fs::write(&files.0, ca_cert.pem()).expect("write ca.pem");
    std::fs::write(&files.1, cert.pem()).expect("write edge.pem");
    std::fs::write(&files.2, key.serialize_pem()).expect("write edge.key");
    files
}

/// A `meridian edge` process serving `https://` (a certificate from a private CA) in
/// front of a `Dev`'s SG cluster. It also fronts NA (a cluster nobody runs), so admin
/// calls without the area header are refused: the edge cannot tell which area they are
/// for.
struct TlsEdge {
    /// `https://127.0.0.1:<port>`: its public listener, where `/admin/v1` is served.
    url: String,
    ca_file: PathBuf,
    token: String,
    _process: Process,
    _dir: tempfile::TempDir,
}

impl TlsEdge {
    async fn start(dev: &Dev) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (ca_file, cert, key) = private_ca_and_certificate(dir.path());
        let sg_cluster: Vec<String> = dev.deployment.endpoints["areas"]["SG"]["cluster"]
            .as_array()
            .expect("SG cluster in endpoints.json")
            .iter()
            .map(|node| format!("{:?}", node["rpc"].as_str().expect("node rpc address")))
            .collect();
        let (public, admin, nowhere) = (free_port(), free_port(), free_port());
        let config = dir.path().join("edge.toml");
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:{public}\"\nadmin_listen = \"127.0.0.1:{admin}\"\n\
                 operator_token = {:?}\n\n\
                 [[areas]]\narea = \"SG\"\ncluster = [{}]\n\n\
                 [[areas]]\narea = \"NA\"\ncluster = [\"127.0.0.1:{nowhere}\"]\n\n\
                 [public_tls]\ncert = {cert:?}\nkey = {key:?}\n",
                dev.token,
                sg_cluster.join(", "),
            ),
        )
        .expect("edge config");
        let process = Process::spawn(
            Command::new(&dev.binary)
                .args(["edge", "--config"])
                .arg(&config)
                .env("RUST_LOG", "error"),
        );
        listening(public, "the TLS edge's public port").await;
        Self {
            url: format!("https://127.0.0.1:{public}"),
            ca_file,
            token: dev.token.clone(),
            _process: process,
            _dir: dir,
        }
    }

    /// An admin API call made directly over TLS, trusting the private CA, with the area
    /// header when `area` is given.
    async fn admin_call(&self, area: Option<&str>, path: &str) -> (u16, Value) {
        let client =
            meridian_rpc::OutboundClient::with_ca_files(std::slice::from_ref(&self.ca_file))
                .expect("trust the private CA");
        let bearer = format!("Bearer {}", self.token);
        let mut headers = vec![("authorization", bearer.as_str())];
        headers.extend(area.map(|area| ("x-meridian-area", area)));
        let answer = client
            .request(
                http::Method::GET,
                &format!("{}{path}", self.url),
                &headers,
                bytes::Bytes::new(),
                Duration::from_secs(10),
            )
            .await
            .expect("admin API call over TLS");
        let json = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        (answer.status, json)
    }
}

/// A provider block set entirely from variables (null: the setting is left out), and
/// one app.
const SETTINGS_TF: &str = r#"
terraform {
  required_providers {
    meridian = { source = "meridian.local/meridian/meridian", version = "0.1.0" }
  }
}

variable "endpoint" { type = string }
variable "token" { type = string }
variable "ca_file" {
  type    = string
  default = null
}
variable "area" {
  type    = string
  default = null
}
variable "app_name" { type = string }

provider "meridian" {
  endpoint = var.endpoint
  token    = var.token
  ca_file  = var.ca_file
  area     = var.area
}

resource "meridian_app" "over_tls" {
  name      = var.app_name
  home_area = "SG"
}

output "app_key" {
  value = meridian_app.over_tls.prod_app_key
}
"#;

/// Terraform's stderr with its line wrapping undone.
fn errors_of(output: &Output) -> String {
    single_spaced(&String::from_utf8_lossy(&output.stderr))
}

/// `text` with every run of whitespace one space: Terraform wraps long messages and
/// aligns the `=` of a block's attributes.
fn single_spaced(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_edge_fronting_several_areas_is_driven_with_ca_file_and_area() {
    let dev = Dev::start().await;
    let edge = TlsEdge::start(&dev).await;
    // The edge needs to be told the area: without the header it refuses the call.
    let (status, answer) = edge.admin_call(None, "/admin/v1/apps").await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("x-meridian-area")),
        "{answer}"
    );
    let (status, answer) = edge.admin_call(Some("SG"), "/admin/v1/apps").await;
    assert_eq!(status, 200, "{answer}");

    let ca_file = edge.ca_file.display().to_string();
    let terraform = Terraform::with_main_tf(
        SETTINGS_TF,
        &[
            ("endpoint", &edge.url),
            ("token", &dev.token),
            ("ca_file", &ca_file),
            ("area", "SG"),
            ("app_name", "terraform-over-tls"),
        ],
    );
    terraform.ok(&["init", "-no-color"]);
    terraform.ok(&["apply", "-no-color", "-auto-approve"]);
    let app_key = terraform.outputs()["app_key"]["value"]
        .as_str()
        .expect("app_key output")
        .to_string();
    let app_path = format!("/admin/v1/apps/{app_key}");
    let (status, answer) = dev.admin_call("GET", &app_path, None).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (&answer["app"]["name"], &answer["app"]["home"]),
        (&json!("terraform-over-tls"), &json!("SG"))
    );
    assert_eq!(terraform.plan().0, 0, "read back over TLS: no changes");

    // Without the CA, the edge's certificate is not trusted and nothing is created.
    let mut untrusted = Terraform::with_main_tf(
        SETTINGS_TF,
        &[
            ("endpoint", &edge.url),
            ("token", &dev.token),
            ("app_name", "terraform-untrusted"),
        ],
    );
    untrusted.set_env("MERIDIAN_AREA", "SG");
    untrusted.ok(&["init", "-no-color"]);
    let output = untrusted.run(&["apply", "-no-color", "-auto-approve"]);
    assert!(!output.status.success(), "an untrusted certificate fails");
    let errors = errors_of(&output);
    for expected in [
        "admin API unreachable",
        "invalid peer certificate: UnknownIssuer",
        "set ca_file or MERIDIAN_CA_FILE",
    ] {
        assert!(errors.contains(expected), "{expected:?} in:\n{errors}");
    }
    let app_names = || async {
        let (status, listed) = dev.admin_call("GET", "/admin/v1/apps", None).await;
        assert_eq!(status, 200, "{listed}");
        listed["apps"]
            .as_array()
            .expect("apps")
            .iter()
            .filter_map(|app| app["name"].as_str().map(str::to_string))
            .collect::<Vec<_>>()
    };
    assert!(
        !app_names()
            .await
            .contains(&"terraform-untrusted".to_string()),
        "nothing was created"
    );

    // The CA and the area from the environment (the edge refuses calls without the
    // area, so both are used).
    untrusted.set_env("MERIDIAN_CA_FILE", &ca_file);
    untrusted.ok(&["apply", "-no-color", "-auto-approve"]);
    let other_key = untrusted.outputs()["app_key"]["value"]
        .as_str()
        .expect("app_key output")
        .to_string();
    let (status, answer) = dev
        .admin_call("GET", &format!("/admin/v1/apps/{other_key}"), None)
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["app"]["name"], "terraform-untrusted");

    untrusted.ok(&["destroy", "-no-color", "-auto-approve"]);
    terraform.ok(&["destroy", "-no-color", "-auto-approve"]);
    let names = app_names().await;
    assert!(
        !names.iter().any(|name| name.starts_with("terraform-")),
        "destroy over TLS removed both apps: {names:?}"
    );
}

/// The provider's own settings are checked while planning, before any call: the
/// endpoint's scheme and the area code by validation, the CA file when configuring.
#[test]
fn plan_refuses_a_bad_endpoint_area_or_ca_file() {
    let terraform = Terraform::with_main_tf(
        SETTINGS_TF,
        &[
            ("endpoint", "ftp://127.0.0.1:9"),
            ("token", "unused"),
            ("area", "XX"),
            ("app_name", "never"),
        ],
    );
    terraform.ok(&["init", "-no-color"]);
    let output = terraform.run(&["plan", "-no-color"]);
    assert!(!output.status.success());
    let errors = errors_of(&output);
    for expected in [
        "Invalid endpoint",
        r#""ftp://127.0.0.1:9" is neither http:// nor https://"#,
        "Invalid area",
        r#"unknown area code "XX", expected one of CN, SG, SG-B, NA, SA"#,
    ] {
        assert!(errors.contains(expected), "{expected:?} in:\n{errors}");
    }
    assert!(
        !errors.contains("unreachable"),
        "no call was tried:\n{errors}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing-ca.pem").display().to_string();
    let terraform = Terraform::with_main_tf(
        SETTINGS_TF,
        &[
            ("endpoint", "https://127.0.0.1:9"),
            ("token", "unused"),
            ("ca_file", &missing),
            ("area", "SG"),
            ("app_name", "never"),
        ],
    );
    terraform.ok(&["init", "-no-color"]);
    let output = terraform.run(&["plan", "-no-color"]);
    assert!(!output.status.success());
    let errors = errors_of(&output);
    for expected in ["Invalid ca_file", &missing] {
        assert!(errors.contains(expected), "{expected:?} in:\n{errors}");
    }
    assert!(
        !errors.contains("unreachable"),
        "no call was tried:\n{errors}"
    );
}
