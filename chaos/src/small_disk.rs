//! A small filesystem of its own (tmpfs, so `mount` needs root) at a directory, to run a
//! node's disk full; unmounted when dropped.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{ensure, Context};

pub struct SmallDisk {
    path: PathBuf,
    filler: PathBuf,
}

impl SmallDisk {
    pub fn mount(path: &Path, megabytes: u64) -> anyhow::Result<Self> {
        std::fs::create_dir_all(path)?;
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(path)
            .status()
            .context("running mount")?;
        ensure!(mounted.success(), "mounting a tmpfs needs root");
        Ok(Self {
            path: path.to_path_buf(),
            filler: path.join("filler"),
        })
    }

    pub fn free_bytes(&self) -> io::Result<u64> {
        fs2::available_space(&self.path)
    }

    /// Fills the disk until at most `left` bytes are free (0: until writes fail).
    pub fn fill(&self, left: u64) -> io::Result<()> {
        let mut file = std::fs::File::options()
            .create(true)
            .append(true)
            .open(&self.filler)?;
        // Large writes: a 2 GiB disk fills in a few hundred, well under a second.
        let chunk = vec![0u8; 8 << 20];
        loop {
            let free = self.free_bytes()?;
            if free <= left {
                break;
            }
            let room = (free - left).min(chunk.len() as u64) as usize;
            if file.write_all(&chunk[..room]).is_err() {
                break;
            }
        }
        file.sync_all()
    }

    /// Gives the space back.
    pub fn empty(&self) -> io::Result<()> {
        std::fs::remove_file(&self.filler)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}
