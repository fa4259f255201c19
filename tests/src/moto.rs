//! moto's S3 server (PyPI `moto[server]`, installed by `scripts/test`): a real S3 protocol
//! endpoint for the file stores' tests.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

/// moto's S3 server on a free loopback port, stopped when dropped.
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Moto {
    pub fn start() -> Moto {
        let site: PathBuf = [
            std::env::var("HOME").expect("HOME"),
            ".cache/meridian-sdk/moto".into(),
        ]
        .iter()
        .collect();
        assert!(
            site.join("moto").is_dir(),
            "moto is not installed in {} (scripts/test installs it)",
            site.display()
        );
        let port = meridian_telemetry::free_loopback_port().expect("a free port");
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .env("PYTHONPATH", &site)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs moto");
        Moto { child, port }
    }

    /// `http://127.0.0.1:{port}`, the endpoint an S3 client is given.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Sends one plain HTTP request (moto's server mode takes unsigned ones) and answers
    /// the status, or `None` while the server is not listening yet.
    pub async fn request(&self, method: &str, path: &str) -> Option<u16> {
        let mut stream = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, self.port))
            .await
            .ok()?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        stream.write_all(head.as_bytes()).await.ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        let status = String::from_utf8_lossy(&answer);
        status.split(' ').nth(1)?.parse().ok()
    }

    /// Creates a bucket once the server answers.
    pub async fn bucket(&self, bucket: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match self.request("PUT", &format!("/{bucket}")).await {
                Some(200) => return,
                Some(status) => panic!("moto answered {status} to creating a bucket"),
                None if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                None => panic!("moto did not start listening within a minute"),
            }
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
