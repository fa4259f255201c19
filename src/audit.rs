//! `meridian audit`: checks of what is on the nodes' disks (NAV-05 residency, LIFE-02
//! erasure), printed as JSON lines; a finding makes the command fail.

use std::path::PathBuf;

use anyhow::bail;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Search every node data dir (stopped) for records of apps homed in another area:
    /// state machine, Raft log and snapshots, and the local file store beside an area's
    /// nodes. One JSON line per finding, then a summary; non-zero exit if anything is
    /// foreign.
    Residency {
        /// A node's data dir, or a directory holding several (such as `meridian dev`'s).
        #[arg(long, required = true)]
        data_dir: Vec<PathBuf>,
    },
    /// Search every node data dir (running or stopped: files are only read) for an erased
    /// user's traces: each `--text` (their user id, a phrase they wrote) in the state
    /// machine, the Raft log and the snapshots. One JSON line per finding; non-zero exit if anything is found
    /// (docs/operations.md says when an erasure has reached the disk).
    Erasure {
        #[arg(long, required = true)]
        data_dir: Vec<PathBuf>,
        #[arg(long, required = true)]
        text: Vec<String>,
    },
}

pub fn run(command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Residency { data_dir } => {
            let report = meridian_cluster::audit::residency(&data_dir)?;
            for finding in &report.findings {
                println!("{}", serde_json::to_string(finding)?);
            }
            println!(
                "{}",
                serde_json::json!({
                    "nodes": report.nodes.len(),
                    "apps": report.apps,
                    "files": report.files_scanned,
                    "bytes": report.bytes_scanned,
                    "stores": report.stores.len(),
                    "objects": report.objects_scanned,
                    "foreign": report.findings.len(),
                })
            );
            if !report.findings.is_empty() {
                bail!("records of apps homed in another area were found");
            }
            Ok(())
        }
        AuditCommand::Erasure { data_dir, text } => {
            let findings = meridian_cluster::audit::find_text(&data_dir, &text)?;
            for finding in &findings {
                println!("{}", serde_json::to_string(finding)?);
            }
            if !findings.is_empty() {
                bail!("an erased user's traces were found");
            }
            Ok(())
        }
    }
}
