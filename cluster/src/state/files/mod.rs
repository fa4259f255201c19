//! Uploaded media (FILE-01): the record of every stored file, each app's usage against its
//! quota, and its file limits. The bytes themselves live in the area's object store,
//! written by the edges; a file exists for the product once its record is committed, and
//! until it expires (its links' lifetime, FILE-04): the edges then delete its objects and
//! `ForgetFiles` its record.

mod access;
mod owners;

pub use access::{FileAccess, SetFileAccess};
pub use owners::{EraseUserFiles, ForgetOwnedFiles, RecordOwnedFile};

use meridian_proto::files::FileKind;
use meridian_proto::Conversation;
use serde::{Deserialize, Serialize};

use super::apply::{Apply, ApplyContext, CommandError};
use super::apps;
use super::keys::files as keys;
use super::store::{Overlay, StateRead};
use crate::raft::wire::from_bytes;

const MIB: u64 = 1 << 20;
/// The most any single file may hold, whatever an operator sets (5 GiB: S3's largest
/// single object write).
pub const MAX_FILE_BYTES: u64 = 5 << 30;

/// Largest upload per kind, in bytes; the seed's figures by default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct KindBytes {
    pub image: u64,
    pub gif: u64,
    pub voice: u64,
    pub video: u64,
    pub file: u64,
}

impl Default for KindBytes {
    fn default() -> Self {
        KindBytes {
            image: 20 * MIB,
            gif: 2 * MIB,
            voice: 10 * MIB,
            video: 100 * MIB,
            file: 100 * MIB,
        }
    }
}

impl KindBytes {
    pub fn of(&self, kind: FileKind) -> u64 {
        match kind {
            FileKind::Image => self.image,
            FileKind::Gif => self.gif,
            FileKind::Voice => self.voice,
            FileKind::Video => self.video,
            FileKind::File => self.file,
        }
    }
}

/// An environment's file limits, set by its operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct FileLimits {
    pub max_bytes: KindBytes,
    /// Bytes all of the environment's files may hold together.
    pub quota_bytes: u64,
    /// How long a download link stays valid, in days (a message's link must outlive its
    /// history: 180 days, as private and group history, by default).
    pub link_valid_days: u32,
    /// Remove the EXIF block (camera, time and GPS location) from uploaded JPEG photos.
    pub strip_exif: bool,
}

impl Default for FileLimits {
    fn default() -> Self {
        FileLimits {
            max_bytes: KindBytes::default(),
            quota_bytes: 50 << 30,
            link_valid_days: 180,
            strip_exif: false,
        }
    }
}

impl FileLimits {
    /// How long a file and its links are kept unless the uploader asks for less.
    pub fn link_lifetime_secs(&self) -> u64 {
        u64::from(self.link_valid_days) * 24 * 3600
    }

    fn validate(&self) -> Result<(), CommandError> {
        for kind in FileKind::ALL {
            if !(1..=MAX_FILE_BYTES).contains(&self.max_bytes.of(kind)) {
                let field = format!("maxBytes.{}", kind.as_str());
                return Err(CommandError::invalid(
                    &field,
                    format!("must be 1 to {MAX_FILE_BYTES}"),
                ));
            }
        }
        if self.quota_bytes == 0 {
            return Err(CommandError::invalid("quotaBytes", "must be at least 1"));
        }
        if !(1..=3_650).contains(&self.link_valid_days) {
            return Err(CommandError::invalid("linkValidDays", "must be 1 to 3650"));
        }
        Ok(())
    }
}

/// One stored file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileRecord {
    pub file_id: String,
    pub kind: FileKind,
    /// The uploading user; empty for the app server.
    pub owner: String,
    pub size: u64,
    pub content_type: String,
    pub name: String,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    pub created_ms: u64,
    /// Whether a resized preview is stored beside the original (images).
    pub has_preview: bool,
    /// When its links expire, and with them the file (FILE-04): the app's link lifetime
    /// at the upload, or less when the uploader asked (`keepSeconds`).
    pub expires_ms: u64,
}

