//! Whether this node owes its sled a rewrite for erased data, kept in a file beside it
//! (`rewrite-due`) so a restart does not forget. An erasure removes records, but sled
//! keeps them in its files until a rewrite ([`super::compaction`]); the feed's events
//! may name the erased users until it is trimmed past them, which calls for one more.
//! The request is in memory and on disk from the apply that makes it until a rewrite
//! that took it finishes.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::compaction::write_durably;

const FILE: &str = "rewrite-due";

pub struct RewriteDue {
    file: PathBuf,
    due: Mutex<Due>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
struct Due {
    /// A rewrite is owed whatever sled's size.
    erased: bool,
    /// The feed's head at the newest erasure (0: none pending): once the feed is trimmed
    /// past it, one more rewrite is owed.
    feed_head: u64,
}

impl RewriteDue {
    /// Reads what was owed before the node stopped (nothing, without the file).
    pub fn open(state_dir: &Path) -> io::Result<Self> {
        let file = state_dir.join(FILE);
        let due = match fs::read(&file) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", file.display()),
                )
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Due::default(),
            Err(e) => return Err(e),
        };
        Ok(Self {
            file,
            due: Mutex::new(due),
        })
    }

    fn due(&self) -> std::sync::MutexGuard<'_, Due> {
        self.due.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The feed's head at the newest erasure not yet trimmed past (0: none).
    pub fn pending_feed_head(&self) -> u64 {
        self.due().feed_head
    }

    /// An erasure was applied with the feed at `feed_head`.
    pub fn erasure_applied(&self, feed_head: u64) -> io::Result<()> {
        let mut due = self.due();
        due.erased = true;
        due.feed_head = due.feed_head.max(feed_head);
        self.persist(*due)
    }

    /// The feed no longer holds the events it had at the newest erasure.
    pub fn feed_trimmed_past(&self) -> io::Result<()> {
        let mut due = self.due();
        due.erased = true;
        due.feed_head = 0;
        self.persist(*due)
    }

    /// Takes the request for a rewrite (whether there was one). The file keeps it until
    /// [`Self::rewritten`], so a crash midway owes the rewrite still.
    pub fn take(&self) -> bool {
        std::mem::take(&mut self.due().erased)
    }

    /// Gives back a request taken by a rewrite that did not happen.
    pub fn give_back(&self, erased: bool) {
        self.due().erased |= erased;
    }

    /// A rewrite finished: what it took is paid; what was asked meanwhile stays owed.
    pub fn rewritten(&self) -> io::Result<()> {
        let due = self.due();
        if *due == Due::default() {
            match fs::remove_file(&self.file) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        } else {
            self.persist(*due)
        }
    }

    fn persist(&self, due: Due) -> io::Result<()> {
        write_durably(
            &self.file,
            &serde_json::to_vec(&due).map_err(io::Error::other)?,
        )
    }
}
