//! Which `meridian dev` deployment, and which of its demo apps, a command talks to. The
//! deployment is found the way `meridian dev` was told where to put it: `--data-dir`, else
//! `MERIDIAN_DEV_DATA_DIR`, else `meridian-data`.

use std::path::PathBuf;

use clap::Args;
use meridian_dev::endpoints::{endpoints_path, DATA_DIR_ENV, DEFAULT_DATA_DIR};

#[derive(Args, Clone)]
pub struct EndpointsFile {
    /// The data dir `meridian dev` was started with; its endpoints.json is read.
    #[arg(long, global = true, default_value = DEFAULT_DATA_DIR, env = DATA_DIR_ENV)]
    data_dir: PathBuf,
    /// Read this endpoints.json instead of the one in --data-dir.
    #[arg(long, global = true)]
    endpoints: Option<PathBuf>,
}

impl EndpointsFile {
    pub fn path(&self) -> PathBuf {
        self.endpoints
            .clone()
            .unwrap_or_else(|| endpoints_path(&self.data_dir))
    }
}

#[derive(Args, Clone)]
pub struct DemoApp {
    #[command(flatten)]
    pub endpoints: EndpointsFile,
    /// The area whose demo app to use.
    #[arg(long, global = true, default_value = "SG")]
    pub area: String,
    /// The demo app's environment: `dev` (listed first by `meridian dev`) or `prod`.
    #[arg(long, global = true, default_value = "dev")]
    pub env: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        file: EndpointsFile,
    }

    fn path(args: &[&str]) -> PathBuf {
        Command::try_parse_from([&["meridian"], args].concat())
            .unwrap()
            .file
            .path()
    }

    #[test]
    fn endpoints_json_is_read_from_the_data_dir_unless_named() {
        assert_eq!(
            path(&["--data-dir", "/srv/dev"]),
            PathBuf::from("/srv/dev/endpoints.json")
        );
        assert_eq!(
            path(&["--data-dir", "/srv/dev", "--endpoints", "/tmp/e.json"]),
            PathBuf::from("/tmp/e.json")
        );
    }
}
