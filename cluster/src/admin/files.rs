//! The admin API's per-app file settings: the limits and quota (`…/file-limits`) and who
//! may fetch files (`…/file-access`, private mode), FILE-01. Each is replaced whole.

use serde_json::{json, Value};

use super::AdminApi;
use crate::client::ClusterError;
use crate::state::files::{
    FileAccess, FileAnswer, FileLimits, FileQuestion, SetFileAccess, SetFileLimits,
};
use crate::state::{Command, Query, QueryOutput};

impl AdminApi {
    /// The file limits and what the app's files use of them.
    pub(super) async fn get_file_limits(&self, key: &str) -> Result<Value, ClusterError> {
        let query = Query::Files {
            app_key: key.to_string(),
            question: FileQuestion::Budget,
        };
        match self.cluster.read(query).await? {
            QueryOutput::Files(FileAnswer::Budget(limits, usage)) => {
                Ok(json!({ "fileLimits": limits, "usage": usage }))
            }
            other => Err(ClusterError::Protocol(format!("{other:?}"))),
        }
    }

    /// Replaces the file limits whole (fields left out take their defaults).
    pub(super) async fn put_file_limits(
        &self,
        key: &str,
        limits: FileLimits,
    ) -> Result<Value, ClusterError> {
        let command = Command::SetFileLimits(SetFileLimits {
            app_key: key.to_string(),
            limits: limits.clone(),
        });
        self.cluster.write_one(self.envelope(command)).await?;
        Ok(json!({ "fileLimits": limits }))
    }

    pub(super) async fn get_file_access(&self, key: &str) -> Result<Value, ClusterError> {
        let query = Query::Files {
            app_key: key.to_string(),
            question: FileQuestion::Access,
        };
        match self.cluster.read(query).await? {
            QueryOutput::Files(FileAnswer::Access(access)) => Ok(json!({ "fileAccess": access })),
            other => Err(ClusterError::Protocol(format!("{other:?}"))),
        }
    }

    pub(super) async fn put_file_access(
        &self,
        key: &str,
        access: FileAccess,
    ) -> Result<Value, ClusterError> {
        let command = Command::SetFileAccess(SetFileAccess {
            app_key: key.to_string(),
            access,
        });
        self.cluster.write_one(self.envelope(command)).await?;
        Ok(json!({ "fileAccess": access }))
    }
}