/// Bytes and files an environment holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileUsage {
    pub bytes: u64,
    pub files: u64,
}

/// Commits a stored file, within the environment's quota. Recording the same file again
/// (a retried upload whose first answer was lost) changes nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordFile {
    pub app_key: String,
    pub record: FileRecord,
}

impl Apply for RecordFile {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        apps::by_key(state, &self.app_key)?;
        let key = keys::file(&self.app_key, &self.record.file_id);
        if let Some(existing) = state.get::<FileRecord>(&key)? {
            return if existing == self.record {
                Ok(())
            } else {
                Err(CommandError::Conflict {
                    what: format!("file {}", self.record.file_id),
                })
            };
        }
        let limits = limits(state, &self.app_key)?;
        let mut usage = usage(state, &self.app_key)?;
        if usage.bytes.saturating_add(self.record.size) > limits.quota_bytes {
            return Err(CommandError::Limit {
                what: "file storage quota in bytes".into(),
                limit: limits.quota_bytes,
            });
        }
        usage.bytes += self.record.size;
        usage.files += 1;
        state.put(keys::usage(&self.app_key), &usage)?;
        let expiry = keys::expiry(&self.app_key, self.record.expires_ms, &self.record.file_id);
        state.put(
            expiry,
            &(self.record.file_id.clone(), self.record.expires_ms),
        )?;
        state.put(key, &self.record)?;
        Ok(())
    }
}

/// Removes the records of files whose objects are gone (expired, FILE-04), giving their
/// bytes back to the quota. Unknown ids are skipped: every edge of an area sweeps, and
/// two may forget the same file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForgetFiles {
    pub app_key: String,
    pub file_ids: Vec<String>,
}

impl Apply for ForgetFiles {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        let mut usage = usage(state, &self.app_key)?;
        for file_id in &self.file_ids {
            let key = keys::file(&self.app_key, file_id);
            let Some(record) = state.get::<FileRecord>(&key)? else {
                continue;
            };
            usage.bytes = usage.bytes.saturating_sub(record.size);
            usage.files = usage.files.saturating_sub(1);
            state.delete(keys::expiry(&self.app_key, record.expires_ms, file_id));
            state.delete(key);
        }
        state.put(keys::usage(&self.app_key), &usage)?;
        Ok(())
    }
}

/// Replaces an environment's file limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetFileLimits {
    pub app_key: String,
    pub limits: FileLimits,
}

impl Apply for SetFileLimits {
    type Answer = ();

    fn apply(&self, _ctx: ApplyContext, state: &mut Overlay<'_>) -> Result<(), CommandError> {
        apps::by_key(state, &self.app_key)?;
        self.limits.validate()?;
        state.put(keys::limits(&self.app_key), &self.limits)?;
        Ok(())
    }
}

/// The reads of the file service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FileQuestion {
    /// Limits and usage: what a grant is checked against.
    Budget,
    /// One file's record, and in private mode whether `reader` may fetch it: when it is
    /// the file's uploader or in `scope` (the conversation its link names).
    Read {
        file_id: String,
        reader: Option<String>,
        scope: Option<Conversation>,
    },
    /// Which of these files have records (objects without one are orphans).
    Known { file_ids: Vec<String> },
    /// What a grant is checked against: limits, usage, and in private mode whether the
    /// uploading user (`None`: the app server) is in the conversation it uploads for.
    Upload {
        uploader: Option<String>,
        conversation: Option<Conversation>,
    },
    /// Who may fetch the app's files.
    Access,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FileAnswer {
    Budget(FileLimits, FileUsage),
    /// The record, and in private mode whether the reader may fetch it (`None`: the app
    /// is not private, a signed link is enough).
    Read(FileRecord, Option<bool>),
    Known(Vec<String>),
    Upload {
        limits: FileLimits,
        usage: FileUsage,
        access: FileAccess,
        /// Whether the uploader may upload for the conversation (always without one, or
        /// outside private mode).
        member: bool,
    },
    Access(FileAccess),
}

