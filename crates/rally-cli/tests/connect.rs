//! `rally connect`, the binary, against `rally serve` and against the
//! official Node.js server (interop/ref-socket-server.mjs).

mod support;

use std::process::{Command, Stdio};

use rally_testkit::node::NodeServer;
use support::Rally;

fn connect(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rally"))
        .arg("connect")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("rally connect runs")
}

#[test]
fn joins_a_chat_room_on_rally_serve() {
    let rally = Rally::start(&[]);
    let url = format!("http://127.0.0.1:{}", rally.port);
    let out = connect(&[
        &url,
        "--auth",
        r#"{"name":"cli"}"#,
        "--emit",
        "join",
        r#"["lobby"]"#,
        "--ack",
    ]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\"ack\":\"join\",\"args\":[{\"room\":\"lobby\",\"members\":1}]}\n"
    );
    // Without a name the chat refuses, and the command says so.
    let out = connect(&[&url, "--expect", "never", "--timeout", "2000"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("a name is required"), "{stderr}");
}

#[test]
fn speaks_the_msgpack_parser_with_rally_serve() {
    let rally = Rally::start(&["--parser", "msgpack"]);
    let url = format!("http://127.0.0.1:{}", rally.port);
    for transport in ["polling", "websocket"] {
        let out = connect(&[
            &url,
            "--parser",
            "msgpack",
            "--transport",
            transport,
            "--auth",
            r#"{"name":"cli"}"#,
            "--emit",
            "join",
            r#"["lobby"]"#,
            "--ack",
        ]);
        assert!(out.status.success(), "{transport}: {out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "{\"ack\":\"join\",\"args\":[{\"room\":\"lobby\",\"members\":1}]}\n",
            "{transport}"
        );
    }
    // The default parser cannot talk to it: the server closes the
    // connection at the first text packet.
    let out = connect(&[&url, "--transport", "websocket", "--timeout", "2000"]);
    assert!(!out.status.success(), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn talks_to_the_official_server_too() {
    let node = NodeServer::start("ref-socket-server.mjs", 0).await;
    let url = node.url();
    for transport in ["polling", "websocket"] {
        let out = connect(&[
            &url,
            "--transport",
            transport,
            "--emit",
            "message",
            r#"["hi",{"_binary":"AQID"}]"#,
            "--expect",
            "message-back",
        ]);
        assert!(out.status.success(), "{transport}: {out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "{\"event\":\"message-back\",\"args\":[\"hi\",{\"_binary\":\"AQID\"}]}\n",
            "{transport}"
        );
    }
}

#[test]
fn bad_arguments_are_usage_errors() {
    let out = connect(&["http://127.0.0.1:1", "--transport", "carrier-pigeon"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(connect(&["--help"]).status.success());
}
