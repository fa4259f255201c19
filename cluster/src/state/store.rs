//! Reading committed state and staging a batch's writes on top of it.

use std::collections::BTreeMap;
use std::io;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::raft::wire::{from_bytes, to_bytes};

/// Read access to the state: the committed sled tree, or an [`Overlay`] on top of it.
pub trait StateRead {
    fn get_raw(&self, key: &[u8]) -> io::Result<Option<Vec<u8>>>;
    /// Every key and value under `prefix`, in key order.
    fn scan_raw(&self, prefix: &[u8]) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>>;

    /// Visits values under `prefix` in key order (or reverse) until `visit` says stop.
    fn visit_raw(
        &self,
        prefix: &[u8],
        reverse: bool,
        visit: &mut dyn FnMut(&[u8]) -> bool,
    ) -> io::Result<()> {
        let entries = self.scan_raw(prefix)?;
        let mut values: Box<dyn Iterator<Item = &(Vec<u8>, Vec<u8>)>> = if reverse {
            Box::new(entries.iter().rev())
        } else {
            Box::new(entries.iter())
        };
        values.try_for_each(|(_, v)| if visit(v) { Some(()) } else { None });
        Ok(())
    }

    /// Visits keys and values under `prefix` from `start` on, in key order, until `visit`
    /// says stop.
    fn visit_from(
        &self,
        prefix: &[u8],
        start: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> io::Result<()> {
        for (key, value) in self.scan_raw(prefix)? {
            if key.as_slice() >= start && !visit(&key, &value) {
                break;
            }
        }
        Ok(())
    }

    fn get<T: DeserializeOwned>(&self, key: &[u8]) -> io::Result<Option<T>> {
        self.get_raw(key)?
            .map(|bytes| from_bytes(&bytes))
            .transpose()
    }

    fn scan<T: DeserializeOwned>(&self, prefix: &[u8]) -> io::Result<Vec<T>> {
        self.scan_raw(prefix)?
            .iter()
            .map(|(_, value)| from_bytes(value))
            .collect()
    }

    fn count_prefix(&self, prefix: &[u8]) -> io::Result<u64> {
        Ok(self.scan_raw(prefix)?.len() as u64)
    }
}

impl StateRead for sled::Tree {
    fn get_raw(&self, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        Ok(self.get(key).map_err(io::Error::other)?.map(|v| v.to_vec()))
    }

    fn scan_raw(&self, prefix: &[u8]) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.scan_prefix(prefix)
            .map(|item| {
                let (k, v) = item.map_err(io::Error::other)?;
                Ok((k.to_vec(), v.to_vec()))
            })
            .collect()
    }

    /// Iterates sled directly: a page of a long history reads only that page.
    fn visit_raw(
        &self,
        prefix: &[u8],
        reverse: bool,
        visit: &mut dyn FnMut(&[u8]) -> bool,
    ) -> io::Result<()> {
        let mut items: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> = if reverse
        {
            Box::new(self.scan_prefix(prefix).rev())
        } else {
            Box::new(self.scan_prefix(prefix))
        };
        for item in &mut items {
            let (_, value) = item.map_err(io::Error::other)?;
            if !visit(&value) {
                break;
            }
        }
        Ok(())
    }

    /// Seeks straight to `start`: a sync reads only what it returns.
    fn visit_from(
        &self,
        prefix: &[u8],
        start: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> io::Result<()> {
        let from = start.max(prefix).to_vec();
        for item in self.range(from..) {
            let (key, value) = item.map_err(io::Error::other)?;
            if !key.starts_with(prefix) || !visit(&key, &value) {
                break;
            }
        }
        Ok(())
    }

    fn count_prefix(&self, prefix: &[u8]) -> io::Result<u64> {
        let mut n = 0;
        for item in self.scan_prefix(prefix).keys() {
            item.map_err(io::Error::other)?;
            n += 1;
        }
        Ok(n)
    }
}

/// A staged write: `None` deletes.
type Staged = Option<Vec<u8>>;

/// A key and what was staged for it before a write (`None`: nothing was).
type Undo = (Vec<u8>, Option<Staged>);

/// The writes of one apply round, staged in memory and committed to sled as one atomic
/// batch together with `last_applied`. Reads see earlier writes of the same round.
pub struct Overlay<'a> {
    base: &'a sled::Tree,
    pending: BTreeMap<Vec<u8>, Staged>,
    /// Undo log, for rolling back one command.
    undo: Vec<Undo>,
    /// Personal data was erased in this round (LIFE-02).
    erased: bool,
}

impl<'a> Overlay<'a> {
    pub fn new(base: &'a sled::Tree) -> Self {
        Self {
            base,
            pending: BTreeMap::new(),
            undo: Vec::new(),
            erased: false,
        }
    }

