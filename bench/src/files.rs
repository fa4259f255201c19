//! `meridian bench files`: the file service (`docs/files.md`, issue 22) of a `meridian dev`
//! child, against the disk it stores on. Measured in one run:
//!
//! 1. the disk's sequential write speed in the filesystem of the dev data dir: the same
//!    bytes as the uploads, 1 MiB a write, then one fdatasync (as `dd conv=fdatasync`);
//! 2. upload throughput: `--files` incompressible files of `--mib` MiB (kind `file`),
//!    `--concurrency` at a time, grant + PUT, each answer's SHA-256 checked against the
//!    bytes sent; and the same once the uploaded objects are fdatasynced as well (the
//!    local store does not sync them itself);
//! 3. download throughput of the same files, sizes checked;
//! 4. thumbnails per second: a 3000×2000 photo-like JPEG uploaded `--images` times as
//!    kind `image` (decoded, thumbnail and preview made), two at a time.
//!
//! The target: uploads at ≥ 80% of the disk's speed measured in the same run.
//! The dev child's CPU (edge and node in one process) is sampled around each phase.

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::time::Instant;

use anyhow::{bail, ensure, Context};
use bytes::Bytes;
use clap::Args;
use futures::{StreamExt, TryStreamExt};
use http_body_util::{BodyExt, Full};
use image::codecs::jpeg::JpegEncoder;
use meridian_client::files::{edge_base, upload};
use meridian_client::server_api::post_form;
use meridian_files::store::sha256_hex;
use meridian_proto::files::{FileKind, Uploaded};
use serde::Serialize;

use crate::measure::cpu_seconds;
use serde_json::json;

use crate::dev_child::DevChild;
use crate::host::{keepalive_connection, scratch_dir};

#[derive(Args)]
pub struct FilesArgs {
    #[arg(long)]
    json: bool,
    /// Files uploaded (kind `file`) and downloaded again.
    #[arg(long, default_value_t = 16)]
    files: usize,
    /// Each file's size, in MiB.
    #[arg(long, default_value_t = 32)]
    mib: u64,
    /// Uploads (and then downloads) in flight at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Photo uploads (kind `image`, two at a time) for thumbnails per second.
    #[arg(long, default_value_t = 40)]
    images: usize,
}

const MIB: usize = 1 << 20;
/// The service's default largest `file` upload (docs/files.md); raised for larger files.
const DEFAULT_FILE_LIMIT: u64 = 100 << 20;
/// The photo every image upload sends: a 6-megapixel camera's size.
const PHOTO: (u32, u32) = (3000, 2000);
const IMAGE_CONCURRENCY: usize = 2;
/// How long one download may take.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Serialize)]
struct FilesReport {
    files: usize,
    mib: u64,
    concurrency: usize,
    /// Where the disk was measured and the dev child kept its data.
    dir: String,
    /// MB = 10^6 bytes, as dd prints.
    disk_write_mb_per_sec: f64,
    upload_mb_per_sec: f64,
    upload_percent_of_disk: f64,
    /// From the first upload until every stored object is also on disk (fdatasync).
    upload_synced_mb_per_sec: f64,
    download_mb_per_sec: f64,
    /// The dev child's CPU during each phase, in % of one core.
    upload_server_cpu_percent: f64,
    download_server_cpu_percent: f64,
    images: usize,
    image_bytes: usize,
    thumbnails_per_sec: f64,
    image_server_cpu_percent: f64,
}

pub async fn run(args: FilesArgs) -> anyhow::Result<()> {
    ensure!(
        args.files > 0 && args.mib > 0 && args.concurrency > 0,
        "--files, --mib and --concurrency must be at least 1"
    );
    let report = tokio::select! {
        report = measure(&args) => report?,
        _ = tokio::signal::ctrl_c() => bail!("interrupted"),
    };
    if args.json {
        let mut object = serde_json::to_value(&report)?;
        object["benchmark"] = json!("files");
        object["machine"] = crate::measure::machine();
        println!("{object}");
        return Ok(());
    }
    let r = &report;
    let (files, mib, at_once, dir) = (r.files, r.mib, r.concurrency, &r.dir);
    println!("{files} files x {mib} MiB, {at_once} at a time, in {dir}");
    println!("{:<22} {:>6} {:>8}", "", "MB/s", "dev CPU");
    let (up_cpu, down_cpu) = (r.upload_server_cpu_percent, r.download_server_cpu_percent);
    let rows = [
        ("disk write + fdatasync", r.disk_write_mb_per_sec, None),
        ("upload", r.upload_mb_per_sec, Some(up_cpu)),
        ("upload + fdatasync", r.upload_synced_mb_per_sec, None),
        ("download", r.download_mb_per_sec, Some(down_cpu)),
    ];
    for (what, mb, cpu) in rows {
        let cpu = cpu.map_or(String::new(), |cpu: f64| format!("{cpu:>7.0}%"));
        println!("{what:<22} {mb:>6.0} {cpu}");
    }
    let percent = r.upload_percent_of_disk;
    println!("upload at {percent:.0}% of the disk's write speed (target >= 80%)");
    let (width, height, kb) = (PHOTO.0, PHOTO.1, r.image_bytes / 1000);
    println!(
        "thumbnails: {:.1}/s, {} uploads of a {width}x{height} JPEG of {kb} KB, \
         {IMAGE_CONCURRENCY} at a time; dev CPU {:.0}%",
        r.thumbnails_per_sec, r.images, r.image_server_cpu_percent
    );
    Ok(())
}

