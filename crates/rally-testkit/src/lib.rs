//! Test support shared by the tests of every Rally crate (a dev-dependency,
//! never published).
//!
//! - one deadline policy: [`DEADLINE`] bounds every wait, through [`within`]
//!   and [`eventually`]; nothing here sleeps to decide an outcome;
//! - [`http`]: a raw HTTP/1.1 client that shows the exact bytes of a reply,
//!   and a long-polling session driven by hand;
//! - [`ws`]: a raw WebSocket client;
//! - [`node`]: the Node.js scripts of `interop/` as child processes (run to
//!   completion, a server that prints `listening <port>`, a JSON-lines driver);
//! - [`redis`]: a `redis-server` of its own on a free port;
//! - [`nginx`]: Debian's nginx as a round-robin balancer on a free port;
//! - [`tls`]: a throwaway certificate authority and the server certificates
//!   it signs, as PEM files;
//! - [`https`]: the interop test server over TLS (Node.js on https, Rally
//!   behind a TLS-terminating proxy);
//! - [`proxy`]: a TCP proxy a test can cut, stall, refuse and re-point;
//! - [`interop`]: the interop test server (the protocol of
//!   `interop/README.md`) on Rally, in-process or on a thread of its own;
//! - [`cluster`]: Rally nodes on a Redis adapter, as the cluster tests use them.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let answer = rally_testkit::within("the answer", async { 42 }).await;
//! assert_eq!(answer, 42);
//! # }
//! ```

#![forbid(unsafe_code)]

pub mod cluster;
pub mod http;
pub mod https;
pub mod interop;
pub mod nginx;
pub mod node;
pub mod postgres;
pub mod proxy;
pub mod redis;
pub mod tls;
pub mod ws;

use std::{future::Future, path::PathBuf, time::Duration};

/// How long any single expected step of a test may take.
///
/// Generous on purpose: the machines the tests run on see long spells of
/// stolen CPU time, and a deadline only ever lengthens a run that fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Awaits `fut`, failing the test if it takes longer than [`DEADLINE`].
///
/// # Panics
///
/// When the deadline passes, with `what` in the message.
pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(DEADLINE, fut).await {
        Ok(output) => output,
        Err(_) => panic!("timed out after {DEADLINE:?} waiting for {what}"),
    }
}

/// Checks `check` every 10 ms until it is true, failing the test if it is
/// still false after [`DEADLINE`].
///
/// # Panics
///
/// When the deadline passes, with `what` in the message.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    within(what, async {
        while !check().await {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

/// Lets a server take what was just written when the test has no way to
/// observe it (such as a poll that must be pending before the test goes
/// on). Never an assertion.
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Bytes as text, for messages (invalid UTF-8 replaced).
pub fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The string value of `"name":"…"` in a JSON text (no escapes expected),
/// such as the `sid` of an open packet.
///
/// # Panics
///
/// When the field is missing or unterminated.
pub fn field(json: &str, name: &str) -> String {
    let key = format!("\"{name}\":\"");
    let start = json
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {json:?}"))
        + key.len();
    let len = json[start..]
        .find('"')
        .unwrap_or_else(|| panic!("unterminated {name} in {json:?}"));
    json[start..start + len].to_owned()
}

/// Whether `sid` has the reference's shape: 20 characters of base64url.
pub fn is_reference_sid(sid: &str) -> bool {
    sid.len() == 20
        && sid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A free TCP port on 127.0.0.1 (bound and released: another process could
/// take it first, so use it at once).
pub async fn free_port() -> u16 {
    tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0")
        .local_addr()
        .expect("a local address")
        .port()
}
