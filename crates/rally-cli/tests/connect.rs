//! `rally connect`, the binary, against `rally serve` and against the
//! official Node.js server (interop/ref-socket-server.mjs).

mod support;

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
};

use support::Rally;

fn connect(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rally"))
        .arg("connect")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("rally connect runs")
}

/// The official server, killed on drop.
struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn node_server() -> (Node, String) {
    let interop = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop");
    assert!(
        interop.join("node_modules").is_dir(),
        "run `bash scripts/test.sh` (interop/node_modules)"
    );
    let mut child = Command::new("node")
        .arg(interop.join("ref-socket-server.mjs"))
        .arg("0")
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("a line");
    // Keep reading what it logs, so that it never writes to a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let port = line
        .trim()
        .strip_prefix("listening ")
        .expect("listening <port>")
        .to_owned();
    (Node(child), format!("http://127.0.0.1:{port}"))
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
fn talks_to_the_official_server_too() {
    let (_node, url) = node_server();
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
