//! The AWS area module and the global example with the real terraform binary, offline:
//! the AWS provider comes from the machine's filesystem mirror (`/opt/tf-plugins`), so
//! nothing reaches AWS. `fmt`, `init`, `validate`, the module's own `terraform test`
//! (plan-level assertions and validation failures), and a plan of all five areas whose
//! cloud-init is checked to write configurations Meridian itself accepts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine;
use meridian_cluster::NodeConfig;
use meridian_edge::EdgeConfig;
use meridian_files::StoreConfig;
use meridian_nav::NavConfig;
use serde_json::Value;

const PROVIDER_MIRROR: &str = "/opt/tf-plugins";

fn terraform_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("terraform")
}

/// The CLI configuration pointing terraform at the local mirror of the AWS provider.
fn cli_config(dir: &Path) -> PathBuf {
    assert!(
        Path::new(PROVIDER_MIRROR)
            .join("registry.terraform.io/hashicorp/aws")
            .is_dir(),
        "the AWS provider mirror {PROVIDER_MIRROR} is missing: this test needs it"
    );
    let path = dir.join("terraformrc");
    std::fs::write(
        &path,
        format!(
            r#"provider_installation {{
  filesystem_mirror {{
    path    = "{PROVIDER_MIRROR}"
    include = ["registry.terraform.io/hashicorp/aws"]
  }}
  direct {{
    exclude = ["registry.terraform.io/hashicorp/aws"]
  }}
}}
"#
        ),
    )
    .unwrap();
    path
}

struct Terraform {
    config: PathBuf,
}

impl Terraform {
    fn new(work: &Path) -> Self {
        let found = Command::new("terraform").arg("version").output();
        assert!(
            found.as_ref().is_ok_and(|o| o.status.success()),
            "the terraform binary is missing from PATH: this test needs it ({found:?})"
        );
        Self {
            config: cli_config(work),
        }
    }

    fn run(&self, dir: &Path, args: &[&str]) -> Output {
        Command::new("terraform")
            .args(args)
            .current_dir(dir)
            .env("TF_CLI_CONFIG_FILE", &self.config)
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            // Dummy credentials: the example skips the provider's credential checks.
            .env("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE00")
            .env("AWS_SECRET_ACCESS_KEY", "dummy-secret-for-offline-plans")
            .env_remove("AWS_PROFILE")
            .output()
            .expect("run terraform")
    }

