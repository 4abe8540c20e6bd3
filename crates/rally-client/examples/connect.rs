//! `rally connect`, the command-line client, until `rally-cli` wires it in:
//! the subcommand lives in `cli/connect.rs` at the repository root.
//!
//! ```text
//! cargo run -p rally-client --example connect -- http://127.0.0.1:3000 \
//!     --emit message '["hi"]' --expect message-back
//! ```

#[allow(unreachable_pub)]
#[path = "../../../cli/connect.rs"]
mod connect;

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match connect::parse(&args) {
        Ok(args) => connect::run(args).await,
        Err(usage) if usage == connect::USAGE => {
            println!("{usage}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
