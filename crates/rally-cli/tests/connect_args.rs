//! The `rally connect` subcommand run in-process (the library's
//! [`connect::parse`] and [`connect::run_with`]): the same output against
//! Rally and against the official Node.js server.

mod support;

use std::process::ExitCode;

use rally_cli::connect;
use rally_testkit::{
    interop::{InteropServer as TestServer, Kind},
    node::NodeServer,
    within,
};

/// What one run printed and how it ended.
#[derive(Debug, PartialEq)]
struct Run {
    code: ExitCode,
    stdout: String,
    stderr: String,
}

async fn run(url: &str, args: &[&str], stdin: &str) -> Run {
    let mut argv = vec![url.to_owned()];
    argv.extend(args.iter().map(|a| (*a).to_owned()));
    let parsed = connect::parse(&argv).expect("valid arguments");
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let code = within(
        "the command",
        connect::run_with(parsed, stdin.as_bytes(), &mut stdout, &mut stderr),
    )
    .await;
    Run {
        code,
        stdout: String::from_utf8(stdout).expect("utf-8"),
        stderr: String::from_utf8(stderr).expect("utf-8"),
    }
}

/// Runs the command against both servers; checks they printed the same
/// and what they printed.
async fn same_on_both(args: &[&str], stdin: &str, code: ExitCode, stdout: &str) -> [Run; 2] {
    let rally = TestServer::start(Kind::Rally).await;
    let node = TestServer::start(Kind::Node).await;
    let (rally_url, node_url) = (rally.url(), node.url());
    let (on_rally, on_node) =
        tokio::join!(run(&rally_url, args, stdin), run(&node_url, args, stdin));
    for (server, run) in [("rally", &on_rally), ("node", &on_node)] {
        assert_eq!(
            (&run.code, run.stdout.as_str()),
            (&code, stdout),
            "{server} {args:?}: {}",
            run.stderr
        );
    }
    [on_rally, on_node]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emit_and_expect() {
    let line =
        r#"{"event":"message-back","args":["hi",1,{"a":[true,null]},"é"]}"#.to_owned() + "\n";
    for transport in [
        &[][..],
        &["--transport", "polling"],
        &["--transport", "websocket"],
    ] {
        let mut args = vec![
            "--emit",
            "message",
            r#"["hi",1.0,{"a":[true,null]},"é"]"#,
            "--expect",
            "message-back",
        ];
        args.extend_from_slice(transport);
        same_on_both(&args, "", ExitCode::SUCCESS, &line).await;
    }
}

/// A large event over a WebSocket to the Node server with
/// `perMessageDeflate` on: the same answer with the offer made or not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_message_deflate_on_and_off() {
    let node = NodeServer::start_with("ref-socket-server.mjs", 0, &["json", "deflate"]).await;
    let url = format!("http://127.0.0.1:{}", node.port);
    let big = "chat line, hello there; ".repeat(200);
    let emitted = format!(r#"["{big}"]"#);
    let line = format!(r#"{{"event":"message-back","args":["{big}"]}}"#) + "\n";
    for offer in ["true", "false"] {
        let args = [
            "--transport",
            "websocket",
            "--per-message-deflate",
            offer,
            "--emit",
            "message",
            &emitted,
            "--expect",
            "message-back",
        ];
        let done = run(&url, &args, "").await;
        assert_eq!(
            (done.code, done.stdout.as_str()),
            (ExitCode::SUCCESS, line.as_str()),
            "--per-message-deflate {offer}: {}",
            done.stderr
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_in_order_with_binary() {
    let args = [
        "--emit",
        "message-with-ack",
        r#"["x",{"_binary":"AQID"}]"#,
        "--emit",
        "message-with-ack",
        r#"[{"nested":[{"_binary":""}]}]"#,
        "--emit",
        "message-with-ack",
        "[]",
        "--ack",
    ];
    let stdout = concat!(
        r#"{"ack":"message-with-ack","args":["x",{"_binary":"AQID"}]}"#,
        "\n",
        r#"{"ack":"message-with-ack","args":[{"nested":[{"_binary":""}]}]}"#,
        "\n",
        r#"{"ack":"message-with-ack","args":[]}"#,
        "\n",
    );
    same_on_both(&args, "", ExitCode::SUCCESS, stdout).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_then_authorized() {
    let runs = same_on_both(&["--namespace", "/mw"], "", ExitCode::from(1), "").await;
    for run in &runs {
        assert!(
            run.stderr.contains(
                r#"error: connection refused: not authorized (data: {"reason":"token"})"#
            ),
            "{}",
            run.stderr
        );
    }
    same_on_both(
        &[
            "--namespace",
            "mw",
            "--auth",
            r#"{"token":"secret"}"#,
            "--expect",
            "auth",
        ],
        "",
        ExitCode::SUCCESS,
        concat!(r#"{"event":"auth","args":[{"token":"secret"}]}"#, "\n"),
    )
    .await;
    let runs = same_on_both(&["--namespace", "/unknown"], "", ExitCode::from(1), "").await;
    assert!(
        runs[0]
            .stderr
            .contains("connection refused: Invalid namespace")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactive() {
    let stdin = "message [1.0, 2]\n\nmessage-with-ack [3]\nmessage {\"_binary\":\"/w==\"}\nmessage [{\"_binary\":\"/w==\"}]\n";
    let stdout = concat!(
        r#"{"event":"auth","args":[{}]}"#,
        "\n",
        r#"{"event":"message-back","args":[1,2]}"#,
        "\n",
    );
    let runs = same_on_both(
        &["--expect", "message-back"],
        stdin,
        ExitCode::SUCCESS,
        stdout,
    )
    .await;
    assert!(
        runs[0].stderr.is_empty() || !runs[0].stderr.contains("error"),
        "{}",
        runs[0].stderr
    );

    // Without --expect: until stdin ends; acks printed with --ack.
    let server = TestServer::start(Kind::Rally).await;
    let run = run(&server.url(), &["--ack"], "message-with-ack [\"a\"]\n").await;
    assert_eq!(run.code, ExitCode::SUCCESS);
    assert!(
        run.stdout.starts_with(r#"{"event":"auth","args":[{}]}"#),
        "{}",
        run.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expect_times_out() {
    let runs = same_on_both(
        &["--expect", "never", "--timeout", "300"],
        "",
        ExitCode::from(1),
        concat!(r#"{"event":"auth","args":[{}]}"#, "\n"),
    )
    .await;
    assert!(
        runs[1]
            .stderr
            .contains("error: timed out waiting for never")
    );
    let runs = same_on_both(
        &[
            "--emit",
            "message",
            "[1]",
            "--expect",
            "never",
            "--timeout",
            "300",
        ],
        "",
        ExitCode::from(1),
        "",
    )
    .await;
    assert!(
        runs[0]
            .stderr
            .contains("error: timed out waiting for never")
    );
}

#[tokio::test]
async fn unreachable_server() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    drop(listener);
    let run = run(&url, &["--timeout", "2000"], "").await;
    assert_eq!(run.code, ExitCode::from(1));
    assert!(
        run.stderr.contains("error: transport error: i/o error"),
        "{}",
        run.stderr
    );
}

#[test]
fn parses_arguments() {
    let args = |a: &[&str]| connect::parse(a);
    let parsed = args(&[
        "http://h:1/chat",
        "--auth",
        r#"{"a":1}"#,
        "--transport",
        "websocket",
        "--emit",
        "e",
        "[1]",
        "--emit",
        "f",
        "[]",
        "--ack",
        "--expect",
        "g",
        "--timeout",
        "50",
    ])
    .expect("valid");
    assert_eq!(
        parsed,
        connect::ConnectArgs {
            url: "http://h:1/chat".into(),
            namespace: None,
            auth: Some(r#"{"a":1}"#.into()),
            transport: Some("websocket".into()),
            parser: rally_client::Parser::Json,
            per_message_deflate: true,
            ca: None,
            insecure: false,
            emits: vec![("e".into(), "[1]".into()), ("f".into(), "[]".into())],
            ack: true,
            expect: Some("g".into()),
            timeout_ms: 50,
        }
    );
    assert_eq!(
        args(&["u", "--parser", "msgpack"]).expect("valid").parser,
        rally_client::Parser::MsgPack
    );
    assert!(args(&["u", "--parser", "xml"]).is_err());
    for (value, offer) in [("false", false), ("true", true), ("off", false)] {
        let parsed = args(&["u", "--per-message-deflate", value]).expect("valid");
        assert_eq!(parsed.per_message_deflate, offer, "{value}");
    }
    assert!(args(&["u", "--per-message-deflate", "maybe"]).is_err());
    assert_eq!(
        args(&["u", "--namespace", "x"])
            .expect("valid")
            .namespace
            .as_deref(),
        Some("/x")
    );
    assert_eq!(
        args(&["u"]).expect("valid").timeout_ms,
        connect::DEFAULT_TIMEOUT_MS
    );
    for bad in [
        &[][..],
        &["u", "v"],
        &["u", "--auth", "[1]"],
        &["u", "--auth"],
        &["u", "--emit", "e"],
        &["u", "--emit", "e", "{}"],
        &["u", "--emit", "e", "[1"],
        &["u", "--emit", "e", r#"[{"_binary":1}]"#],
        &["u", "--transport", "carrier-pigeon"],
        &["u", "--timeout", "soon"],
        &["u", "--what"],
    ] {
        assert!(args(bad).is_err(), "{bad:?}");
    }
    assert_eq!(
        args(&["--help"]).map_err(|e| e.kind()),
        Err(clap::error::ErrorKind::DisplayHelp)
    );
}