async fn measure(args: &FilesArgs) -> anyhow::Result<FilesReport> {
    let (count, mib) = (args.files, args.mib);
    progress(&format!("preparing {count} x {mib} MiB and a photo"));
    let (files, photo) = tokio::task::spawn_blocking(move || prepare(count, mib)).await??;
    let total = count as u64 * mib * MIB as u64;
    let dir = scratch_dir()?;

    progress(&format!("disk write, {total} bytes in {}", dir.display()));
    let disk_file = dir.join("files-disk-write");
    let files_for_disk = files.clone();
    let elapsed =
        tokio::task::spawn_blocking(move || disk_write(&disk_file, &files_for_disk)).await??;
    let mb = total as f64 / 1e6;
    let disk_mb = mb / elapsed.as_secs_f64();

    let dev = DevChild::start(&[]).await?;
    let (e, pid) = (&dev.endpoints, dev.pid());
    let edge = edge_base(&e.ws);
    let (path, user) = ("/user/getToken.json", "userId=bench-files");
    let answer = post_form(&e.api, &e.app_key, &e.app_secret, path, user).await?;
    let token = answer["token"].as_str().context("getToken: no token")?;
    let file_bytes = mib * MIB as u64;
    if file_bytes > DEFAULT_FILE_LIMIT {
        let limits = json!({ "maxBytes": { "file": file_bytes } }).to_string();
        let url = format!("{}/admin/v1/apps/{}/file-limits", e.edge_admin, e.app_key);
        let (bearer, body) = (Some(e.operator_token.as_str()), Some(limits.as_bytes()));
        let ten_seconds = Duration::from_secs(10);
        let answer = meridian_rpc::http::request("PUT", &url, bearer, body, ten_seconds).await?;
        ensure!(answer.status == 200, "{url}: {}", answer.text());
    }

    progress(&format!("uploading, {} at a time", args.concurrency));
    let uploads = futures::stream::iter(files.iter().enumerate())
        .map(|(n, (bytes, sha256))| upload_file(&edge, token, n, bytes.clone(), sha256))
        .buffer_unordered(args.concurrency)
        .try_collect::<Vec<Uploaded>>();
    let upload = timed(pid, uploads).await?;
    let started = Instant::now();
    tokio::task::spawn_blocking(move || sync_tree(&scratch_dir()?)).await??;
    let synced = upload.seconds + started.elapsed().as_secs_f64();

    progress("downloading");
    let downloads = futures::stream::iter(&upload.value)
        .map(|file| download(&file.url, file.size))
        .buffer_unordered(args.concurrency)
        .try_collect::<Vec<()>>();
    let download = timed(pid, downloads).await?;

    progress(&format!("{} photos", args.images));
    let photos = futures::stream::iter(0..args.images)
        .map(|n| upload_photo(&edge, token, n, photo.clone()))
        .buffer_unordered(IMAGE_CONCURRENCY)
        .try_collect::<Vec<()>>();
    let images = timed(pid, photos).await?;

    let upload_mb = mb / upload.seconds;
    Ok(FilesReport {
        files: count,
        mib,
        concurrency: args.concurrency,
        dir: dir.display().to_string(),
        disk_write_mb_per_sec: disk_mb,
        upload_mb_per_sec: upload_mb,
        upload_percent_of_disk: upload_mb / disk_mb * 100.0,
        upload_synced_mb_per_sec: mb / synced,
        download_mb_per_sec: mb / download.seconds,
        upload_server_cpu_percent: upload.cpu_percent,
        download_server_cpu_percent: download.cpu_percent,
        images: args.images,
        image_bytes: photo.len(),
        thumbnails_per_sec: args.images as f64 / images.seconds,
        image_server_cpu_percent: images.cpu_percent,
    })
}

/// What a phase answered, how long it took and how busy the dev child was meanwhile.
struct Phase<T> {
    value: T,
    seconds: f64,
    cpu_percent: f64,
}

