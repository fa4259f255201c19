//! The commercial service's published Python server SDK (PyPI `rongcloud` 2.0.1), used as
//! an app server uses it, against `meridian dev` with nothing changed but its base URL.

use std::path::{Path, PathBuf};
use std::process::Command;

use meridian_testkit::DevDeployment;

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_meridian"))
}

const SDK: &str = "rongcloud==2.0.1";

/// Where the SDK is installed (`pip install --target`); `scripts/test` installs it there first.
fn sdk_dir() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    home.join(".cache/meridian-sdk/python")
}

fn ensure_sdk(dir: &Path) {
    if dir.join("rongcloud").is_dir() && dir.join("requests").is_dir() {
        return;
    }
    let status = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "--target"])
        .arg(dir)
        .args([SDK, "requests"])
        .status()
        .expect("python3 is needed to run the published SDK");
    assert!(
        status.success(),
        "could not install {SDK} from PyPI into {}",
        dir.display()
    );
}

// covers: API-01
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_published_python_sdk_runs_an_app_server_scenario_unchanged() {
    let dir = sdk_dir();
    ensure_sdk(&dir);
    let dev = DevDeployment::start(binary(), "SG", 1).await;
    let (key, secret) = dev.app("SG", "prod");
    let scenario =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/rongcloud_python_scenario.py");
    let output = tokio::process::Command::new("python3")
        .arg(&scenario)
        .env("PYTHONPATH", &dir)
        .env("MERIDIAN_API", dev.api("SG"))
        .env("MERIDIAN_APP_KEY", key)
        .env("MERIDIAN_APP_SECRET", secret)
        .output()
        .await
        .expect("run the scenario");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "scenario failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.trim_end().ends_with("scenario complete"), "{stdout}");
    let steps = stdout.lines().filter(|l| l.starts_with("ok ")).count();
    assert_eq!(steps, 29, "{stdout}");
}
