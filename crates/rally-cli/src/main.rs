//! `rally`: the standalone Rally server and its command-line tools (the
//! `rally-cli` library does the work).

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    rally_cli::run(&args)
}
