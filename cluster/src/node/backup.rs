//! Taking a backup on the leader (LIFE-06): a snapshot at or after every entry committed
//! when the backup was asked for, so it holds every write acknowledged before. Writes go
//! on meanwhile; the snapshot copy holds the apply lock a chunk at a time.

use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::errors::{LinearizableReadError, RaftError};
use openraft::ReadPolicy;

use super::rpc::not_leader;
use super::NodeCore;
use crate::api::{ApiReply, BACKUP_CALL_TIMEOUT};

/// The snapshot must be ready within this, leaving time to send it.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(BACKUP_CALL_TIMEOUT.as_secs() * 3 / 4);

pub(super) async fn take(core: &NodeCore) -> ApiReply {
    let committed = match core.raft.ensure_linearizable(ReadPolicy::ReadIndex).await {
        Ok(read) => read.log_id().index,
        Err(RaftError::APIError(LinearizableReadError::ForwardToLeader(forward))) => {
            return not_leader(core, &forward)
        }
        Err(e) => return ApiReply::Unavailable(e.to_string()),
    };
    let mut metrics = core.raft.metrics();
    let built = tokio::time::timeout(SNAPSHOT_WAIT, async {
        loop {
            let newest = metrics
                .borrow_watched()
                .snapshot
                .as_ref()
                .map(|id| id.index);
            if newest.is_some_and(|index| index >= committed) {
                return Ok::<(), String>(());
            }
            // Ignored while another snapshot is being built; asked again once it is done.
            core.raft
                .trigger()
                .snapshot()
                .await
                .map_err(|e| e.to_string())?;
            metrics.changed().await.map_err(|e| e.to_string())?;
        }
    })
    .await;
    match built {
        Ok(Ok(())) => {}
        Ok(Err(reason)) => return ApiReply::Unavailable(format!("snapshot: {reason}")),
        Err(_) => {
            return ApiReply::Unavailable(format!(
                "no snapshot of index {committed} within {SNAPSHOT_WAIT:?}"
            ))
        }
    }
    match core.state_machine.newest_snapshot_bytes() {
        Ok(Some(bytes)) => {
            tracing::info!(index = committed, bytes = bytes.len(), "backup taken");
            ApiReply::Backup(bytes.into())
        }
        Ok(None) => ApiReply::Unavailable("the snapshot file is gone".into()),
        Err(e) => ApiReply::Unavailable(format!("reading the snapshot: {e}")),
    }
}