async fn timed<T>(
    pid: u32,
    work: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<Phase<T>> {
    let (cpu_before, started) = (cpu_seconds(&pid.to_string())?, Instant::now());
    let value = work.await?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu_percent = (cpu_seconds(&pid.to_string())? - cpu_before) / seconds * 100.0;
    Ok(Phase {
        value,
        seconds,
        cpu_percent,
    })
}

fn progress(message: &str) {
    eprintln!("meridian bench: files: {message}");
}

/// The files to upload: pseudo-random (incompressible) bytes with their hex SHA-256.
type Files = Vec<(Bytes, String)>;

/// The files, and the photo.
fn prepare(files: usize, mib: u64) -> anyhow::Result<(Files, Bytes)> {
    let size = usize::try_from(mib)? * MIB;
    let file = |n| {
        let bytes = pseudo_random(n + 1, size);
        (bytes.clone(), sha256_hex(&bytes))
    };
    Ok(((0..files as u64).map(file).collect(), photo()?))
}

/// xorshift64: fast, and as incompressible to the disk and the network as real data.
fn pseudo_random(seed: u64, len: usize) -> Bytes {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

/// A photo-like JPEG: gradients and waves under fine noise, which JPEG cannot flatten.
fn photo() -> anyhow::Result<Bytes> {
    let (width, height) = PHOTO;
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        let mut n = x.wrapping_mul(374_761_393) ^ y.wrapping_mul(668_265_263);
        n = (n ^ (n >> 13)).wrapping_mul(1_274_126_177);
        let noise = (n >> 27) as u8; // 0..32
        let wave = ((x as f32 / 37.0).sin() * (y as f32 / 53.0).cos() * 40.0 + 50.0) as u8;
        let red = 60 + (x * 120 / width) as u8;
        let blue = 210 - (y * 150 / height) as u8;
        image::Rgb([red + noise, wave + noise, blue + noise])
    });
    let mut out = Vec::new();
    image.write_with_encoder(JpegEncoder::new_with_quality(&mut out, 90))?;
    Ok(Bytes::from(out))
}

/// Writes the files' bytes to `path` 1 MiB at a time and fdatasyncs; answers how long
/// that took, and removes the file.
fn disk_write(path: &Path, files: &[(Bytes, String)]) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut file = std::fs::File::create(path).with_context(|| path.display().to_string())?;
    for (bytes, _) in files {
        for block in bytes.chunks(MIB) {
            file.write_all(block)?;
        }
    }
    file.sync_data()?;
    let elapsed = started.elapsed();
    drop(file);
    std::fs::remove_file(path)?;
    Ok(elapsed)
}

/// fdatasyncs every file under `dir` (the dev child's data dir is in it).
fn sync_tree(dir: &Path) -> anyhow::Result<()> {
    let mut pending: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        // What the child removes meanwhile (a staged object renamed) is skipped.
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => pending.push(entry.path()),
                Ok(kind) if kind.is_file() => {
                    if let Ok(file) = std::fs::File::open(entry.path()) {
                        file.sync_data()?;
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

async fn upload_file(
    edge: &str,
    token: &str,
    n: usize,
    bytes: Bytes,
    sha256: &str,
) -> anyhow::Result<Uploaded> {
    let size = bytes.len() as u64;
    let name = format!("bench-{n}.bin");
    let uploaded = upload(edge, token, FileKind::File, &name, "", None, bytes).await?;
    ensure!(
        uploaded.sha256 == sha256 && uploaded.size == size,
        "{name}: the service stored {} bytes with SHA-256 {}, sent {size} with {sha256}",
        uploaded.size,
        uploaded.sha256
    );
    Ok(uploaded)
}

async fn upload_photo(edge: &str, token: &str, n: usize, photo: Bytes) -> anyhow::Result<()> {
    let name = format!("photo-{n}.jpg");
    let jpeg = "image/jpeg";
    let uploaded = upload(edge, token, FileKind::Image, &name, jpeg, None, photo).await?;
    ensure!(
        uploaded.thumbnail.is_some_and(|t| !t.is_empty()) && uploaded.preview_url.is_some(),
        "{name}: the answer has no thumbnail or preview"
    );
    Ok(())
}

/// GETs `url` on a connection of its own, counting the bytes as they arrive.
async fn download(url: &str, size: u64) -> anyhow::Result<()> {
    let base = edge_base(url);
    let path = url.strip_prefix(&base).context("a link to another host")?;
    let get = async {
        let mut connection = keepalive_connection(&base).await?;
        let request = hyper::Request::get(path)
            .header(hyper::header::HOST, base.trim_start_matches("http://"))
            .body(Full::new(Bytes::new()))?;
        let response = connection.send_request(request).await?;
        ensure!(response.status() == 200, "GET {url}: {}", response.status());
        let mut body = response.into_body();
        let mut received = 0;
        while let Some(frame) = body.frame().await {
            received += frame?.data_ref().map_or(0, |data| data.len() as u64);
        }
        Ok(received)
    };
    let received = tokio::time::timeout(TRANSFER_TIMEOUT, get)
        .await
        .with_context(|| format!("GET {url} took over {TRANSFER_TIMEOUT:?}"))??;
    ensure!(received == size, "GET {url}: {received} bytes, not {size}");
    Ok(())
}
