//! The `rally` command as a library: `rally serve` (a standalone Socket.IO
//! server with a chat demo, `/metrics` and graceful shutdown) and
//! `rally connect` (a command-line Socket.IO client).
//!
//! The binary is [`run`] on the process's arguments; tests call the same
//! functions in-process:
//!
//! - [`connect`]: the client subcommand, its arguments and its run on any
//!   input and outputs.
//!
//! ```text
//! rally serve [--port 3000] [--config rally.toml] ...
//! rally connect <url> [--emit <event> <json-array>] [--expect <event>] ...
//! ```

mod chat;
mod config;
pub mod connect;
mod files;
mod metrics;
mod serve;

use std::process::ExitCode;

const USAGE: &str = "\
rally: Socket.IO in Rust

Usage:
  rally serve [options]     run a standalone Socket.IO server (with a chat demo at /)
  rally connect <url> [...] a command-line Socket.IO client
  rally --version           print the version
  rally --help              print this help

Run `rally serve --help` or `rally connect --help` for their options.
";

/// `rally connect`: parses its arguments, then runs it on a runtime.
fn connect_main(args: &[String]) -> ExitCode {
    let args = match connect::parse(args) {
        Ok(args) => args,
        Err(usage) if usage == connect::USAGE => {
            println!("{usage}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("rally connect: {e}\n{}", connect::USAGE);
            return ExitCode::from(2);
        }
    };
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(connect::run(args)),
        Err(e) => {
            eprintln!("rally connect: cannot start the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the `rally` command on `args` (the program name left out), as the
/// binary does on its own arguments.
pub fn run(args: &[String]) -> ExitCode {
    match args.first().map(String::as_str) {
        Some("serve") => serve::main(&args[1..]),
        Some("connect") => connect_main(&args[1..]),
        Some("--version" | "-V") => {
            println!("rally {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("--help" | "-h" | "help") | None => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("rally: unknown command `{other}`\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