    pub fn put<T: Serialize>(&mut self, key: Vec<u8>, value: &T) -> io::Result<()> {
        let bytes = to_bytes(value)?;
        self.stage(key, Some(bytes));
        Ok(())
    }

    pub fn delete(&mut self, key: Vec<u8>) {
        self.stage(key, None);
    }

    /// Deletes every key under `prefix`.
    /// Deletes everything an app environment keeps in `families` (an app being deleted).
    pub fn delete_app(&mut self, families: &[&[u8]], app_key: &str) -> io::Result<()> {
        for family in families {
            self.delete_prefix(&super::keys::of_app(family, app_key))?;
        }
        Ok(())
    }

    pub fn delete_prefix(&mut self, prefix: &[u8]) -> io::Result<()> {
        for (key, _) in self.scan_raw(prefix)? {
            self.delete(key);
        }
        Ok(())
    }

    fn stage(&mut self, key: Vec<u8>, value: Staged) {
        let previous = self.pending.insert(key.clone(), value);
        self.undo.push((key, previous));
    }

    pub fn checkpoint(&self) -> usize {
        self.undo.len()
    }

    /// Undoes every write staged after `checkpoint`.
    pub fn rollback(&mut self, checkpoint: usize) {
        while self.undo.len() > checkpoint {
            let Some((key, previous)) = self.undo.pop() else {
                break;
            };
            match previous {
                Some(value) => self.pending.insert(key, value),
                None => self.pending.remove(&key),
            };
        }
    }

    /// Says that this round erases personal data: the node then rewrites its store after
    /// its next snapshot, so that no stale copy stays on its disk.
    pub fn mark_erasure(&mut self) {
        self.erased = true;
    }

    pub fn erasure_marked(&self) -> bool {
        self.erased
    }

    /// The keys staged to be written or removed.
    pub fn staged_keys(&self) -> impl Iterator<Item = &[u8]> {
        self.pending.keys().map(Vec::as_slice)
    }

    /// The staged writes (`None`: a removal).
    pub fn staged(&self) -> impl Iterator<Item = (&[u8], Option<&[u8]>)> {
        self.pending
            .iter()
            .map(|(key, value)| (key.as_slice(), value.as_deref()))
    }

    /// The staged writes as one sled batch; the undo log is dropped.
    pub fn into_batch(self) -> sled::Batch {
        let mut batch = sled::Batch::default();
        for (key, value) in self.pending {
            match value {
                Some(value) => batch.insert(key, value),
                None => batch.remove(key),
            }
        }
        batch
    }
}

impl StateRead for Overlay<'_> {
    fn get_raw(&self, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        match self.pending.get(key) {
            Some(staged) => Ok(staged.clone()),
            None => self.base.get_raw(key),
        }
    }

    fn scan_raw(&self, prefix: &[u8]) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> =
            self.base.scan_raw(prefix)?.into_iter().collect();
        for (key, value) in self.pending.range(prefix.to_vec()..) {
            if !key.starts_with(prefix) {
                break;
            }
            match value {
                Some(value) => merged.insert(key.clone(), value.clone()),
                None => merged.remove(key),
            };
        }
        Ok(merged.into_iter().collect())
    }

    /// Walks sled and the staged writes side by side from `start`, staged ones winning.
    fn visit_from(
        &self,
        prefix: &[u8],
        start: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> io::Result<()> {
        let from = start.max(prefix).to_vec();
        let mut base = self
            .base
            .range(from.clone()..)
            .map(|item| item.map(|(k, v)| (k.to_vec(), v.to_vec())))
            .peekable();
        let mut staged = self.pending.range(from..).peekable();
        loop {
            let next_base = match base.peek() {
                Some(Ok((key, _))) => Some(key.clone()),
                Some(Err(e)) => return Err(io::Error::other(e.to_string())),
                None => None,
            };
            let next_staged = staged.peek().map(|(key, _)| (*key).clone());
            let (key, value) = match (next_base, next_staged) {
                (None, None) => break,
                (Some(b), Some(p)) if p <= b => {
                    if p == b {
                        base.next();
                    }
                    let (key, value) = staged.next().expect("peeked");
                    match value {
                        Some(value) => (key.clone(), value.clone()),
                        None => continue,
                    }
                }
                (None, Some(_)) => {
                    let (key, value) = staged.next().expect("peeked");
                    match value {
                        Some(value) => (key.clone(), value.clone()),
                        None => continue,
                    }
                }
                _ => match base.next() {
                    Some(Ok(entry)) => entry,
                    Some(Err(e)) => return Err(io::Error::other(e.to_string())),
                    None => break,
                },
            };
            if !key.starts_with(prefix) || !visit(&key, &value) {
                break;
            }
        }
        Ok(())
    }
}
