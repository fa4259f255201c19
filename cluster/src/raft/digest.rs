//! Comparing replicas: a hash of the replicated records (a running node answers it), and
//! the records themselves side by side (of stopped nodes' data directories).

use std::fmt;
use std::io;
use std::path::PathBuf;

use sha2::Digest;

use super::compaction::{self, Sled};
use super::state_machine::META_PREFIX;

/// The number of replicated records in `tree` and a SHA-256 (hex) over them in key order,
/// each as its key and value lengths and bytes. Node-local bookkeeping (applied index,
/// membership) is left out, so replicas that applied the same records hash alike even if
/// one has applied more entries that change no record (a new leader's blank entry).
pub(crate) fn records_digest(tree: &sled::Tree) -> io::Result<(u64, String)> {
    let mut hasher = sha2::Sha256::new();
    let mut records = 0u64;
    for item in tree.iter() {
        let (key, value) = item.map_err(io::Error::other)?;
        if key.starts_with(META_PREFIX) {
            continue;
        }
        for part in [&key[..], &value[..]] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        records += 1;
    }
    Ok((records, hex(&hasher.finalize())))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A record that stopped replicas do not hold alike.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordDifference {
    pub key: Vec<u8>,
    /// Each replica's value, in the order the directories were given (`None`: absent).
    pub values: Vec<Option<Vec<u8>>>,
}

impl fmt::Display for RecordDifference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.key.escape_ascii())?;
        for (replica, value) in self.values.iter().enumerate() {
            match value {
                None => write!(f, " [{replica}] absent;")?,
                Some(value) => {
                    let sha = hex(&sha2::Sha256::digest(value)[..6]);
                    let start = &value[..value.len().min(48)];
                    write!(
                        f,
                        " [{replica}] {} bytes, sha256 {sha}…, {}…;",
                        value.len(),
                        start.escape_ascii()
                    )?;
                }
            }
        }
        Ok(())
    }
}

/// The first `limit` records (node-local bookkeeping left out) that the stopped nodes
/// whose data directories are `data_dirs` do not all hold with the same value, in key
/// order. The directories must not be in use: sled locks them.
pub fn record_differences(
    data_dirs: &[PathBuf],
    limit: usize,
) -> io::Result<Vec<RecordDifference>> {
    const CACHE_BYTES: u64 = 16 << 20;
    let mut trees = Vec::new();
    for dir in data_dirs {
        let sled_dir = compaction::current_dir(&dir.join("state"))?;
        trees.push(Sled::open(sled_dir, CACHE_BYTES)?.tree);
    }
    let mut cursors: Vec<_> = trees
        .iter()
        .map(|tree| {
            tree.iter()
                .filter(|item| !matches!(item, Ok((key, _)) if key.starts_with(META_PREFIX)))
                .peekable()
        })
        .collect();
    let mut differences = Vec::new();
    while differences.len() < limit {
        let mut heads = Vec::with_capacity(cursors.len());
        for cursor in &mut cursors {
            heads.push(match cursor.peek() {
                Some(Ok((key, value))) => Some((key.to_vec(), value.to_vec())),
                Some(Err(_)) => return Err(io::Error::other(cursor.next().unwrap().unwrap_err())),
                None => None,
            });
        }
        let Some(key) = heads.iter().flatten().map(|(key, _)| key).min().cloned() else {
            break;
        };
        let mut values = Vec::with_capacity(heads.len());
        for (head, cursor) in heads.into_iter().zip(&mut cursors) {
            match head {
                Some((at, value)) if at == key => {
                    cursor.next();
                    values.push(Some(value));
                }
                _ => values.push(None),
            }
        }
        if values.iter().any(|value| *value != values[0]) {
            differences.push(RecordDifference { key, values });
        }
    }
    Ok(differences)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica(records: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let sled = Sled::open(dir.path().join("state/sled"), 1 << 20).unwrap();
        sled.tree
            .insert(b"\0meta/applied", b"node-local".as_slice())
            .unwrap();
        for (key, value) in records {
            sled.tree.insert(key.as_bytes(), value.as_bytes()).unwrap();
        }
        sled.db.flush().unwrap();
        dir
    }

    #[test]
    fn lists_the_records_replicas_hold_differently_in_key_order() {
        let a = replica(&[("a", "1"), ("b", "2"), ("c", "3"), ("e", "5")]);
        let b = replica(&[("a", "1"), ("b", "two"), ("c", "3"), ("d", "4"), ("e", "5")]);
        let c = replica(&[("a", "1"), ("b", "2"), ("c", "3"), ("e", "5")]);
        let dirs: Vec<PathBuf> = [&a, &b, &c]
            .iter()
            .map(|d| d.path().to_path_buf())
            .collect();
        let differences = record_differences(&dirs, 10).unwrap();
        let keys: Vec<&[u8]> = differences.iter().map(|d| &d.key[..]).collect();
        assert_eq!(keys, [b"b".as_slice(), b"d"]);
        assert_eq!(
            differences[0].values,
            [
                Some(b"2".to_vec()),
                Some(b"two".to_vec()),
                Some(b"2".to_vec())
            ]
        );
        assert_eq!(differences[1].values, [None, Some(b"4".to_vec()), None]);
        assert!(
            differences[1].to_string().starts_with("d: [0] absent;"),
            "{}",
            differences[1]
        );
        assert_eq!(record_differences(&dirs, 1).unwrap().len(), 1);
        let alike: Vec<PathBuf> = [&a, &c].iter().map(|d| d.path().to_path_buf()).collect();
        assert!(record_differences(&alike, 10).unwrap().is_empty());
    }
}
