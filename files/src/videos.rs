//! What a video upload gets besides its bytes (FILE-03): its length, its size in pixels
//! and its first frame as the thumbnail an `RC:SightMsg` carries (the same small JPEG an
//! image gets), read by ffprobe and ffmpeg where the machine has them. Where it has not,
//! or they cannot read the file, the upload goes on without them.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use tokio::process::Command;

use crate::images;

/// Each tool gets this long per file before it is killed.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoInfo {
    pub duration_ms: u64,
    pub width: u32,
    pub height: u32,
    /// Base64 JPEG of the first frame, at most [`images::THUMBNAIL_SIDE`] a side.
    pub thumbnail: String,
}

/// Reads the video at `path`; `None` when the tools are missing or cannot read it.
pub async fn probe(path: &Path) -> Option<VideoInfo> {
    let duration_ms = duration_ms(path).await?;
    let frame = run(Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-frames:v", "1", "-f", "image2pipe", "-vcodec", "png", "-"]))
    .await?;
    let processed = tokio::task::spawn_blocking(move || images::process(&frame))
        .await
        .ok()?
        .map_err(|e| tracing::debug!(error = %e, "a video's first frame is no image"))
        .ok()?;
    Some(VideoInfo {
        duration_ms,
        width: processed.width,
        height: processed.height,
        thumbnail: processed.thumbnail,
    })
}

async fn duration_ms(path: &Path) -> Option<u64> {
    #[derive(Deserialize)]
    struct Probed {
        format: Format,
    }
    #[derive(Deserialize)]
    struct Format {
        duration: String,
    }
    let json = run(Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "json",
        ])
        .arg(path))
    .await?;
    let probed: Probed = serde_json::from_slice(&json).ok()?;
    let seconds: f64 = probed.format.duration.parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| (seconds * 1000.0).round() as u64)
}

/// The tool's output, if it ran and succeeded within [`PROBE_TIMEOUT`].
async fn run(command: &mut Command) -> Option<Vec<u8>> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let output = match tokio::time::timeout(PROBE_TIMEOUT, command.output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "ffprobe/ffmpeg could not run: videos get no metadata");
            return None;
        }
        Err(_) => {
            tracing::warn!("ffprobe/ffmpeg took longer than {PROBE_TIMEOUT:?} on a video");
            return None;
        }
    };
    output.status.success().then_some(output.stdout)
}
