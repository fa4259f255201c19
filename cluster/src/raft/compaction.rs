//! Rewriting the state's sled into a fresh directory (compaction). sled is
//! log-structured: an overwritten or deleted record stays in its segment until sled
//! cleans that segment, and its files never shrink. Its own cleaning holds a steady
//! state at 8–10 times the live records' bytes (a fresh copy is about 4.6 times), but
//! after a mass removal the files keep their size, and a removed record may stay on disk
//! indefinitely. A rewrite holds only the live records: it reclaims the space, and it is
//! the one way to make sure an erased record is gone from the disk.
//!
//! The rewrite copies the tree in key order a chunk at a time while applies go on; an
//! apply writes the keys the copy has already passed to the new tree as well, so when
//! the copy reaches the end the new tree equals the old one. The new directory becomes
//! the state's by an atomic rename of a pointer file (`sled.current`), after it is
//! durable; a crash before that leaves the old directory in use and the new one is
//! removed at the next start.

use std::fs::{self, File};
use std::io::{self, Write};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::snapshot_copy::COPY_CHUNK;

/// Names the sled directory in use, once a compaction has replaced the first one.
const CURRENT: &str = "sled.current";
/// The first sled directory; later ones are `sled-{generation}`.
const FIRST: &str = "sled";

/// When a node rewrites its sled (`storage.sled_compact_ratio`, `_min_bytes`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompactionPolicy {
    /// Rewrite once sled's files exceed this many times the live records' bytes (0: only
    /// after erasures).
    pub ratio: f64,
    /// …and only once they exceed this, so that a small state is left alone.
    pub min_bytes: u64,
}

impl CompactionPolicy {
    pub fn due(&self, on_disk: u64, live: u64) -> bool {
        self.ratio > 0.0 && on_disk > self.min_bytes && on_disk as f64 > self.ratio * live as f64
    }
}

/// An open sled database, its state tree and its directory.
pub struct Sled {
    pub db: sled::Db,
    pub tree: sled::Tree,
    pub dir: PathBuf,
}

impl Sled {
    pub fn open(dir: PathBuf, cache_bytes: u64) -> io::Result<Self> {
        let db = sled::Config::new()
            .path(&dir)
            .cache_capacity(cache_bytes)
            .open()
            .map_err(io::Error::other)?;
        let tree = db.open_tree("state").map_err(io::Error::other)?;
        Ok(Self { db, tree, dir })
    }

    /// sled's own flush uses sync_file_range, which does not survive power loss: every
    /// file of the database is fsynced as well.
    pub fn make_durable(&self) -> io::Result<()> {
        self.db.flush().map_err(io::Error::other)?;
        sync_tree(&self.dir)
    }
}

pub fn sync_tree(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            sync_tree(&path)?;
        } else {
            File::open(&path)?.sync_all()?;
        }
    }
    File::open(dir)?.sync_all()
}

/// The sled directory in use under `state_dir`.
pub fn current_dir(state_dir: &Path) -> io::Result<PathBuf> {
    let current = match fs::read_to_string(state_dir.join(CURRENT)) {
        Ok(name) => name.trim().to_owned(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => FIRST.to_owned(),
        Err(e) => return Err(e),
    };
    if generation(&current).is_none() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: names no sled directory: {current:?}", CURRENT),
        ));
    }
    Ok(state_dir.join(current))
}

/// Removes the sled directories beside `current`: an interrupted compaction's, or one a
/// finished compaction replaced but could not remove.
pub fn remove_others(current: &Path) -> io::Result<()> {
    let Some(state_dir) = current.parent() else {
        return Ok(());
    };
    for entry in fs::read_dir(state_dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path() != current && generation(&name).is_some() && entry.path().is_dir() {
            tracing::info!(dir = %entry.path().display(), "removing a sled directory no longer in use");
            fs::remove_dir_all(entry.path())?;
        }
    }
    Ok(())
}

/// `sled` is generation 0, `sled-N` generation N.
fn generation(name: &str) -> Option<u64> {
    match name.strip_prefix(FIRST)? {
        "" => Some(0),
        rest => rest.strip_prefix('-')?.parse().ok(),
    }
}

/// The directory the next compaction of `current` writes into (emptied first).
pub fn next_dir(current: &Path) -> io::Result<PathBuf> {
    let name = current
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let next = generation(&name).unwrap_or(0) + 1;
    let dir = current.with_file_name(format!("{FIRST}-{next}"));
    if dir.exists() {
        fs::remove_dir_all(&dir)?;
    }
    Ok(dir)
}

/// Makes `dir` the state's sled directory, durably; the caller has made it durable.
pub fn make_current(dir: &Path) -> io::Result<()> {
    let state_dir = dir
        .parent()
        .ok_or_else(|| io::Error::other("a sled directory has a parent"))?;
    let name = dir
        .file_name()
        .ok_or_else(|| io::Error::other("a sled directory has a name"))?;
    write_durably(&state_dir.join(CURRENT), name.as_encoded_bytes())
}

/// Replaces the file at `path` with `bytes` atomically and durably: a crash leaves the
/// old contents or the new, never a mix.
pub fn write_durably(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::other("a state file has a parent"))?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    File::open(dir)?.sync_all()
}

