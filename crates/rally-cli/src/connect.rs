//! `rally connect <url>`: a command-line Socket.IO client.
//!
//! ```text
//! rally connect <url> [--namespace <nsp>] [--auth <json-object>]
//!                     [--transport polling|websocket] [--parser json|msgpack]
//!                     [--per-message-deflate true|false]
//!                     [--ca <pem-file>] [--insecure]
//!                     [--emit <event> <json-array>]... [--ack]
//!                     [--expect <event>] [--timeout <ms>]
//! ```
//!
//! - With `--emit`, the events are emitted in order (with `--ack`, each one
//!   waits for its acknowledgement, printed as `{"ack":<event>,"args":[...]}`),
//!   then, with `--expect`, the command waits for that event and prints it.
//! - Without `--emit` it is interactive: every event received is printed as
//!   one JSON line `{"event":<name>,"args":[...]}`, and each line read on
//!   stdin, `<event> <json-array-of-args>`, is emitted (its ack printed with
//!   `--ack`). It ends at the end of stdin (once the acks awaited came or
//!   timed out), or once the `--expect`ed event arrived.
//! - Binary arguments print as `{"_binary":"<base64>"}`, and such an object
//!   in an argument given on the command line or stdin is sent as binary.
//!   Numbers print as JavaScript prints them (`1`, not `1.0`).
//! - `--timeout` (default 10 000 ms) bounds connecting, each ack and the
//!   wait for `--expect`, all counted from the start.
//! - `https://` and `wss://` URLs connect over TLS, trusting the platform's
//!   roots and the certificates of `--ca`; `--insecure` accepts any
//!   certificate (development only: it says so on stderr).
//!
//! Exit status: 0 on success, 1 when the connection is refused or fails, an
//! ack or the expected event does not come in time; 2 for a usage error.
//! Diagnostics go to stderr, JSON lines to stdout.
//!
//! `tests/connect_args.rs` runs it in-process against Rally and Node
//! through [`parse`] and [`run_with`].

use std::{io::Write, path::PathBuf, process::ExitCode, time::Duration};

use base64::Engine as _;
use clap::{Args as _, FromArgMatches as _};
use rally_client::{AckReply, Args, Binary, Error, Event, Manager, Parser, Socket, Transport};
use serde::Serialize;
use serde_json::Value;
use tokio::{
    io::{AsyncBufRead, AsyncBufReadExt},
    sync::mpsc,
    time::Instant,
};

/// The default `--timeout`, in milliseconds.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;

/// `rally connect`'s command line, as clap reads it.
#[derive(Debug, clap::Args)]
#[command(about = "a command-line Socket.IO client")]
pub(crate) struct ConnectFlags {
    /// the server's URL, http://host:port or https://host:port (its path names the namespace)
    url: String,
    /// the namespace (default: the URL's path, else /)
    #[arg(long, value_name = "NSP", allow_hyphen_values = true, value_parser = namespace)]
    namespace: Option<String>,
    /// the CONNECT payload, a JSON object
    #[arg(long, value_name = "JSON", allow_hyphen_values = true, value_parser = json_object)]
    auth: Option<String>,
    /// only this transport (default: polling, then the upgrade to WebSocket)
    #[arg(long, value_parser = ["polling", "websocket"])]
    transport: Option<String>,
    /// the Socket.IO parser, the server's: json (the default parser) or msgpack (socket.io-msgpack-parser)
    #[arg(long, value_name = "PARSER", default_value = "json", value_parser = parser)]
    parser: Parser,
    /// offer WebSocket compression (permessage-deflate), true or false: messages of 1024 bytes or more go compressed when the server agrees
    #[arg(
        long,
        value_name = "BOOL",
        default_value = "true",
        action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    per_message_deflate: bool,
    /// with https:// or wss://: also trust the CA certificates of this PEM file (the platform's roots are always trusted)
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// with https:// or wss://: accept any certificate, trusted or not (development only: anyone on the path can read and change the traffic)
    #[arg(long)]
    insecure: bool,
    /// emit EVENT with the arguments in JSON-ARRAY (repeatable: in order);
    /// without it, each stdin line `<event> <json-array>` is emitted
    #[arg(
        long,
        num_args = 2,
        value_names = ["EVENT", "JSON-ARRAY"],
        allow_hyphen_values = true,
        action = clap::ArgAction::Append
    )]
    emit: Vec<String>,
    /// wait for each emit's acknowledgement and print it
    #[arg(long)]
    ack: bool,
    /// succeed once this event arrives (and print it)
    #[arg(long, value_name = "EVENT", allow_hyphen_values = true)]
    expect: Option<String>,
    /// the time allowed for connecting, each ack and --expect, counted from the start
    #[arg(long, value_name = "MS", default_value_t = DEFAULT_TIMEOUT_MS, value_parser = millis)]
    timeout: u64,
}

