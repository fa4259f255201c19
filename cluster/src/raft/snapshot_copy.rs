//! Copying the state into a snapshot while applies go on. The copy walks the tree in key
//! order a chunk at a time; between chunks applies run. Before an apply changes a key the
//! copy has not reached, the key's value at the snapshot's instant is kept here, and the
//! copy takes that instead of the tree's. So a snapshot is exactly the state at its log
//! id, yet applies wait for one chunk at most, never for the whole state.

use std::collections::BTreeMap;
use std::io;
use std::ops::Bound;

/// Records read per chunk: one chunk is what an apply may wait for.
pub const COPY_CHUNK: usize = 1024;

pub type Record = (Vec<u8>, Vec<u8>);

#[derive(Default)]
pub struct SnapshotCopy {
    /// The last key copied; keys after it are not copied yet.
    copied_to: Vec<u8>,
    /// Values at the snapshot's instant of keys changed since (`None`: absent then).
    kept: BTreeMap<Vec<u8>, Option<sled::IVec>>,
    records: Vec<Record>,
}

impl SnapshotCopy {
    /// Called by an apply before it writes `keys`: keeps the values the copy still needs.
    pub fn before_write<'k>(
        &mut self,
        tree: &sled::Tree,
        keys: impl IntoIterator<Item = &'k [u8]>,
    ) -> io::Result<()> {
        for key in keys {
            if key > self.copied_to.as_slice() && !self.kept.contains_key(key) {
                let value = tree.get(key).map_err(io::Error::other)?;
                self.kept.insert(key.to_vec(), value);
            }
        }
        Ok(())
    }

    /// Copies the next chunk of keys for which `wanted` holds; answers whether the copy
    /// reached the end.
    pub fn copy_chunk(
        &mut self,
        tree: &sled::Tree,
        wanted: impl Fn(&[u8]) -> bool,
    ) -> io::Result<bool> {
        let from = Bound::Excluded(self.copied_to.clone());
        let mut read = 0;
        for item in tree
            .range::<Vec<u8>, _>((from, Bound::Unbounded))
            .take(COPY_CHUNK)
        {
            let (key, value) = item.map_err(io::Error::other)?;
            read += 1;
            self.copied_to = key.to_vec();
            let value = match self.kept.remove(key.as_ref()) {
                Some(then) => then,
                None => Some(value),
            };
            if let Some(value) = value.filter(|_| wanted(&key)) {
                self.records.push((key.to_vec(), value.to_vec()));
            }
        }
        Ok(read < COPY_CHUNK)
    }

    /// The records, once [`SnapshotCopy::copy_chunk`] reached the end: with the keys
    /// deleted since the snapshot's instant, which the walk could not meet.
    pub fn finish(self, wanted: impl Fn(&[u8]) -> bool) -> Vec<Record> {
        let mut records = self.records;
        records.extend(self.kept.into_iter().filter_map(|(key, then)| {
            let value = then.filter(|_| wanted(&key))?;
            Some((key, value.to_vec()))
        }));
        records
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: usize) -> Vec<u8> {
        format!("k{i:05}").into_bytes()
    }

    fn sorted(mut records: Vec<Record>) -> Vec<Record> {
        records.sort();
        records
    }

    #[test]
    fn a_copy_is_the_state_at_its_start_whatever_is_written_while_it_runs() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new()
            .path(dir.path())
            .temporary(true)
            .open()
            .unwrap();
        let tree = db.open_tree("state").unwrap();
        let count = COPY_CHUNK * 2 + 10;
        for i in 0..count {
            tree.insert(key(i), format!("v{i}").as_bytes()).unwrap();
        }
        tree.insert(b"\0meta", b"skipped".as_slice()).unwrap();
        let wanted = |key: &[u8]| !key.starts_with(b"\0");
        let at_start: Vec<Record> = tree
            .iter()
            .map(|item| item.unwrap())
            .filter(|(k, _)| wanted(k))
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect();

        let mut copy = SnapshotCopy::default();
        assert!(!copy.copy_chunk(&tree, wanted).unwrap());
        // Between chunks an apply overwrites, deletes and inserts keys on both sides of
        // where the copy is, some twice.
        let write = |copy: &mut SnapshotCopy, changes: &[(Vec<u8>, Option<&str>)]| {
            copy.before_write(&tree, changes.iter().map(|(k, _)| k.as_slice()))
                .unwrap();
            for (k, v) in changes {
                match v {
                    Some(v) => tree.insert(k, v.as_bytes()).unwrap(),
                    None => tree.remove(k).unwrap(),
                };
            }
        };
        write(
            &mut copy,
            &[
                (key(3), Some("copied already")),
                (key(COPY_CHUNK + 5), Some("changed")),
                (key(COPY_CHUNK + 6), None),
                (key(count + 1), Some("new")),
                (b"k00100x".to_vec(), Some("new before the copy point")),
                (b"k01500x".to_vec(), Some("new, then deleted")),
            ],
        );
        write(
            &mut copy,
            &[
                (key(COPY_CHUNK + 5), Some("changed twice")),
                (b"k01500x".to_vec(), None),
                (key(COPY_CHUNK * 2 + 1), None),
            ],
        );
        while !copy.copy_chunk(&tree, wanted).unwrap() {
            write(&mut copy, &[(key(count - 1), Some("late"))]);
        }
        assert_eq!(sorted(copy.finish(wanted)), at_start);
    }
}
