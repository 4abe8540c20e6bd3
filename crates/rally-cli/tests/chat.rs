//! The chat demo end to end: its protocol with the official
//! `socket.io-client`, and two pages in Debian's Chromium
//! (interop/chat-client.mjs, interop/chat-browser.mjs).

mod support;

use std::{path::PathBuf, process::Stdio, time::Duration};

use support::Rally;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

async fn node(script: &str, args: &[&str]) {
    let interop = repo_root().join("interop");
    assert!(
        interop.join("node_modules").is_dir(),
        "interop/node_modules is missing: run `bash scripts/test.sh` (or `cd interop && npm ci`)"
    );
    let child = tokio::process::Command::new("node")
        .arg(interop.join(script))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("the script finishes within 120 s")
        .expect("the script's output");
    assert!(
        output.status.success(),
        "node {script} {args:?} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn the_chat_protocol_works_with_the_official_client() {
    let rally = Rally::start(&[]);
    let url = format!("http://127.0.0.1:{}", rally.port);
    node("chat-client.mjs", &[&url]).await;
}

#[tokio::test]
async fn two_browser_pages_chat_in_one_room() {
    let rally = Rally::start(&[]);
    let url = format!("http://127.0.0.1:{}", rally.port);
    // Kept as a test artifact: what the second page showed.
    let artifacts = repo_root().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).expect("artifact folder");
    let shot = artifacts.join("chat-demo.png");
    node("chat-browser.mjs", &[&url, &shot.display().to_string()]).await;
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 10_000,
        "the screenshot {} is missing or empty",
        shot.display()
    );
}
