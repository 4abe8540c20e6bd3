//! `rally`: the standalone Rally server and its command-line tools (the
//! `rally-cli` library does the work).

#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    rally_cli::run(std::env::args_os())
}
