#![doc = include_str!("../README.md")]
//!
//! ## As a library
//!
//! The binary is [`run`] on the process's arguments. Tests call the same
//! code in-process: [`connect`] parses and runs the client on any input and
//! outputs, [`config`] names the settings `rally serve` accepts.
//!
//! ```text
//! rally serve [--port 3000] [--config rally.toml] [--log-format json] ...
//! rally connect <url> [--emit <event> <json-array>] [--expect <event>] ...
//! rally completions bash > /etc/bash_completion.d/rally
//! ```

#![forbid(unsafe_code)]

mod chat;
pub mod config;
pub mod connect;
mod files;
mod metrics;
mod serve;
mod tls;

use std::{ffi::OsString, process::ExitCode};

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand, error::ErrorKind};

/// The command line: a subcommand, `--help` or `--version`.
#[derive(Debug, Parser)]
#[command(
    name = "rally",
    version,
    about = "Socket.IO in Rust",
    allow_external_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    Serve(config::ServeArgs),
    Connect(connect::ConnectFlags),
    /// print a completion script for a shell (bash, zsh, fish, elvish, powershell)
    Completions {
        /// the shell
        shell: clap_complete::Shell,
    },
    #[command(external_subcommand)]
    Unknown(Vec<String>),
}

/// The whole command line of `rally`, as clap describes it (for help and
/// completion scripts).
#[must_use]
pub fn command() -> clap::Command {
    Cli::command().mut_subcommand("serve", config::annotate)
}

/// Runs the `rally` command on `args` (the program name first), as the
/// binary does on its own arguments; the process's environment gives the
/// `RALLY_*` settings.
pub fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let mut command = command();
    let matches = match command.try_get_matches_from_mut(args) {
        Ok(matches) => matches,
        Err(e) => return report(&e),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => return report(&e),
    };
    match cli.command {
        None => {
            let _ = command.print_help();
            ExitCode::SUCCESS
        }
        Some(Command::Serve(_)) => {
            let matches = matches.subcommand_matches("serve").unwrap_or(&matches);
            match config::from_matches(matches, |name| std::env::var(name).ok()) {
                Ok(config) => serve::main(config),
                Err(e) => report(&sub_error(&mut command, "serve", e)),
            }
        }
        Some(Command::Connect(flags)) => match flags.into_args() {
            Ok(args) => connect::main(args),
            Err(e) => report(&sub_error(&mut command, "connect", e)),
        },
        Some(Command::Completions { shell }) => {
            clap_complete::generate(shell, &mut command, "rally", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Some(Command::Unknown(args)) => {
            let name = args.first().map_or("", String::as_str);
            report(&command.error(
                ErrorKind::InvalidSubcommand,
                format!("unknown command `{name}`"),
            ))
        }
    }
}

/// A usage error of the subcommand `name`, with its usage line.
fn sub_error(command: &mut clap::Command, name: &str, message: String) -> clap::Error {
    match command.find_subcommand_mut(name) {
        Some(sub) => sub.error(ErrorKind::ValueValidation, message),
        None => command.error(ErrorKind::ValueValidation, message),
    }
}

/// Prints a clap error (the help and the version go to stdout, errors to
/// stderr) and gives its exit code: 0 for the help, 2 for a usage error.
fn report(error: &clap::Error) -> ExitCode {
    let _ = error.print();
    ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2))
}
