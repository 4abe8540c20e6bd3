//! The Rally peer, and the tokio runtimes the Rust peers run on (the bare
//! ceilings are in `bare.rs`).

use std::fmt;

use rally::{Args, PerMessageDeflate, Server};
use tokio::net::TcpListener;

/// The tokio runtime flavour a Rust peer runs on. Under `taskset` to one
/// core the multi-threaded runtime has one worker, as `#[tokio::main]`
/// builds it; the scheduler still differs (a LIFO slot and a local queue
/// that overflows into a global one, against one queue polled in order),
/// and that shows in p99 and in CPU per operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Runtime {
    /// `new_current_thread`: the thread that calls `block_on` runs every task.
    Current,
    /// `new_multi_thread`: tokio's default (one worker per core).
    Multi,
}

impl Runtime {
    /// Both, in the order the reports list them.
    pub(crate) const ALL: [Runtime; 2] = [Runtime::Current, Runtime::Multi];

    /// The flag's spelling (`--runtimes current,multi`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Runtime::Current => "current",
            Runtime::Multi => "multi",
        }
    }

    /// The name in the reports.
    pub(crate) fn title(self) -> &'static str {
        match self {
            Runtime::Current => "current-thread",
            Runtime::Multi => "multi-thread",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == s)
    }

    /// Builds the runtime, with I/O and timers.
    pub(crate) fn build(self) -> tokio::runtime::Runtime {
        match self {
            Runtime::Current => tokio::runtime::Builder::new_current_thread(),
            Runtime::Multi => tokio::runtime::Builder::new_multi_thread(),
        }
        .enable_all()
        .build()
        .expect("a tokio runtime")
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The Rally peer: namespace `/`; `echo` acked with its arguments; `join(room)`
/// acked with the room; `bcast(room, payload)` emits `bcast(payload)` to the
/// room (the sender included), relaying the payload's JSON untouched.
pub(crate) fn rally_peer(port: u16, runtime: Runtime) {
    runtime.build().block_on(async move {
        let mut builder = Server::builder();
        // The slow-consumer mix may shrink the outgoing queue bound (default
        // 4096 frames) so that slow clients fill it sooner.
        if let Some(frames) = max_buffered_frames() {
            builder = builder.max_buffered_frames(frames);
        }
        // The compression scenario turns permessage-deflate on (defaults:
        // threshold 1024 bytes, level 1).
        if per_message_deflate() {
            builder = builder.per_message_deflate(Some(PerMessageDeflate::default()));
        }
        let io = builder.build();
        handlers(&io);
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind the Rally peer");
        println!("listening {port}");
        let _ = rally::serve(listener, io).await;
    });
}

/// The handlers of the Rally peer on namespace `/` of `io`: `echo` acked
/// with its arguments, `join(room)` acked with the room, `bcast(room,
/// payload)` relayed to the room.
pub(crate) fn handlers(io: &Server) {
    let root = io.of("/");
    root.on("echo", |_socket, mut event| async move {
        let args = event.to_args();
        let _ = event.ack(args);
    });
    root.on("join", |socket, mut event| async move {
        if let Ok(room) = event.arg::<String>(0) {
            socket.join(room);
        }
        let args = event.to_args();
        let _ = event.ack(args);
    });
    root.on("bcast", |socket, event| async move {
        let (Ok(room), Some(payload)) = (event.arg::<String>(0), event.raw_arg(1)) else {
            return;
        };
        let _ = socket
            .ns()
            .to(room)
            .emit("bcast", Args::raw_relay(payload, 1, Vec::new()));
    });
}

/// `RALLY_BENCH_MAX_BUFFERED_FRAMES`, when set: the Rally peer's bound on
/// each connection's outgoing queue.
pub(crate) fn max_buffered_frames() -> Option<usize> {
    std::env::var("RALLY_BENCH_MAX_BUFFERED_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
}

/// The variable that turns permessage-deflate on in the Rally and Node peers
/// (`1`): the compression scenario sets it.
pub(crate) const PER_MESSAGE_DEFLATE_VAR: &str = "RALLY_BENCH_PER_MESSAGE_DEFLATE";

/// Whether [`PER_MESSAGE_DEFLATE_VAR`] is set to `1`.
fn per_message_deflate() -> bool {
    std::env::var(PER_MESSAGE_DEFLATE_VAR).is_ok_and(|v| v == "1")
}
