//! A `redis-server` of the test's own (Debian's package, which
//! `scripts/test.sh` installs): a free port, a temporary folder, no
//! persistence, killed on drop; on plain TCP, or on TLS only.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
    process::{Child, Command},
};

use crate::{free_port, tls::CertFiles, within};

/// A running `redis-server`.
#[derive(Debug)]
pub struct RedisServer {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    dir: PathBuf,
    /// The certificate and CA file it serves TLS with (TLS only then).
    tls: Option<(CertFiles, PathBuf)>,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts one and waits until it answers `PING`.
    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    /// Starts one that speaks TLS only (no plain port), serving `cert`;
    /// `ca` is the file of the authority that signed it. Clients show no
    /// certificate of their own (`--tls-auth-clients no`). Waits until it
    /// accepts connections.
    pub async fn start_tls(cert: &CertFiles, ca: &Path) -> Self {
        Self::start_with(Some((cert.clone(), ca.to_owned()))).await
    }

    async fn start_with(tls: Option<(CertFiles, PathBuf)>) -> Self {
        let port = free_port().await;
        let dir = std::env::temp_dir().join(format!("rally-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a folder for redis-server");
        let mut server = Self {
            port,
            dir,
            tls,
            child: None,
        };
        server.spawn().await;
        server
    }

    /// `redis://127.0.0.1:<port>`, or `rediss://` on TLS.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    async fn spawn(&mut self) {
        let port = self.port.to_string();
        let mut command = Command::new("redis-server");
        match &self.tls {
            None => {
                command.args(["--port", &port]);
            }
            Some((cert, ca)) => {
                command
                    .args(["--port", "0", "--tls-port", &port])
                    .arg("--tls-cert-file")
                    .arg(&cert.cert)
                    .arg("--tls-key-file")
                    .arg(&cert.key)
                    .arg("--tls-ca-cert-file")
                    .arg(ca)
                    .args(["--tls-auth-clients", "no"]);
            }
        }
        let child = command
            .args(["--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server runs (apt-get install redis-server; scripts/test.sh does it)");
        self.child = Some(child);
        let port = self.port;
        if self.tls.is_some() {
            // Listening is enough: the adapter's own connection speaks TLS.
            within("redis-server to listen for TLS", async move {
                while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
            .await;
            return;
        }
        within("redis-server to answer PING", async move {
            loop {
                if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await {
                    let _ = stream.write_all(b"PING\r\n").await;
                    let mut buf = [0u8; 7];
                    if stream.read_exact(&mut buf).await.is_ok() && &buf == b"+PONG\r\n" {
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
    }

    /// Kills it (connections drop at once).
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts it again on the same port.
    pub async fn restart(&mut self) {
        self.kill().await;
        self.spawn().await;
    }

    /// The integer reply of one command (see [`int_reply`]).
    pub async fn int(&self, args: &[&str]) -> i64 {
        int_reply(self.port, args).await
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The integer reply of one command to the Redis on `port`, on a fresh raw
/// connection.
///
/// # Panics
///
/// When the reply is not an integer.
pub async fn int_reply(port: u16, args: &[&str]) -> i64 {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to redis-server");
    let mut line = format!("*{}\r\n", args.len());
    for arg in args {
        line.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream
        .write_all(line.as_bytes())
        .await
        .expect("write a command");
    let mut reply = BufReader::new(stream);
    let mut first = String::new();
    within("a Redis reply", reply.read_line(&mut first))
        .await
        .expect("read a reply");
    first
        .trim_end()
        .strip_prefix(':')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("an integer reply: {first:?}"))
}