    /// Runs and insists on success; answers stdout.
    fn ok(&self, dir: &Path, args: &[&str]) -> String {
        let output = self.run(dir, args);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "terraform {args:?} in {} failed:\n{stdout}\n{}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != ".terraform" {
                copy_dir(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The first file cloud-init writes: the role's configuration (TOML).
fn written_config(user_data_base64: &str) -> String {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(user_data_base64)
        .expect("user_data is base64");
    let cloud_init = String::from_utf8(bytes).unwrap();
    assert!(cloud_init.starts_with("#cloud-config"), "{cloud_init}");
    cloud_init
        .lines()
        .skip_while(|line| line.trim() != "content: |")
        .skip(1)
        .take_while(|line| !line.starts_with("  - path:"))
        .map(|line| line.strip_prefix("      ").unwrap_or(line.trim()))
        .collect::<Vec<_>>()
        .join("\n")
}

// covers: NAV-02, NAV-03, NAV-04
#[test]
fn the_aws_area_module_and_the_global_example_plan_offline_with_valid_meridian_configs() {
    let work = tempfile::tempdir().unwrap();
    let terraform = Terraform::new(work.path());
    let source = terraform_dir();
    terraform.ok(&source, &["fmt", "-check", "-recursive", "-diff"]);

    // The module's own tests: plan-level assertions and refused variables.
    copy_dir(&source.join("modules"), &work.path().join("modules"));
    copy_dir(
        &source.join("examples/global"),
        &work.path().join("examples/global"),
    );
    let module = work.path().join("modules/aws-area");
    terraform.ok(&module, &["init", "-input=false", "-no-color"]);
    terraform.ok(&module, &["validate", "-no-color"]);
    let tested = terraform.ok(&module, &["test", "-no-color"]);
    assert!(tested.contains("7 passed, 0 failed"), "{tested}");

    // All five areas plan with dummy credentials.
    let global = work.path().join("examples/global");
    terraform.ok(&global, &["init", "-input=false", "-no-color"]);
    terraform.ok(&global, &["validate", "-no-color"]);
    terraform.ok(
        &global,
        &[
            "plan",
            "-input=false",
            "-no-color",
            "-var-file=example.tfvars",
            "-var",
            "skip_aws_checks=true",
            "-out",
            "plan.out",
        ],
    );
    let plan: Value = serde_json::from_str(&terraform.ok(&global, &["show", "-json", "plan.out"]))
        .expect("plan JSON");
    let changes = plan["resource_changes"].as_array().unwrap();
    let mut per_area: BTreeMap<String, usize> = BTreeMap::new();
    for change in changes {
        assert_eq!(change["change"]["actions"], serde_json::json!(["create"]));
        *per_area
            .entry(change["module_address"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let modules = [
        "module.cn",
        "module.na",
        "module.sa",
        "module.sg",
        "module.sg_b",
    ];
    assert_eq!(per_area.keys().collect::<Vec<_>>(), modules);
    let counts: Vec<usize> = per_area.values().copied().collect();
    assert!(
        counts.windows(2).all(|w| w[0] == w[1]) && counts[0] > 30,
        "every area plans the same set: {per_area:?}"
    );

    let expected_store = BTreeMap::from([
        (
            "module.cn",
            ("meridian-cn-files-chat-example-com", "cn-northwest-1"),
        ),
        (
            "module.sg",
            ("meridian-sg-files-chat-example-com", "ap-southeast-1"),
        ),
        (
            "module.sg_b",
            ("meridian-sg-b-files-chat-example-com", "ap-southeast-3"),
        ),
        (
            "module.na",
            ("meridian-na-files-chat-example-com", "us-east-1"),
        ),
        (
            "module.sa",
            ("meridian-sa-files-chat-example-com", "sa-east-1"),
        ),
    ]);
    // What cloud-init writes is a configuration Meridian accepts, for every role.
    let mut checked = BTreeMap::<&str, usize>::new();
    for change in changes {
        if change["type"] != "aws_launch_template" {
            continue;
        }
        let role = change["name"].as_str().unwrap();
        if role == "media" {
            // Its configuration names the Elastic IP allocated at apply, so a real plan
            // cannot show it; the module's own test checks it with a mocked address.
            assert_eq!(change["change"]["after_unknown"]["user_data"], true);
            *checked.entry(role).or_default() += 1;
            continue;
        }
        let toml_text = written_config(change["change"]["after"]["user_data"].as_str().unwrap());
        match role {
            "node" => {
                let config: NodeConfig = toml::from_str(&toml_text)
                    .unwrap_or_else(|e| panic!("node config: {e}\n{toml_text}"));
                config.validate().expect("a valid node config");
                assert_eq!(config.peers.len(), 3);
            }
            "edge" => {
                let config: EdgeConfig = toml::from_str(&toml_text)
                    .unwrap_or_else(|e| panic!("edge config: {e}\n{toml_text}"));
                config.validate().expect("a valid edge config");
                assert_eq!(config.areas[0].cluster.len(), 3);
                // Files stay in the area: its own bucket, in its own region (FILE-02).
                let module = change["module_address"].as_str().unwrap();
                let Some(StoreConfig::S3 { bucket, region, .. }) = &config.areas[0].files else {
                    panic!("{module}'s edges have no S3 file store:\n{toml_text}");
                };
                assert_eq!(
                    (bucket.as_str(), region.as_str()),
                    expected_store[module],
                    "{module}"
                );
            }
            "nav" => {
                let config: NavConfig = toml::from_str(&toml_text)
                    .unwrap_or_else(|e| panic!("nav config: {e}\n{toml_text}"));
                config.validate().expect("a valid nav config");
                let area = &config.areas[0];
                assert!(area
                    .srv
                    .as_deref()
                    .is_some_and(|s| s.starts_with("_meridian-edge._tcp.")));
                assert_eq!(area.nav.len(), 2);
            }
            other => panic!("unexpected launch template {other}"),
        }
        *checked.entry(role).or_default() += 1;
    }
    assert_eq!(
        checked,
        BTreeMap::from([("edge", 5), ("media", 5), ("nav", 10), ("node", 15)])
    );
}
