//! A `rally serve` process for the tests, with `rally-testkit`'s raw HTTP
//! client pointed at it.

#![allow(dead_code)]

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    process::{Child, Command, Stdio},
    time::Duration,
};

pub(crate) use rally_testkit::http::{Http, RawResponse};

/// A running `rally serve`.
pub(crate) struct Rally {
    child: Child,
    pub(crate) port: u16,
}

impl Rally {
    /// Starts `rally serve` on a free port with `args`, and waits until it
    /// listens.
    pub(crate) fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rally"))
            .arg("serve")
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("rally starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("rally prints where it listens");
        // "rally listening on http://localhost:PORT/ (ADDR)"
        let port = line
            .split("localhost:")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        Self { child, port }
    }

    /// Sends the signal `name` (`HUP`, `TERM`...) to the process.
    pub(crate) fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Its log lines from now on, as they come (its stderr is then no
    /// longer returned by [`terminate`](Self::terminate)).
    pub(crate) fn log_lines(&mut self) -> std::sync::mpsc::Receiver<String> {
        let stderr = self.child.stderr.take().expect("piped stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        rx
    }

    /// Where it listens, for raw requests.
    pub(crate) fn http(&self) -> Http {
        Http::new(SocketAddr::from(([127, 0, 0, 1], self.port)))
    }

    /// One request with extra `headers` on a connection of its own.
    pub(crate) async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> RawResponse {
        self.http()
            .request(method, path, headers, body.as_bytes())
            .await
    }

    /// A GET of `path`.
    pub(crate) async fn get(&self, path: &str) -> RawResponse {
        self.http().get(path).await
    }

    /// Sends SIGTERM and waits for the exit status (at most `within`).
    pub(crate) fn terminate(mut self, within: Duration) -> (std::process::ExitStatus, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                let mut stderr = String::new();
                if let Some(mut err) = self.child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut err, &mut stderr);
                }
                return (status, stderr);
            }
            assert!(
                std::time::Instant::now() < deadline,
                "rally did not exit within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Rally {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
