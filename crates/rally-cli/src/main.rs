//! `rally`: the standalone Rally server and its command-line tools.
//!
//! ```text
//! rally serve [--port 3000] [--config rally.toml] ...
//! ```

mod chat;
mod config;
mod files;
mod metrics;
mod serve;

use std::process::ExitCode;

const USAGE: &str = "\
rally: Socket.IO in Rust

Usage:
  rally serve [options]     run a standalone Socket.IO server (with a chat demo at /)
  rally --version           print the version
  rally --help              print this help

Run `rally serve --help` for the server's options.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => serve::main(&args[1..]),
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