/// A rewrite under way: the new database and how far the copy has come.
pub struct Compaction {
    pub into: Arc<Sled>,
    /// The last key copied; keys after it are not copied yet (empty: none is).
    copied_to: Vec<u8>,
    /// The copy has passed the last key: every write goes to the new tree too.
    reached_end: bool,
}

impl Compaction {
    pub fn new(into: Arc<Sled>) -> Self {
        Self {
            into,
            copied_to: Vec::new(),
            reached_end: false,
        }
    }

    /// Copies the next chunk of `from`; answers whether the copy reached the end.
    pub fn copy_chunk(&mut self, from: &sled::Tree) -> io::Result<bool> {
        let start = Bound::Excluded(self.copied_to.clone());
        let mut batch = sled::Batch::default();
        let mut read = 0;
        for item in from
            .range::<Vec<u8>, _>((start, Bound::Unbounded))
            .take(COPY_CHUNK)
        {
            let (key, value) = item.map_err(io::Error::other)?;
            read += 1;
            self.copied_to = key.to_vec();
            batch.insert(key, value);
        }
        self.into
            .tree
            .apply_batch(batch)
            .map_err(io::Error::other)?;
        self.reached_end = read < COPY_CHUNK;
        Ok(self.reached_end)
    }

    /// Called by an apply with what it wrote (`None`: removed): the keys the copy has
    /// passed are written to the new tree too; later ones it will copy as they are then.
    pub fn mirror<'w>(
        &self,
        writes: impl IntoIterator<Item = (&'w [u8], Option<&'w [u8]>)>,
    ) -> io::Result<()> {
        let mut batch = sled::Batch::default();
        for (key, value) in writes {
            if !self.reached_end && key > self.copied_to.as_slice() {
                continue;
            }
            match value {
                Some(value) => batch.insert(key, value),
                None => batch.remove(key),
            }
        }
        self.into.tree.apply_batch(batch).map_err(io::Error::other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: usize) -> Vec<u8> {
        format!("k{i:05}").into_bytes()
    }

    fn records(tree: &sled::Tree) -> Vec<(Vec<u8>, Vec<u8>)> {
        tree.iter()
            .map(|item| {
                let (k, v) = item.unwrap();
                (k.to_vec(), v.to_vec())
            })
            .collect()
    }

    #[test]
    fn a_rewrite_ends_equal_to_the_tree_whatever_is_written_while_it_runs() {
        let dir = tempfile::tempdir().unwrap();
        let from = Sled::open(dir.path().join("sled"), 1 << 20).unwrap();
        for i in 0..5_000 {
            from.tree.insert(key(i), b"old".to_vec()).unwrap();
        }
        let mut compaction = Compaction::new(Arc::new(
            Sled::open(dir.path().join("sled-1"), 1 << 20).unwrap(),
        ));
        let mut round = 0;
        loop {
            let done = compaction.copy_chunk(&from.tree).unwrap();
            if done {
                break;
            }
            // Between chunks an apply changes keys behind the copy, ahead of it and new.
            round += 1;
            let writes: Vec<(Vec<u8>, Option<Vec<u8>>)> = vec![
                (key(round * 7), Some(format!("new{round}").into_bytes())),
                (key(round * 700 + 1), None),
                (key(10_000 + round), Some(b"added".to_vec())),
                (key(1), None),
            ];
            for (k, v) in &writes {
                match v {
                    Some(v) => from
                        .tree
                        .insert(k.as_slice(), v.as_slice())
                        .map(drop)
                        .unwrap(),
                    None => from.tree.remove(k.as_slice()).map(drop).unwrap(),
                }
            }
            compaction
                .mirror(writes.iter().map(|(k, v)| (k.as_slice(), v.as_deref())))
                .unwrap();
        }
        // Written after the copy passed the last key, before the switch.
        from.tree.insert(key(20_000), b"late".to_vec()).unwrap();
        compaction
            .mirror([(key(20_000).as_slice(), Some(b"late".as_slice()))])
            .unwrap();
        assert!(round >= 3, "the copy took several chunks");
        assert_eq!(records(&compaction.into.tree), records(&from.tree));
    }

    #[test]
    fn the_current_directory_is_the_one_named_and_others_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path();
        fs::create_dir(state.join("sled")).unwrap();
        fs::create_dir(state.join("snapshots")).unwrap();
        assert_eq!(current_dir(state).unwrap(), state.join("sled"));

        let next = next_dir(&state.join("sled")).unwrap();
        assert_eq!(next, state.join("sled-1"));
        fs::create_dir(&next).unwrap();
        // Interrupted before the switch: the old one stays, the new one goes.
        assert_eq!(current_dir(state).unwrap(), state.join("sled"));
        remove_others(&state.join("sled")).unwrap();
        assert!(!next.exists());

        fs::create_dir(&next).unwrap();
        make_current(&next).unwrap();
        assert_eq!(current_dir(state).unwrap(), next);
        remove_others(&next).unwrap();
        assert!(!state.join("sled").exists());
        assert!(state.join("snapshots").exists(), "only sled directories go");
        assert_eq!(next_dir(&next).unwrap(), state.join("sled-2"));
    }
}
