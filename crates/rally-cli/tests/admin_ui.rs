//! `rally serve --admin-ui`: the Socket.IO Admin UI served at `/admin/`
//! and used in Debian's Chromium (interop/admin-browser.mjs): the login, the
//! test clients on the sockets page, their rooms on the rooms page, the
//! session restore on reload. Screenshots are kept in
//! `<target dir>/test-artifacts/`.

mod support;

use std::path::PathBuf;

use rally_testkit::{node, repo_root};
use support::Rally;

/// The bcrypt hash (cost 4, fast for tests) of [`PASSWORD`].
const HASH: &str = "$2a$04$ewfyDNUOjvZfa0RMB/mZguyzZN8iBT8Dz0SlNFyLWznB492TZEDQy";
const PASSWORD: &str = "x";

/// The workspace's target folder: `CARGO_TARGET_DIR` when set.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

#[tokio::test]
async fn the_admin_ui_in_chromium_shows_the_clients_and_their_rooms() {
    let rally = Rally::start(&[
        "--admin-ui",
        "--admin-user",
        "ops",
        "--admin-password-hash",
        HASH,
    ]);
    let url = format!("http://127.0.0.1:{}", rally.port);
    let artifacts = target_dir().join("test-artifacts");
    std::fs::create_dir_all(&artifacts).expect("artifact folder");
    node::run(
        "admin-browser.mjs",
        &[&url, "ops", PASSWORD, &artifacts.display().to_string()],
    )
    .await;
    assert!(artifacts.join("admin-ui-sockets.png").is_file());
    assert!(artifacts.join("admin-ui-rooms.png").is_file());
}

#[tokio::test]
async fn the_ui_shows_the_server_id_given() {
    let rally = Rally::start(&["--admin-ui", "--admin-server-id", "eu-west-1a"]);
    let url = format!("http://127.0.0.1:{}", rally.port);
    node::run("admin-client.mjs", &["server-id", &url, "eu-west-1a"]).await;
}

#[tokio::test]
async fn admin_redirects_to_the_ui_and_is_not_served_without_the_flag() {
    let rally = Rally::start(&["--admin-ui"]);
    let redirect = rally.get("/admin").await;
    assert_eq!(redirect.status, 301);
    assert_eq!(redirect.header("location"), Some("/admin/"));
    let page = rally.get("/admin/").await;
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.text().contains("Socket.IO Admin UI"));
    let plain = Rally::start(&[]);
    assert_eq!(plain.get("/admin/").await.status, 404);
}
