//! One authenticated Server API call as its handler sees it: the app, its body, and the
//! app's cluster to write and read through.

use std::sync::Arc;

use meridian_access::directory::Resolved;
use meridian_access::error::{unexpected, ApiError};
use meridian_access::params::Params;
use meridian_cluster::state::{
    Command, CommandError, Envelope, Message, Once, Output, Query, QueryOutput,
};
use meridian_cluster::{ClusterClient, ClusterError};
use serde_json::Value;

fn not_a_long() -> ApiError {
    ApiError::param("msgRandom must be a whole number (a Long)")
}

/// The parsed body of a call.
pub(crate) enum Body {
    Form(Params),
    Json(Value),
}

/// One authenticated call, ready for its handler.
pub(crate) struct Call {
    pub app: Resolved,
    pub cluster: Arc<ClusterClient>,
    pub body: Body,
    pub now_ms: u64,
    /// `scheme://host` as the app server reached this edge (for links it is given).
    pub base_url: String,
}

impl Call {
    pub fn form(&self) -> Result<&Params, ApiError> {
        match &self.body {
            Body::Form(params) => Ok(params),
            Body::Json(_) => Err(ApiError::Internal("form parameters expected".into())),
        }
    }

    pub fn json(&self) -> Result<&Value, ApiError> {
        match &self.body {
            Body::Json(value) => Ok(value),
            Body::Form(_) => Err(ApiError::Internal("JSON body expected".into())),
        }
    }

    fn envelope(&self, command: Command) -> Envelope {
        Envelope {
            area: self.app.area,
            command,
        }
    }

    /// Commits one command for this app.
    pub async fn write(&self, command: Command) -> Result<Output, ApiError> {
        Ok(self.cluster.write_one(self.envelope(command)).await?)
    }

    /// Commits `command` once per `msgRandom`, when the call gives one (a whole number; 0
    /// counts as none, as the Go SDK sends it unset): marked with the request's id
    /// (`what` names the request within the app, e.g. its kind and sender), it is written
    /// again while a leader loss leaves its outcome open, and the same request within a
    /// minute gets the first answer (`state::requests`).
    pub async fn write_marked(&self, what: &str, command: Command) -> Result<Output, ApiError> {
        let Some(random) = self.msg_random()? else {
            return self.write(command).await;
        };
        let once = Command::Once(Once {
            app_key: self.app_key(),
            request_id: format!("{what}/{random}"),
            command: Box::new(command),
        });
        Ok(self.cluster.write_idempotent(self.envelope(once)).await?)
    }

    fn msg_random(&self) -> Result<Option<i64>, ApiError> {
        let random = match &self.body {
            Body::Form(form) => form.int::<i64>("msgRandom")?,
            Body::Json(json) => match json.get("msgRandom") {
                None | Some(Value::Null) => None,
                Some(Value::Number(n)) => Some(n.as_i64().ok_or_else(not_a_long)?),
                Some(Value::String(s)) if s.is_empty() => None,
                Some(Value::String(s)) => Some(s.parse().map_err(|_| not_a_long())?),
                Some(_) => return Err(not_a_long()),
            },
        };
        Ok(random.filter(|&r| r != 0))
    }

    /// Commits several commands atomically: a refused one undoes the others, so a refused
    /// call changes nothing.
    pub async fn write_all(&self, commands: Vec<Command>) -> Result<(), ApiError> {
        self.write(Command::All(commands)).await.map(|_| ())
    }

    pub async fn read(&self, query: Query) -> Result<QueryOutput, ApiError> {
        Ok(self.cluster.read(query).await?)
    }

    /// A stored message of the app, by id.
    pub async fn message(&self, msg_uid: &str) -> Result<Message, ApiError> {
        self.find_message(msg_uid).await?.ok_or_else(|| {
            ApiError::from(CommandError::NotFound {
                what: format!("message {msg_uid}"),
            })
        })
    }

    /// A stored message of the app by id, `None` when the area keeps no such message.
    pub async fn find_message(&self, msg_uid: &str) -> Result<Option<Message>, ApiError> {
        let query = Query::GetMessage {
            app_key: self.app_key(),
            msg_uid: msg_uid.to_string(),
        };
        match self.cluster.read(query).await {
            Ok(QueryOutput::Messages(mut found)) if found.len() == 1 => Ok(Some(found.remove(0))),
            Ok(other) => Err(unexpected(other)),
            Err(ClusterError::Refused(CommandError::NotFound { .. })) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    pub fn app_key(&self) -> String {
        self.app.app_key().to_string()
    }
}
