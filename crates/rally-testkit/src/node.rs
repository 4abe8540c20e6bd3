//! The Node.js scripts of `interop/` (the official npm packages, installed
//! from `interop/package-lock.json` by `scripts/test.sh`) as child
//! processes: a script run to completion ([`run`]), a server that prints
//! `listening <port>` ([`NodeServer`]), and a script that talks in JSON lines
//! on its standard input and output ([`JsonLines`]).

use std::{path::PathBuf, process::Stdio, time::Duration};

use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    process::{Child, ChildStdin, Command},
    sync::mpsc,
};

use crate::{repo_root, within};

/// How long a script run to completion may take (browser scripts included).
pub const SCRIPT_DEADLINE: Duration = Duration::from_secs(120);

/// The `interop/` folder, checked to hold its `node_modules`.
///
/// # Panics
///
/// When `interop/node_modules` is missing, saying how to install it.
pub fn interop_dir() -> PathBuf {
    let dir = repo_root().join("interop");
    assert!(
        dir.join("node_modules").is_dir(),
        "interop/node_modules is missing: run `bash scripts/test.sh` (or `cd interop && npm ci`)"
    );
    dir
}

/// `node interop/<script>`, with its output piped and killed on drop.
pub fn command(script: &str) -> Command {
    let dir = interop_dir();
    let mut command = Command::new("node");
    command
        .arg(dir.join(script))
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Runs `node interop/<script> <args...>` to completion and returns its
/// standard output.
///
/// # Panics
///
/// Unless the script exits 0 within [`SCRIPT_DEADLINE`]; the message holds
/// both of its outputs.
pub async fn run(script: &str, args: &[&str]) -> String {
    let child = command(script)
        .args(args)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run node (is Node.js 20+ installed?): {e}"));
    let output = tokio::time::timeout(SCRIPT_DEADLINE, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("node {script} {args:?} did not finish in {SCRIPT_DEADLINE:?}"))
        .expect("the script's output");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "node {script} {args:?} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// A Node.js server started from a script of `interop/`, killed on drop or
/// by [`stop`](Self::stop).
#[derive(Debug)]
pub struct NodeServer {
    /// The port it listens on.
    pub port: u16,
    child: Option<Child>,
}

impl NodeServer {
    /// Runs `node interop/<script> <port>` (0: a free port) and waits for
    /// its `listening <port>` line; what it prints after that goes to the
    /// test's log.
    pub async fn start(script: &str, port: u16) -> Self {
        Self::start_with(script, port, &[]).await
    }

    /// Runs `node interop/<script> <port> <args...>`, as [`start`](Self::start).
    pub async fn start_with(script: &str, port: u16, args: &[&str]) -> Self {
        let mut child = command(script)
            .arg(port.to_string())
            .args(args)
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let port = within(&format!("node {script} to listen"), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(port) = line.strip_prefix("listening ") {
                    return port.trim().parse::<u16>().ok();
                }
            }
            None
        })
        .await
        .unwrap_or_else(|| panic!("node {script} exited before it listened"));
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

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills the server: every connection drops.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }
}

/// A script that takes one JSON command per line on its standard input and
/// prints one JSON line per happening; lines that are not JSON go to the
/// test's standard error. Killed on drop.
#[derive(Debug)]
pub struct JsonLines {
    stdin: ChildStdin,
    lines: mpsc::UnboundedReceiver<Value>,
    /// Lines read but not taken yet, in order.
    pub seen: Vec<Value>,
    _child: Child,
}

impl JsonLines {
    /// Starts `node interop/<script> <args...>`.
    pub fn start(script: &str, args: &[&str]) -> Self {
        let mut child = command(script)
            .args(args)
            .stdin(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::unbounded_channel();
        let script = script.to_owned();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                match serde_json::from_str(&line) {
                    Ok(value) => {
                        if tx.send(value).is_err() {
                            return;
                        }
                    }
                    Err(_) => eprintln!("{script}: {line}"),
                }
            }
        });
        Self {
            stdin,
            lines,
            seen: Vec::new(),
            _child: child,
        }
    }

    /// Writes `command` as one line.
    pub async fn send(&mut self, command: &Value) {
        let mut line = command.to_string();
        line.push('\n');
        within(
            "a command to the script",
            self.stdin.write_all(line.as_bytes()),
        )
        .await
        .expect("the script reads its commands");
    }

    /// The next line, in order (a line already seen comes first).
    pub async fn next(&mut self) -> Value {
        if !self.seen.is_empty() {
            return self.seen.remove(0);
        }
        self.recv("the script's next line").await
    }

    /// The first line (seen before or coming) that `matches`, taken out; the
    /// others stay, in order.
    ///
    /// # Panics
    ///
    /// At the deadline, or when the script exits first; a line with an
    /// `error` field that does not match fails at once.
    pub async fn expect(&mut self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.seen.iter().position(&matches) {
            return self.seen.remove(i);
        }
        let deadline = tokio::time::Instant::now() + crate::DEADLINE;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(line)) if matches(&line) => return line,
                Ok(Some(line)) => {
                    assert!(line.get("error").is_none(), "script error: {line}");
                    self.seen.push(line);
                }
                Ok(None) => panic!(
                    "the script exited while waiting for {what}; lines so far: {:#?}",
                    self.seen
                ),
                Err(_) => panic!(
                    "timed out waiting for {what}; lines so far: {:#?}",
                    self.seen
                ),
            }
        }
    }

    /// The lines up to the first that `matches`: (those before, that one).
    /// Lines seen before are taken too.
    pub async fn until(&mut self, matches: impl Fn(&Value) -> bool) -> (Vec<Value>, Value) {
        let mut before = Vec::new();
        loop {
            let line = self.next().await;
            if matches(&line) {
                return (before, line);
            }
            before.push(line);
        }
    }

    /// Every line read so far and not taken (reading what has come).
    pub fn drain(&mut self) -> Vec<Value> {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        self.seen.clone()
    }

    async fn recv(&mut self, what: &str) -> Value {
        within(what, self.lines.recv())
            .await
            .unwrap_or_else(|| panic!("the script exited; it said {:#?}", self.seen))
    }
}
