//! The command line itself: the help, completion scripts, the log format
//! and clap's usage errors.

mod support;

use std::{process::Command, time::Duration};

use support::Rally;

fn rally(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rally"))
        .args(args)
        .output()
        .expect("rally runs")
}

/// Every key a config file accepts (as the code reads the file) is in
/// `rally serve --help`, with a description of its own.
#[test]
fn serve_help_describes_every_config_file_key() {
    let out = rally(&["serve", "--help"]);
    assert!(out.status.success(), "{out:?}");
    let help = String::from_utf8_lossy(&out.stdout);
    let keys = rally_cli::config::file_keys();
    assert!(keys.len() >= 22, "{keys:?}");
    for key in keys {
        let tag = format!("[toml: {key}]");
        let line = help
            .lines()
            .find(|line| line.contains(&tag))
            .unwrap_or_else(|| panic!("{tag} is not in the help:\n{help}"));
        let before = &line[..line.find(&tag).unwrap_or_default()];
        let words = before
            .split_whitespace()
            .filter(|w| !w.starts_with('-') && !w.starts_with('<') && !w.starts_with('['))
            .count();
        assert!(words >= 2, "{key} has no description: {line:?}");
    }
}

#[test]
fn completion_scripts_for_each_shell() {
    let out = rally(&["completions", "bash"]);
    assert!(out.status.success(), "{out:?}");
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(script.contains("_rally()"), "{script}");
    assert!(script.contains("complete -F _rally"), "{script}");
    assert!(
        script.contains("--log-format"),
        "the serve flags are completed"
    );
    for (shell, marker) in [("zsh", "#compdef rally"), ("fish", "complete -c rally")] {
        let out = rally(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(marker),
            "{shell}"
        );
    }
    assert_eq!(rally(&["completions", "tcsh"]).status.code(), Some(2));
}

#[test]
fn unknown_flags_are_clap_usage_errors() {
    for (args, usage) in [
        (&["serve", "--prot", "1"][..], "Usage: rally serve"),
        (
            &["connect", "http://127.0.0.1:1", "--what"],
            "Usage: rally connect",
        ),
        (&["--what"], "Usage: rally"),
    ] {
        let out = rally(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("error: unexpected argument '--"),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains(usage), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let version = rally(&["--version"]);
    assert!(version.status.success());
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("rally {}", env!("CARGO_PKG_VERSION"))
    );
}

/// `--log-format json` (and `RALLY_LOG_FORMAT`): one JSON object a line.
#[test]
fn json_logs() {
    let rally = Rally::start(&["--log-format", "json"]);
    let (status, stderr) = rally.terminate(Duration::from_secs(10));
    assert!(status.success(), "{status:?}\n{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        lines.len() >= 3,
        "listening, shutting down, shut down:\n{stderr}"
    );
    for line in &lines {
        let entry: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(entry["level"].is_string(), "{line}");
        assert!(entry["fields"]["message"].is_string(), "{line}");
    }
    assert!(
        lines.iter().any(|l| l.contains("\"shut down cleanly\"")),
        "{stderr}"
    );
}