pub(crate) fn answer(
    state: &impl StateRead,
    app_key: &str,
    question: &FileQuestion,
) -> Result<FileAnswer, CommandError> {
    match question {
        FileQuestion::Budget => {
            apps::by_key(state, app_key)?;
            Ok(FileAnswer::Budget(
                limits(state, app_key)?,
                usage(state, app_key)?,
            ))
        }
        FileQuestion::Read {
            file_id,
            reader,
            scope,
        } => {
            apps::by_key(state, app_key)?;
            let record: FileRecord = state
                .get(&keys::file(app_key, file_id))?
                .ok_or_else(|| CommandError::not_found(format!("file {file_id}")))?;
            let allowed = match reader {
                _ if !access::access(state, app_key)?.private => None,
                Some(reader) if record.owner == *reader => Some(true),
                Some(reader) => Some(match scope {
                    Some(scope) => access::is_in(state, app_key, reader, scope)?,
                    None => false,
                }),
                None => Some(false),
            };
            Ok(FileAnswer::Read(record, allowed))
        }
        // Asked of deleted apps too: their objects are orphans.
        FileQuestion::Known { file_ids } => {
            let mut known = Vec::new();
            for file_id in file_ids {
                if state.get_raw(&keys::file(app_key, file_id))?.is_some() {
                    known.push(file_id.clone());
                }
            }
            Ok(FileAnswer::Known(known))
        }
        FileQuestion::Upload {
            uploader,
            conversation,
        } => {
            apps::by_key(state, app_key)?;
            let access = access::access(state, app_key)?;
            let member = match (uploader, conversation) {
                (Some(user), Some(conversation)) if access.private => {
                    access::is_in(state, app_key, user, conversation)?
                }
                _ => true,
            };
            Ok(FileAnswer::Upload {
                limits: limits(state, app_key)?,
                usage: usage(state, app_key)?,
                access,
                member,
            })
        }
        FileQuestion::Access => {
            apps::by_key(state, app_key)?;
            Ok(FileAnswer::Access(access::access(state, app_key)?))
        }
    }
}

/// Up to `limit` files (of every app) expired at `now_ms`, as (App Key, record), the
/// earliest of each app first.
pub(crate) fn expired(
    state: &impl StateRead,
    now_ms: u64,
    limit: usize,
) -> Result<Vec<(String, FileRecord)>, CommandError> {
    // Every app with files has a usage record: the apps to look at.
    let apps: Vec<String> = state
        .scan_raw(keys::USAGE)?
        .iter()
        .filter_map(|(key, _)| keys::usage_app(key).map(str::to_string))
        .collect();
    let mut due = Vec::new();
    for app_key in apps {
        let mut ids = Vec::new();
        state.visit_raw(
            &keys::expiries(&app_key),
            false,
            &mut |value| match from_bytes::<(String, u64)>(value).ok() {
                Some((file_id, expires_ms))
                    if expires_ms <= now_ms && due.len() + ids.len() < limit =>
                {
                    ids.push(file_id);
                    true
                }
                _ => false,
            },
        )?;
        for file_id in ids {
            if let Some(record) = state.get::<FileRecord>(&keys::file(&app_key, &file_id))? {
                due.push((app_key.clone(), record));
            }
        }
        if due.len() >= limit {
            break;
        }
    }
    Ok(due)
}

fn limits(state: &impl StateRead, app_key: &str) -> Result<FileLimits, CommandError> {
    Ok(state.get(&keys::limits(app_key))?.unwrap_or_default())
}

fn usage(state: &impl StateRead, app_key: &str) -> Result<FileUsage, CommandError> {
    Ok(state.get(&keys::usage(app_key))?.unwrap_or_default())
}

pub(crate) fn delete_all(state: &mut Overlay<'_>, app_key: &str) -> Result<(), CommandError> {
    state.delete_app(&keys::PER_APP, app_key)?;
    Ok(())
}
