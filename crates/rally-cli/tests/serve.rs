//! `rally serve` as a user runs it: the binary, its flags, its endpoints,
//! its shutdown.

mod support;

use std::{process::Command, time::Duration};

use support::Rally;

#[tokio::test]
async fn healthz_and_the_chat_page_answer() {
    let rally = Rally::start(&[]);
    let health = rally.get("/healthz").await;
    assert_eq!((health.status, health.text()), (200, "ok"));
    let page = rally.get("/").await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(
        page.text().contains("/socket.io/socket.io.js"),
        "the page loads the client"
    );
    assert_eq!(rally.get("/nothing-here").await.status, 404);
}

#[tokio::test]
async fn the_official_browser_client_is_served() {
    let rally = Rally::start(&[]);
    for name in [
        "socket.io.js",
        "socket.io.min.js",
        "socket.io.esm.min.js",
        "socket.io.js.map",
        "socket.io.msgpack.min.js",
        "socket.io.msgpack.min.js.map",
    ] {
        let reply = rally.get(&format!("/socket.io/{name}")).await;
        assert_eq!(reply.status, 200, "{name}: {reply:?}");
        assert_eq!(reply.header("etag"), Some("\"4.8.4\""), "{name}");
        assert!(reply.body.len() > 1000, "{name} is the real bundle");
    }
    let js = rally.get("/socket.io/socket.io.js").await;
    assert_eq!(
        js.header("content-type"),
        Some("application/javascript; charset=utf-8")
    );
    assert!(
        js.text().contains("4.8.4"),
        "the bundle of socket.io-client 4.8.4"
    );
    let cached = rally
        .request(
            "GET",
            "/socket.io/socket.io.js",
            &[("If-None-Match", "\"4.8.4\"")],
            "",
        )
        .await;
    assert_eq!(cached.status, 304);
}