/// The options of `rally connect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectArgs {
    /// The server's URL (`http://host:port` or `https://host:port`, its path
    /// naming a namespace).
    pub url: String,
    /// `--namespace`: the namespace; default the URL's path, else `/`.
    pub namespace: Option<String>,
    /// `--auth`: the CONNECT payload, a JSON object.
    pub auth: Option<String>,
    /// `--transport`: `polling` or `websocket` only (default: polling, then
    /// the upgrade to WebSocket).
    pub transport: Option<String>,
    /// `--parser`: the Socket.IO parser (default the default parser).
    pub parser: Parser,
    /// `--per-message-deflate`: whether the WebSocket offers
    /// permessage-deflate (default true).
    pub per_message_deflate: bool,
    /// `--ca <file>`: CA certificates (PEM) trusted besides the platform's
    /// roots, for `https://` and `wss://`.
    pub ca: Option<PathBuf>,
    /// `--insecure`: accept any TLS certificate (development only).
    pub insecure: bool,
    /// `--emit <event> <json-array>`, in order.
    pub emits: Vec<(String, String)>,
    /// `--ack`: wait for and print each emit's acknowledgement.
    pub ack: bool,
    /// `--expect <event>`: succeed once this event arrives.
    pub expect: Option<String>,
    /// `--timeout <ms>`.
    pub timeout_ms: u64,
}

impl ConnectFlags {
    /// The options, once each `--emit`'s arguments are checked.
    ///
    /// # Errors
    ///
    /// A message naming the `--emit` whose JSON does not parse or is not an
    /// array.
    pub(crate) fn into_args(self) -> Result<ConnectArgs, String> {
        let mut emits = Vec::with_capacity(self.emit.len() / 2);
        for pair in self.emit.chunks_exact(2) {
            let (event, json) = (pair[0].clone(), pair[1].clone());
            emit_args(&json).map_err(|e| format!("--emit {event}: {e}"))?;
            emits.push((event, json));
        }
        Ok(ConnectArgs {
            url: self.url,
            namespace: self.namespace,
            auth: self.auth,
            transport: self.transport,
            parser: self.parser,
            per_message_deflate: self.per_message_deflate,
            ca: self.ca,
            insecure: self.insecure,
            emits,
            ack: self.ack,
            expect: self.expect,
            timeout_ms: self.timeout,
        })
    }
}

/// `rally connect`'s command line.
pub(crate) fn command() -> clap::Command {
    ConnectFlags::augment_args(clap::Command::new("connect"))
}

/// Parses the arguments that follow `connect`.
///
/// # Errors
///
/// clap's error when the arguments are wrong (an unknown option, a missing
/// value, JSON that does not parse or has the wrong shape, an unknown
/// transport), or asks for the help (`ErrorKind::DisplayHelp`).
pub fn parse<I, T>(args: I) -> Result<ConnectArgs, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let mut command = command().no_binary_name(true);
    let matches = command.try_get_matches_from_mut(args)?;
    ConnectFlags::from_arg_matches(&matches)?
        .into_args()
        .map_err(|e| command.error(clap::error::ErrorKind::ValueValidation, e))
}

/// `--namespace`'s value, with its leading `/`.
fn namespace(nsp: &str) -> Result<String, String> {
    Ok(if nsp.starts_with('/') {
        nsp.to_owned()
    } else {
        format!("/{nsp}")
    })
}

/// `--auth`'s value, when it is a JSON object.
fn json_object(auth: &str) -> Result<String, String> {
    match serde_json::from_str::<Value>(auth) {
        Ok(Value::Object(_)) => Ok(auth.to_owned()),
        _ => Err(format!("not a JSON object: {auth}")),
    }
}

