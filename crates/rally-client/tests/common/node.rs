//! The reference servers of interop/, built on the official `socket.io`
//! 4.8.4, as child processes.

use std::{path::PathBuf, process::Stdio, time::Duration};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A Node.js server started from a script of interop/.
pub struct NodeServer {
    pub port: u16,
    child: Option<Child>,
}

impl NodeServer {
    /// Runs `node interop/<script> <port>` and waits for its
    /// `listening <port>` line.
    pub async fn start(script: &str, port: u16) -> Self {
        let interop = repo_root().join("interop");
        assert!(
            interop.join("node_modules").is_dir(),
            "interop/node_modules is missing: run `cd interop && npm ci`"
        );
        let mut child = Command::new("node")
            .arg(interop.join(script))
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let port = tokio::time::timeout(Duration::from_secs(10), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(port) = line.strip_prefix("listening ") {
                    return port.trim().parse::<u16>().ok();
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("node {script} did not start listening"));
        // Keep reading its log so that it never blocks on a full pipe.
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::debug!(target: "node", "{line}");
            }
        });
        Self {
            port,
            child: Some(child),
        }
    }

    /// Kills the server: every connection drops.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }
}
