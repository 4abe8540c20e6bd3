//! The chat demo end to end: its protocol with the official
//! `socket.io-client`, two pages in Debian's Chromium
//! (interop/chat-client.mjs, interop/chat-browser.mjs), and a long message
//! to a polling-only client in Chromium, in a compressed poll reply
//! (interop/compression-browser.mjs).

mod support;

use rally_testkit::{node, repo_root};
use support::Rally;

#[tokio::test]
async fn the_chat_protocol_works_with_the_official_client() {
    let rally = Rally::start(&[]);
    let url = format!("http://127.0.0.1:{}", rally.port);
    node::run("chat-client.mjs", &[&url]).await;
}

#[tokio::test]
async fn two_browser_pages_chat_in_one_room() {
    let rally = Rally::start(&[]);
    let url = format!("http://127.0.0.1:{}", rally.port);
    // Kept as a test artifact: what the second page showed.
    let artifacts = repo_root().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).expect("artifact folder");
    let shot = artifacts.join("chat-demo.png");
    node::run("chat-browser.mjs", &[&url, &shot.display().to_string()]).await;
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 10_000,
        "the screenshot {} is missing or empty",
        shot.display()
    );
}

#[tokio::test]
async fn a_polling_browser_client_reads_a_gzipped_poll() {
    let rally = Rally::start(&[]);
    let url = format!("http://127.0.0.1:{}", rally.port);
    node::run("compression-browser.mjs", &[&url]).await;
}