/// `--parser`'s value.
fn parser(name: &str) -> Result<Parser, String> {
    name.parse()
        .map_err(|e: rally_client::UnknownParser| e.to_string())
}

fn millis(ms: &str) -> Result<u64, String> {
    ms.parse()
        .map_err(|_| format!("not a number of milliseconds: {ms}"))
}

/// Runs the command on a runtime of its own, on the process's stdin,
/// stdout and stderr.
pub(crate) fn main(args: ConnectArgs) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run(args)),
        Err(e) => {
            eprintln!("rally connect: cannot start the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the command on the process's stdin, stdout and stderr.
pub async fn run(args: ConnectArgs) -> ExitCode {
    let stdin = tokio::io::BufReader::new(tokio::io::stdin());
    run_with(args, stdin, &mut std::io::stdout(), &mut std::io::stderr()).await
}

/// What the handlers hand to the command's loop.
enum Output {
    Event(String, Vec<Value>),
    Ack(String, Result<Vec<Value>, String>),
    Note(String),
}

/// Runs the command with the given input and outputs (the tests' entry).
pub async fn run_with<R, O, E>(args: ConnectArgs, input: R, out: &mut O, err: &mut E) -> ExitCode
where
    R: AsyncBufRead + Unpin,
    O: Write,
    E: Write,
{
    match Session::start(&args, err).await {
        Ok(mut session) => {
            let code = if args.emits.is_empty() {
                session.interactive(&args, input, out, err).await
            } else {
                session.scripted(&args, out, err).await
            };
            session.socket.manager().close().await;
            code
        }
        Err(code) => code,
    }
}

/// A connected socket and what its handlers report.
struct Session {
    socket: Socket,
    outputs: mpsc::UnboundedReceiver<Output>,
    tx: mpsc::UnboundedSender<Output>,
    deadline: Instant,
}

impl Session {
    async fn start<E: Write>(args: &ConnectArgs, err: &mut E) -> Result<Self, ExitCode> {
        let deadline = Instant::now() + Duration::from_millis(args.timeout_ms);
        let mut builder = Manager::builder(&args.url)
            .parser(args.parser)
            .per_message_deflate(args.per_message_deflate);
        if let Some(transport) = args.transport.as_deref().and_then(Transport::from_name) {
            builder = builder.transports([transport]);
        }
        if let Some(ca) = &args.ca {
            match std::fs::read(ca) {
                Ok(pem) => builder = builder.ca_certificates(pem),
                Err(e) => return Err(fail(err, &format!("--ca {}: {e}", ca.display()), 2)),
            }
        }
        if args.insecure {
            note_line(
                err,
                "warning: --insecure: TLS certificates are not checked; anyone on the path can read and change the traffic",
            );
            builder = builder.danger_accept_invalid_certificates(true);
        }
        let socket = match builder.socket() {
            Ok(socket) => socket,
            Err(e) => return Err(fail(err, &e.to_string(), 2)),
        };
        let socket = match &args.namespace {
            Some(nsp) => socket.manager().socket(nsp),
            None => socket,
        };
        if let Some(auth) = &args.auth {
            let auth: Value = serde_json::from_str(auth).unwrap_or_default();
            if let Err(e) = socket.set_auth(&auth) {
                return Err(fail(err, &e.to_string(), 2));
            }
        }
        let (tx, outputs) = mpsc::unbounded_channel();
        let events = tx.clone();
        socket.on_any(move |_, event| {
            let _ = events.send(Output::Event(event.name().to_owned(), values(&event)));
            async {}
        });
        let notes = tx.clone();
        socket.on_disconnect(move |_, reason| {
            let _ = notes.send(Output::Note(format!("disconnected: {reason}")));
            async {}
        });
        let notes = tx.clone();
        socket.on_connect(move |socket| {
            let id = socket.id().unwrap_or_default();
            let _ = notes.send(Output::Note(format!(
                "connected to {} as {id}",
                socket.nsp()
            )));
            async {}
        });
        match tokio::time::timeout_at(deadline, socket.connect()).await {
            Ok(Ok(())) => Ok(Self {
                socket,
                outputs,
                tx,
                deadline,
            }),
            Ok(Err(e)) => {
                socket.manager().close().await;
                Err(fail(err, &describe(&e), 1))
            }
            Err(_) => {
                socket.manager().close().await;
                Err(fail(err, "timed out connecting", 1))
            }
        }
    }

    /// `--emit`s in order, their acks with `--ack`, then `--expect`.
    async fn scripted<O: Write, E: Write>(
        &mut self,
        args: &ConnectArgs,
        out: &mut O,
        err: &mut E,
    ) -> ExitCode {
        for (event, json) in &args.emits {
            let emitted = match emit_args(json) {
                Ok(emit) => emit,
                Err(e) => return fail(err, &format!("--emit {event}: {e}"), 2),
            };
            if args.ack {
                let pending = self.socket.emit_with_ack(event, emitted);
                match tokio::time::timeout_at(self.deadline, pending).await {
                    Ok(Ok(reply)) => print_line(out, &ack_line(event, &reply_values(&reply))),
                    Ok(Err(e)) => return fail(err, &format!("no ack for {event}: {e}"), 1),
                    Err(_) => return fail(err, &format!("no ack for {event}: timed out"), 1),
                }
            } else if let Err(e) = self.socket.emit(event, emitted) {
                return fail(err, &format!("--emit {event}: {e}"), 2);
            }
        }
        let Some(expected) = &args.expect else {
            return ExitCode::SUCCESS;
        };
        loop {
            match tokio::time::timeout_at(self.deadline, self.outputs.recv()).await {
                Ok(Some(Output::Event(name, args))) if &name == expected => {
                    print_line(out, &event_line(&name, &args));
                    return ExitCode::SUCCESS;
                }
                Ok(Some(Output::Note(note))) => note_line(err, &note),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => {
                    return fail(err, &format!("timed out waiting for {expected}"), 1);
                }
            }
        }
    }

    /// Prints every event; emits each stdin line.
    async fn interactive<R, O, E>(
        &mut self,
        args: &ConnectArgs,
        input: R,
        out: &mut O,
        err: &mut E,
    ) -> ExitCode
    where
        R: AsyncBufRead + Unpin,
        O: Write,
        E: Write,
    {
        let mut lines = input.lines();
        let mut reading = true;
        let mut pending_acks = 0usize;
        let deadline = args.expect.as_ref().map(|_| self.deadline);
        loop {
            let expired = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                line = lines.next_line(), if reading => match line {
                    Ok(Some(line)) => {
                        if self.emit_line(&line, args, err) {
                            pending_acks += 1;
                        }
                    }
                    Ok(None) | Err(_) => {
                        reading = false;
                        if args.expect.is_none() && pending_acks == 0 {
                            return ExitCode::SUCCESS;
                        }
                    }
                },
                output = self.outputs.recv() => match output {
                    Some(Output::Event(name, values)) => {
                        print_line(out, &event_line(&name, &values));
                        if args.expect.as_deref() == Some(name.as_str()) {
                            return ExitCode::SUCCESS;
                        }
                    }
                    Some(Output::Ack(event, result)) => {
                        match result {
                            Ok(values) => print_line(out, &ack_line(&event, &values)),
                            Err(e) => note_line(err, &format!("no ack for {event}: {e}")),
                        }
                        pending_acks = pending_acks.saturating_sub(1);
                        if !reading && args.expect.is_none() && pending_acks == 0 {
                            return ExitCode::SUCCESS;
                        }
                    }
                    Some(Output::Note(note)) => note_line(err, &note),
                    None => return ExitCode::FAILURE,
                },
                () = expired => {
                    let expected = args.expect.as_deref().unwrap_or_default();
                    return fail(err, &format!("timed out waiting for {expected}"), 1);
                }
            }
        }
    }

    /// Emits `<event> <json-array>` (the array may be left out); true when
    /// an ack is now awaited (with `--ack`, for at most `--timeout`).
    fn emit_line<E: Write>(&self, line: &str, args: &ConnectArgs, err: &mut E) -> bool {
        let line = line.trim();
        if line.is_empty() {
            return false;
        }
        let (event, json) = line.split_once(char::is_whitespace).unwrap_or((line, "[]"));
        let emitted = match emit_args(json.trim()) {
            Ok(emitted) => emitted,
            Err(e) => {
                note_line(err, &format!("{event}: {e}"));
                return false;
            }
        };
        if args.ack {
            let pending = self
                .socket
                .timeout(Duration::from_millis(args.timeout_ms))
                .emit_with_ack(event, emitted);
            let (tx, event) = (self.tx.clone(), event.to_owned());
            tokio::spawn(async move {
                let result = match pending.await {
                    Ok(reply) => Ok(reply_values(&reply)),
                    Err(e) => Err(e.to_string()),
                };
                let _ = tx.send(Output::Ack(event, result));
            });
            return true;
        }
        if let Err(e) = self.socket.emit(event, emitted) {
            note_line(err, &format!("{event}: {e}"));
        }
        false
    }
}

/// An argument given as JSON, with `{"_binary":"<base64>"}` objects as
/// binary.
#[derive(Serialize)]
#[serde(untagged)]
enum Arg {
    Binary(Binary),
    Array(Vec<Arg>),
    Nested(std::collections::BTreeMap<String, Arg>),
    Plain(Value),
}

impl Arg {
    fn from_json(value: Value) -> Result<Self, String> {
        Ok(match value {
            Value::Object(map) if map.len() == 1 && map.contains_key("_binary") => {
                let Some(Value::String(b64)) = map.get("_binary") else {
                    return Err("_binary must be a base64 string".into());
                };
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|e| format!("_binary: {e}"))?;
                Self::Binary(Binary::from(bytes))
            }
            Value::Array(items) => Self::Array(
                items
                    .into_iter()
                    .map(Self::from_json)
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => Self::Nested(
                map.into_iter()
                    .map(|(k, v)| Ok((k, Self::from_json(v)?)))
                    .collect::<Result<_, String>>()?,
            ),
            plain => Self::Plain(plain),
        })
    }
}

/// The arguments of an emit, from a JSON array.
fn emit_args(json: &str) -> Result<Args, String> {
    let items: Vec<Value> = match serde_json::from_str(json) {
        Ok(Value::Array(items)) => items,
        Ok(_) => return Err(format!("not a JSON array: {json}")),
        Err(e) => return Err(format!("invalid JSON ({e}): {json}")),
    };
    items.into_iter().try_fold(Args::new(), |args, item| {
        Ok(args.arg(&Arg::from_json(item)?))
    })
}

/// An event's arguments as printed: binary as `{"_binary":"<base64>"}`.
fn values(event: &Event) -> Vec<Value> {
    event.to_values(binary_value)
}

fn reply_values(reply: &AckReply) -> Vec<Value> {
    reply.to_values(binary_value)
}

fn binary_value(bytes: &bytes::Bytes) -> Value {
    let mut map = serde_json::Map::new();
    map.insert(
        "_binary".into(),
        base64::engine::general_purpose::STANDARD
            .encode(bytes)
            .into(),
    );
    Value::Object(map)
}

/// `value` with every number that is a whole float written as an integer,
/// as JavaScript writes it (`1.0` prints as `1`).
fn js_numbers(value: Value) -> Value {
    match value {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 => {
                Value::from(f as i64)
            }
            _ => Value::Number(n),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(js_numbers).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, js_numbers(v))).collect())
        }
        other => other,
    }
}

fn args_json(values: &[Value]) -> String {
    let values: Vec<Value> = values.iter().cloned().map(js_numbers).collect();
    serde_json::to_string(&values).unwrap_or_else(|_| "[]".into())
}

fn event_line(name: &str, values: &[Value]) -> String {
    let name = serde_json::to_string(name).unwrap_or_default();
    format!(r#"{{"event":{name},"args":{}}}"#, args_json(values))
}

fn ack_line(event: &str, values: &[Value]) -> String {
    let event = serde_json::to_string(event).unwrap_or_default();
    format!(r#"{{"ack":{event},"args":{}}}"#, args_json(values))
}

fn print_line<O: Write>(out: &mut O, line: &str) {
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn note_line<E: Write>(err: &mut E, note: &str) {
    let _ = writeln!(err, "{note}");
}

/// Reports `message` on stderr and gives the exit code.
fn fail<E: Write>(err: &mut E, message: &str, code: u8) -> ExitCode {
    let _ = writeln!(err, "error: {message}");
    ExitCode::from(code)
}

/// An error with its causes, and a refusal with its data.
fn describe(error: &Error) -> String {
    if let Error::Refused {
        message,
        data: Some(data),
    } = error
    {
        return format!("connection refused: {message} (data: {data})");
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
