//! The store's side of rewriting sled ([`super::compaction`]): when a node does it (past
//! a size, or owed for erased data), and the copy and switch while applies go on.

use std::fs;
use std::io;
use std::sync::Arc;

use tokio::time::Instant;

use super::compaction::{self, Compaction, Sled};
use super::StateMachineStore;
use crate::state::{self, Overlay};

impl StateMachineStore {
    /// Asks for a compaction after an erasure, and again once the feed no longer holds
    /// the events it had then (trimmed by count or by age). The caller holds the apply
    /// lock.
    pub(super) fn note_erasures(&self, overlay: &Overlay<'_>) -> io::Result<()> {
        let due = &self.inner.rewrite_due;
        let pending = due.pending_feed_head();
        if overlay.erasure_marked() {
            due.erasure_applied(state::feed::head(overlay).map_err(io::Error::other)?)?;
        } else if pending > 0 {
            let head = state::feed::head(overlay).map_err(io::Error::other)?;
            if state::feed::oldest_kept(overlay, head).map_err(io::Error::other)? > pending {
                due.feed_trimmed_past()?;
            }
        }
        Ok(())
    }

    pub(super) fn compacting(&self) -> std::sync::MutexGuard<'_, Option<Compaction>> {
        self.inner
            .compacting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// After a snapshot (which measured the live records): rewrites sled in the
    /// background once its files have outgrown them (`storage.sled_compact_ratio`), or
    /// once an erasure was applied.
    pub(super) fn compact_if_due(&self) {
        let live: u64 = self.family_sizes().iter().map(|f| f.bytes).sum();
        let on_disk = self.sled_bytes_on_disk();
        let erased = self.inner.rewrite_due.take();
        if !erased && !self.inner.compaction_policy.due(on_disk, live) {
            return;
        }
        // The copy never outgrows the files it rewrites; without that much room it
        // would fill the disk (and be given up).
        let free = fs2::available_space(&self.sled().dir).unwrap_or(0);
        if free < on_disk {
            tracing::warn!(on_disk, free, "too little free space to compact the state");
            self.inner.rewrite_due.give_back(erased);
            return;
        }
        let store = self.clone();
        tokio::spawn(async move {
            if let Err(e) = store.compact().await {
                tracing::warn!(error = %e, "compacting the state failed");
                store.inner.rewrite_due.give_back(erased);
            }
        });
    }

    /// Rewrites sled into a fresh directory while applies go on, then makes that the
    /// state's and removes the old one ([`compaction`]).
    pub async fn compact(&self) -> io::Result<()> {
        let _one_at_a_time = self.inner.snapshot_lock.lock().await;
        let started = Instant::now();
        let before = self.sled_bytes_on_disk();
        let current = self.sled().dir.clone();
        let cache_bytes = self.inner.sled_cache_bytes;
        let into = tokio::task::spawn_blocking(move || {
            Sled::open(compaction::next_dir(&current)?, cache_bytes)
        })
        .await
        .map_err(io::Error::other)??;
        let into_dir = into.dir.clone();
        // Everything applied from here on is copied or mirrored.
        let from_index = {
            let _applying = self.inner.apply_lock.lock().await;
            *self.compacting() = Some(Compaction::new(Arc::new(into)));
            self.last_applied().map(|id| id.map_or(0, |id| id.index))
        };
        let switched = match from_index {
            Ok(from_index) => self.copy_and_switch(from_index).await,
            Err(e) => Err(e),
        };
        if switched.is_err() {
            // Failed midway: unless the pointer names it already, the new directory is not
            // in use; the next start removes it if this cannot.
            *self.compacting() = None;
            let state_dir = into_dir.parent().unwrap_or(&into_dir);
            if compaction::current_dir(state_dir).is_ok_and(|current| current != into_dir) {
                drop(fs::remove_dir_all(&into_dir));
            }
        }
        let old = switched?;
        let removed = tokio::task::spawn_blocking(move || fs::remove_dir_all(&old.dir)).await;
        if let Ok(Err(e)) = removed {
            tracing::warn!(error = %e, "removing the replaced sled directory");
        }
        if let Err(e) = self.inner.rewrite_due.rewritten() {
            tracing::warn!(error = %e, "noting the rewrite owed for erased data as paid");
        }
        self.inner.metrics.compactions.inc();
        tracing::info!(
            before,
            after = self.sled_bytes_on_disk(),
            took = ?started.elapsed(),
            "state compacted"
        );
        Ok(())
    }

    /// Copies the state a chunk per hold of the apply lock, makes the copy durable and
    /// switches to it; answers the replaced sled.
    async fn copy_and_switch(&self, from_index: u64) -> io::Result<Arc<Sled>> {
        loop {
            let applying = self.inner.apply_lock.lock().await;
            let started = Instant::now();
            let store = self.clone();
            let done = tokio::task::spawn_blocking(move || store.copy_next_chunk())
                .await
                .map_err(io::Error::other)??;
            drop(applying);
            if done {
                break;
            }
            // Half a core at most: the copy rests as long as its chunk took, so the
            // node's own work keeps its pace (copying flat out, with every node of a
            // small machine rewriting at once, showed as 1-1.5 s p99 windows).
            tokio::time::sleep(started.elapsed()).await;
        }
        // Most of the copy is made durable while applies go on; under the apply lock
        // only what they wrote meanwhile is left to flush.
        let into = self.compaction_target()?;
        let durable = into.clone();
        tokio::task::spawn_blocking(move || durable.make_durable())
            .await
            .map_err(io::Error::other)??;
        let _applying = self.inner.apply_lock.lock().await;
        // An apply gives the rewrite up if it cannot write to it (a full disk).
        self.compaction_target()?;
        let into = tokio::task::spawn_blocking(move || {
            into.make_durable()?;
            if let Err(e) = compaction::make_current(&into.dir) {
                // The rename may have happened before the error: the pointer decides.
                let state_dir = into.dir.parent().unwrap_or(&into.dir);
                if compaction::current_dir(state_dir)? != into.dir {
                    return Err(e);
                }
                tracing::warn!(error = %e, "making the compacted state current");
            }
            Ok::<_, io::Error>(into)
        })
        .await
        .map_err(io::Error::other)??;
        *self.compacting() = None;
        let old = std::mem::replace(
            &mut *self.inner.sled.write().unwrap_or_else(|p| p.into_inner()),
            into,
        );
        self.inner
            .metrics
            .compacted_from_index
            .set(from_index as i64);
        Ok(old)
    }

    /// Copies the next chunk (the caller holds the apply lock); answers whether the copy
    /// reached the end.
    fn copy_next_chunk(&self) -> io::Result<bool> {
        self.compacting()
            .as_mut()
            .ok_or_else(|| io::Error::other("the compaction was dropped"))?
            .copy_chunk(&self.state())
    }

    fn compaction_target(&self) -> io::Result<Arc<Sled>> {
        self.compacting()
            .as_ref()
            .map(|c| c.into.clone())
            .ok_or_else(|| io::Error::other("the compaction was dropped"))
    }
}