#[tokio::test]
async fn metrics_follow_connections_packets_and_disconnections() {
    let rally = Rally::start(&["--ping-interval", "60000"]);
    let before = rally.get("/metrics").await;
    assert_eq!(before.status, 200);
    assert_eq!(
        before.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert_eq!(before.metric("rally_connections{transport=\"polling\"}"), 0);
    assert_eq!(before.metric("rally_namespaces"), 1);

    let open = rally.get("/socket.io/?EIO=4&transport=polling").await;
    assert_eq!(open.status, 200);
    let sid = open
        .text()
        .split("\"sid\":\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a sid")
        .to_owned();
    let target = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    // A CONNECT with a name: the chat lets it in.
    let post = rally
        .request(
            "POST",
            &target,
            &[("Content-Type", "text/plain;charset=UTF-8")],
            r#"40{"name":"ada"}"#,
        )
        .await;
    assert_eq!((post.status, post.text()), (200, "ok"));
    let connected = rally.get(&target).await;
    assert!(connected.text().starts_with("40{\"sid\":"), "{connected:?}");
    let join = rally
        .request("POST", &target, &[], r#"420["join","lobby"]"#)
        .await;
    assert_eq!(join.status, 200);
    assert_eq!(
        rally.get(&target).await.text(),
        r#"430[{"room":"lobby","members":1}]"#
    );

    let during = rally.get("/metrics").await;
    assert_eq!(during.metric("rally_connections{transport=\"polling\"}"), 1);
    assert_eq!(
        during.metric("rally_handshakes_total{transport=\"polling\"}"),
        1
    );
    assert_eq!(during.metric("rally_sockets"), 1);
    assert_eq!(during.metric("rally_rooms"), 1);
    assert_eq!(during.metric("rally_packets_total{direction=\"in\"}"), 2);
    assert!(during.metric("rally_bytes_total{direction=\"out\"}") > 0);

    // The client closes: the counters say so.
    let close = rally.request("POST", &target, &[], "1").await;
    assert_eq!(close.status, 200);
    let after = rally.get("/metrics").await;
    assert_eq!(after.metric("rally_connections{transport=\"polling\"}"), 0);
    assert_eq!(after.metric("rally_sockets"), 0);
    assert_eq!(
        after.metric("rally_disconnections_total{reason=\"transport close\"}"),
        1
    );
}

#[tokio::test]
async fn sigterm_drains_connections_and_exits_cleanly() {
    let rally = Rally::start(&["--ping-interval", "60000"]);
    let open = rally.get("/socket.io/?EIO=4&transport=polling").await;
    let sid = open
        .text()
        .split("\"sid\":\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a sid")
        .to_owned();
    // A poll held open by the server until something happens.
    let http = rally.http();
    let target = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    let held = tokio::spawn(async move { http.get(&target).await });
    // Let the poll reach the server before the signal.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while rally
        .get("/metrics")
        .await
        .metric("rally_connections{transport=\"polling\"}")
        != 1
    {
        assert!(tokio::time::Instant::now() < deadline);
    }
    let (status, stderr) =
        tokio::task::spawn_blocking(move || rally.terminate(Duration::from_secs(10)))
            .await
            .expect("terminate");
    assert!(status.success(), "exit status {status:?}\n{stderr}");
    assert!(stderr.contains("shutting down"), "{stderr}");
    assert!(stderr.contains("shut down cleanly"), "{stderr}");
    let held = tokio::time::timeout(Duration::from_secs(5), held)
        .await
        .expect("the poll ended")
        .expect("task");
    assert_eq!(
        (held.status, held.text()),
        (200, "1"),
        "the held poll got the close"
    );
}

#[test]
fn bad_flags_and_config_files_fail_clearly() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_rally"))
            .args(args)
            .output()
            .expect("rally runs")
    };
    let out = run(&["serve", "--port", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--port: expected a port number, got `nope`"),
        "{stderr}"
    );

    let dir = std::env::temp_dir().join(format!("rally-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("bad.toml");
    std::fs::write(&file, "port = \"three thousand\"\n").expect("write");
    let out = run(&["serve", "--config", &file.display().to_string()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("config file") && stderr.contains("port"),
        "{stderr}"
    );

    let out = run(&["launch"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown command `launch`"));
    assert!(run(&["serve", "--help"]).status.success());
}

#[tokio::test]
async fn a_static_directory_replaces_the_demo() {
    let dir = std::env::temp_dir().join(format!("rally-static-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("css")).expect("temp dir");
    std::fs::write(dir.join("index.html"), "<h1>mine</h1>").expect("write");
    std::fs::write(dir.join("css/site.css"), "h1{}").expect("write");
    let rally = Rally::start(&["--static-dir", &dir.display().to_string()]);
    let index = rally.get("/").await;
    assert_eq!((index.status, index.text()), (200, "<h1>mine</h1>"));
    let css = rally.get("/css/site.css").await;
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(rally.get("/../../etc/passwd").await.status, 404);
    assert_eq!(rally.get("/%2e%2e/%2e%2e/etc/passwd").await.status, 404);
    // The client bundle is still there.
    assert_eq!(rally.get("/socket.io/socket.io.js").await.status, 200);
}

/// A new polling session; its request target.
async fn open_polling(rally: &Rally) -> String {
    let open = rally.get("/socket.io/?EIO=4&transport=polling").await;
    format!(
        "/socket.io/?EIO=4&transport=polling&sid={}",
        field(open.text(), "sid")
    )
}

/// The string value of key `name` in a JSON text.
fn field(text: &str, name: &str) -> String {
    text.split(&format!("\"{name}\":\""))
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .to_owned()
}

/// `rally serve --recovery`: the CONNECT reply carries a `pid`, broadcasts
/// an offset; a client that drops and comes back with both gets its socket
/// id back, and `/metrics` counts the reconnection and the log.
#[tokio::test]
async fn recovery_restores_a_dropped_client_and_shows_in_metrics() {
    let rally = Rally::start(&["--recovery", "--ping-interval", "60000"]);
    let target = open_polling(&rally).await;
    rally
        .request("POST", &target, &[], r#"40{"name":"ada"}"#)
        .await;
    let connected = rally.get(&target).await.text().to_owned();
    let (id, pid) = (field(&connected, "sid"), field(&connected, "pid"));
    assert_eq!(connected, format!(r#"40{{"sid":"{id}","pid":"{pid}"}}"#));
    rally
        .request("POST", &target, &[], r#"420["join","lobby"]"#)
        .await;
    rally.get(&target).await;
    rally
        .request(
            "POST",
            &target,
            &[],
            r#"421["chat message",{"text":"hi","room":"lobby"}]"#,
        )
        .await;
    let mut said = String::new();
    while !said.contains("42[\"chat message\"") {
        said.push_str(rally.get(&target).await.text());
    }
    let message = said
        .split('\u{1e}')
        .find(|r| r.starts_with("42["))
        .expect("the message");
    let args: serde_json::Value = serde_json::from_str(&message[2..]).expect("JSON");
    let offset = args[2].as_str().expect("an offset ends the broadcast");

    // The client drops its connection.
    rally.request("POST", &target, &[], "1").await;
    let dropped = rally.get("/metrics").await;
    assert_eq!(dropped.metric("rally_recovery_sessions"), 1);
    assert!(dropped.metric("rally_recovery_log_packets") >= 1);
    assert!(dropped.metric("rally_recovery_log_bytes") > 0);

    let target = open_polling(&rally).await;
    let auth = format!(r#"40{{"name":"ada","pid":"{pid}","offset":"{offset}"}}"#);
    rally.request("POST", &target, &[], &auth).await;
    let back = rally.get(&target).await.text().to_owned();
    assert_eq!(back, format!(r#"40{{"sid":"{id}","pid":"{pid}"}}"#));
    let after = rally.get("/metrics").await;
    assert_eq!(
        after.metric("rally_reconnections_total{recovered=\"true\"}"),
        1
    );
    assert_eq!(
        after.metric("rally_reconnections_total{recovered=\"false\"}"),
        0
    );
    assert_eq!(after.metric("rally_recovery_sessions"), 0);
}

#[tokio::test]
async fn limit_flags_reach_the_server() {
    let rally = Rally::start(&["--max-sessions", "1", "--max-handshakes-per-minute=2"]);
    let first = rally.get("/socket.io/?EIO=4&transport=polling").await;
    assert_eq!(first.status, 200, "{first:?}");
    let refused = rally.get("/socket.io/?EIO=4&transport=polling").await;
    assert_eq!(refused.status, 503, "{refused:?}");
    assert_eq!(
        refused.text(),
        r#"{"code":3,"message":"Too many sessions"}"#
    );
}

#[tokio::test]
async fn allow_eio3_serves_socket_io_v2_clients() {
    let target = "/socket.io/?EIO=3&transport=polling";
    let v4_only = Rally::start(&[]);
    v4_only
        .get(target)
        .await
        .assert_error(400, 5, "Unsupported protocol version");
    let both = Rally::start(&["--allow-eio3"]);
    let open = both.get(target).await;
    assert_eq!(open.status, 200, "{open:?}");
    // The protocol 3 payload: `<length>:<packet>`, the open packet first,
    // then the answer to the CONNECT to `/` the server makes on its own:
    // the chat wants a name, and refuses as Socket.IO protocol 4 does, with
    // the bare message.
    let body = open.text();
    let (length, rest) = body.split_once(':').expect("a v3 payload");
    let length: usize = length.parse().expect("a length");
    assert!(rest.starts_with("0{\"sid\":"), "{body}");
    let refusal = &rest[length..];
    assert!(
        refusal.ends_with(r#":44"a name is required (1 to 32 characters)""#),
        "{body}"
    );
}

#[tokio::test]
async fn cors_cookie_and_trailing_slash_flags_reach_the_server() {
    let rally = Rally::start(&[
        "--cors-origin=http://a.example",
        "--cors-methods=GET,POST",
        "--cors-allowed-headers=authorization",
        "--cors-exposed-headers=x-one",
        "--cors-max-age=600",
        "--cookie=sticky",
        "--cookie-secure",
        "--cookie-domain=example.com",
        "--cookie-max-age=3600",
        "--add-trailing-slash=false",
    ]);
    let preflight = rally
        .request(
            "OPTIONS",
            "/socket.io/?EIO=4&transport=polling",
            &[("Origin", "http://a.example")],
            "",
        )
        .await;
    assert_eq!(preflight.status, 204, "{preflight:?}");
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("http://a.example")
    );
    assert_eq!(
        preflight.header("access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(
        preflight.header("access-control-allow-methods"),
        Some("GET,POST")
    );
    assert_eq!(
        preflight.header("access-control-allow-headers"),
        Some("authorization")
    );
    assert_eq!(preflight.header("access-control-max-age"), Some("600"));
    assert_eq!(
        preflight.header("access-control-expose-headers"),
        Some("x-one")
    );

    // Without the trailing slash, the path is the server's.
    let open = rally
        .request(
            "GET",
            "/socket.io?EIO=4&transport=polling",
            &[("Origin", "http://a.example")],
            "",
        )
        .await;
    assert_eq!(open.status, 200, "{open:?}");
    assert_eq!(open.header("access-control-expose-headers"), Some("x-one"));
    let sid = field(open.text(), "sid");
    assert_eq!(
        open.header("set-cookie"),
        Some(
            format!(
                "sticky={sid}; Max-Age=3600; Domain=example.com; Path=/; HttpOnly; Secure; SameSite=Lax"
            )
            .as_str()
        )
    );
}
