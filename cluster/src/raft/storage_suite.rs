//! openraft's own storage conformance suite, run on our log store and state machine.

use meridian_regions::AreaCode;
use openraft::testing::log::{StoreBuilder, Suite};
use openraft::type_config::TypeConfigExt;
use openraft::StorageError;
use prometheus::Registry;

use super::log_store::{LogStore, LogTuning};
use super::state_machine::StateMachineStore;
use super::TypeConfig;
use crate::metrics::ClusterMetrics;

struct Builder;

impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, tempfile::TempDir> for Builder {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, LogStore, StateMachineStore), StorageError<TypeConfig>> {
        let dir =
            tempfile::tempdir().map_err(|e| StorageError::read(TypeConfig::err_from_error(&e)))?;
        let metrics = ClusterMetrics::register(&Registry::new()).expect("metrics");
        let log = LogStore::open(
            &dir.path().join("log"),
            LogTuning::default(),
            metrics.append_fsync_seconds.clone(),
        )
        .map_err(|e| StorageError::read(TypeConfig::err_from_error(&e)))?;
        let sm = StateMachineStore::open(
            &dir.path().join("state"),
            AreaCode::Sg,
            &crate::config::StorageTuning {
                sled_cache_bytes: 16 * 1024 * 1024,
                ..Default::default()
            },
            metrics.state_machine.clone(),
        )
        .map_err(|e| StorageError::read(TypeConfig::err_from_error(&e)))?;
        Ok((dir, log, sm))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openraft_storage_suite_passes() {
    Suite::test_all(Builder).await.expect("storage suite");
}
