//! Test only: a slow disk at the Raft log's sync point, which the log consults when built
//! with the feature `fault-injection` (the tests' binary is). While
//! `{log dir}/slow-fsync-ms` holds a number, every flush of the log reports done that
//! many milliseconds late, and raft-log's flush worker waits with it, as behind a disk
//! whose fsync takes that long: commits slow down, batches grow, nothing is lost. The
//! chaos harness writes and removes the file (its `slow-fsync` fault).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Whether this build's log honours the file.
pub const AVAILABLE: bool = cfg!(feature = "fault-injection");

/// The file that sets the delay, in the log's directory.
pub const FILE: &str = "slow-fsync-ms";
/// How often the file is read again: a flush does not read it every time.
const RECHECK: Duration = Duration::from_millis(100);

pub struct SlowFsync {
    file: PathBuf,
    /// When the file was last read, and the delay it set.
    read: Mutex<(Option<Instant>, Duration)>,
}

impl SlowFsync {
    pub fn new(log_dir: &Path) -> Self {
        Self {
            file: log_dir.join(FILE),
            read: Mutex::new((None, Duration::ZERO)),
        }
    }

    /// Called on the flush worker after each sync: waits as long as the file asks.
    pub fn wait(&self) {
        let delay = self.delay();
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
    }

    fn delay(&self) -> Duration {
        let mut read = self.read.lock().unwrap_or_else(|p| p.into_inner());
        if read.0.is_none_or(|at| at.elapsed() >= RECHECK) {
            let ms = std::fs::read_to_string(&self.file)
                .ok()
                .and_then(|text| text.trim().parse().ok())
                .unwrap_or(0);
            *read = (Some(Instant::now()), Duration::from_millis(ms));
        }
        read.1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_sets_the_delay_and_removing_it_ends_it() {
        let dir = tempfile::tempdir().unwrap();
        let slow = SlowFsync::new(dir.path());
        assert_eq!(slow.delay(), Duration::ZERO, "no file, no delay");
        std::fs::write(dir.path().join(FILE), "30\n").unwrap();
        std::thread::sleep(RECHECK);
        let started = Instant::now();
        slow.wait();
        assert!(started.elapsed() >= Duration::from_millis(30));
        std::fs::remove_file(dir.path().join(FILE)).unwrap();
        std::thread::sleep(RECHECK);
        assert_eq!(slow.delay(), Duration::ZERO);
    }
}
