//! TLS on the client side of the `rally` command: `rally connect` to
//! `https://` servers (Rally behind TLS, the official Node.js server on
//! https) with `--ca` and `--insecure`, and `rally serve --redis rediss://`
//! with `--redis-ca`.

mod support;

use std::{
    process::{Command, ExitCode, Stdio},
    time::Instant,
};

use rally_cli::connect;
use rally_testkit::{
    DEADLINE, https::HttpsServer, interop::Kind, redis::RedisServer, tls::TestCa, within,
};
use support::Rally;

/// What one in-process `rally connect` printed and how it ended.
#[derive(Debug)]
struct Run {
    code: ExitCode,
    stdout: String,
    stderr: String,
}

async fn run(url: &str, args: &[&str]) -> Run {
    let mut argv = vec![url.to_owned()];
    argv.extend(args.iter().map(|a| (*a).to_owned()));
    let parsed = connect::parse(&argv).expect("valid arguments");
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let code = within(
        "the command",
        connect::run_with(parsed, &b""[..], &mut stdout, &mut stderr),
    )
    .await;
    Run {
        code,
        stdout: String::from_utf8(stdout).expect("utf-8"),
        stderr: String::from_utf8(stderr).expect("utf-8"),
    }
}

const EXCHANGE: [&str; 5] = [
    "--emit",
    "message",
    r#"["over tls",1]"#,
    "--expect",
    "message-back",
];
const ANSWER: &str = "{\"event\":\"message-back\",\"args\":[\"over tls\",1]}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_with_the_ca_on_every_transport() {
    let ca = TestCa::new("cli-connect");
    let cert = ca.server_cert("server");
    let ca_file = ca.ca_path().display().to_string();
    for kind in [Kind::Rally, Kind::Node] {
        let server = HttpsServer::start(kind, &cert).await;
        for transport in [
            &[][..],
            &["--transport", "polling"],
            &["--transport", "websocket"],
        ] {
            let mut args = EXCHANGE.to_vec();
            args.extend_from_slice(&["--ca", &ca_file]);
            args.extend_from_slice(transport);
            let run = run(&server.url(), &args).await;
            assert_eq!(
                (&run.code, run.stdout.as_str()),
                (&ExitCode::SUCCESS, ANSWER),
                "{kind:?} {transport:?}: {}",
                run.stderr
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_ca_is_refused_and_insecure_is_taken() {
    let ca = TestCa::new("cli-server");
    let other = TestCa::new("cli-other");
    let server = HttpsServer::start(Kind::Node, &ca.server_cert("server")).await;
    let other_file = other.ca_path().display().to_string();

    let mut args = EXCHANGE.to_vec();
    args.extend_from_slice(&["--ca", &other_file, "--timeout", "5000"]);
    let refused = run(&server.url(), &args).await;
    assert_eq!(refused.code, ExitCode::from(1));
    assert!(
        refused.stderr.contains(
            "error: transport error: tls handshake failed: invalid peer certificate: UnknownIssuer"
        ),
        "{}",
        refused.stderr
    );

    let mut args = EXCHANGE.to_vec();
    args.push("--insecure");
    let insecure = run(&server.url(), &args).await;
    assert_eq!(
        (&insecure.code, insecure.stdout.as_str()),
        (&ExitCode::SUCCESS, ANSWER),
        "{}",
        insecure.stderr
    );
    assert!(
        insecure.stderr.contains("warning: --insecure"),
        "{}",
        insecure.stderr
    );

    let missing = run(&server.url(), &["--ca", "/nonexistent/ca.pem"]).await;
    assert_eq!(missing.code, ExitCode::from(2));
    assert!(
        missing.stderr.contains("--ca /nonexistent/ca.pem"),
        "{}",
        missing.stderr
    );
}

/// `rally connect`, the binary, to Rally behind TLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_connects_over_tls() {
    let ca = TestCa::new("cli-binary");
    let server = HttpsServer::start(Kind::Rally, &ca.server_cert("server")).await;
    let url = server.url();
    let ca_file = ca.ca_path().display().to_string();
    let out = tokio::task::spawn_blocking(move || {
        let mut args = vec!["connect", url.as_str()];
        args.extend_from_slice(&EXCHANGE);
        args.extend_from_slice(&["--ca", &ca_file]);
        Command::new(env!("CARGO_BIN_EXE_rally"))
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("rally connect runs")
    })
    .await
    .expect("the command ends");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), ANSWER);
}

/// The exit status and stderr of `rally serve <args>`, which must end by
/// itself within the deadline.
fn serve_fails(args: &[&str]) -> (std::process::ExitStatus, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rally"))
        .arg("serve")
        .args(["--host", "127.0.0.1", "--port", "0"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rally starts");
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("a status") {
            break status;
        }
        assert!(Instant::now() < deadline, "rally serve did not give up");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("piped stderr"), &mut stderr)
        .expect("stderr");
    (status, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_clusters_through_redis_over_tls() {
    let ca = TestCa::new("cli-redis");
    let redis = RedisServer::start_tls(&ca.server_cert("redis"), ca.ca_path()).await;
    let url = redis.url();
    let ca_file = ca.ca_path().display().to_string();
    let args = [
        "--redis",
        &url,
        "--redis-mode",
        "sharded",
        "--redis-ca",
        &ca_file,
    ];
    let a = Rally::start(&args);
    let _b = Rally::start(&args);
    rally_testkit::eventually("two nodes", || async {
        a.get("/metrics").await.metric("rally_cluster_nodes") == 2
    })
    .await;

    let other = TestCa::new("cli-redis-other");
    let other_file = other.ca_path().display().to_string();
    let (status, stderr) = tokio::task::spawn_blocking(move || {
        serve_fails(&["--redis", &url, "--redis-ca", &other_file])
    })
    .await
    .expect("the check ends");
    assert!(!status.success());
    assert!(
        stderr.contains("invalid peer certificate: UnknownIssuer"),
        "{stderr}"
    );
}
