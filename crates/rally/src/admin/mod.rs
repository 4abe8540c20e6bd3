//! The server side of the Socket.IO Admin UI (`@socket.io/admin-ui`
//! 0.5.1): the web app that shows a server's (or a cluster's) servers,
//! namespaces, sockets, rooms, clients and events, and can make sockets
//! join, leave or disconnect.
//!
//! Enable it with [`ServerBuilder::admin_ui`](crate::ServerBuilder::admin_ui)
//! or [`instrument`]. The UI then connects to the `/admin` namespace of the
//! server (the hosted copy of the UI, or the one `rally serve --admin-ui`
//! serves), and learns:
//!
//! - `config`: what it may do (the commands, unless
//!   [`read_only`](AdminUi::read_only); aggregated events; every event in
//!   development mode);
//! - `server_stats` every 2 s from every node: server id, host name, pid,
//!   uptime (seconds since the server was instrumented), clients, polling
//!   clients, aggregated events, namespaces and their socket counts;
//! - in [`Mode::Development`] only: `all_sockets` when it connects (every
//!   socket of every node), then `socket_connected`, `socket_updated`
//!   (transport upgrade, data), `socket_disconnected`, `room_joined`,
//!   `room_left`, `event_received` and `event_sent` as they happen.
//!
//! Its commands are `emit`, `join`, `leave` and `_disconnect`, for the
//! sockets of a namespace, of a room, or one socket (by its id): through
//! the adapter, so they reach every node of a cluster, and every node's
//! reports reach every UI.
//!
//! ```
//! use rally::admin::{AdminUi, Auth};
//!
//! let hash = bcrypt::hash("changeit", 4).unwrap();
//! let io = rally::Server::builder()
//!     .admin_ui(AdminUi::new().auth(Auth::basic("admin", &hash).unwrap()))
//!     .build();
//! # let _ = io;
//! ```

mod commands;
mod hooks;
mod options;
mod serialize;
mod stats;

use std::sync::{Arc, Mutex};

use serde_json::json;

pub(crate) use hooks::Hooks;
pub use options::{AdminUi, Auth, InvalidHash, Mode};
pub(crate) use serialize::described_data;

use crate::{Namespace, Server};

/// Instruments `io` for the Admin UI as `options` say, and returns the
/// admin namespace; the reference's `instrument(io, options)`.
///
/// Without [`auth`](AdminUi::auth), anyone who reaches the server can see
/// its sockets and disconnect them: a warning is logged.
///
/// `server_stats` go out from a task on the current tokio runtime; called
/// outside one, the task starts when the first UI connects. That task, and
/// the admin namespace's handlers, keep the server alive.
///
/// A server is instrumented once: a second call only returns the admin
/// namespace of the first.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let io = rally::Server::new();
/// let admin = rally::admin::instrument(&io, rally::admin::AdminUi::new().read_only(true));
/// assert_eq!(admin.name(), "/admin");
/// # }
/// ```
pub fn instrument(io: &Server, options: AdminUi) -> Arc<Namespace> {
    let admin = io.of(&options.namespace_name);
    let development = options.mode == Mode::Development;
    let instrumented = Instrumented {
        namespace: admin.clone(),
        hooks: development.then(|| Hooks::new(&admin)),
    };
    if let Err(refused) = io.inner.admin.set(instrumented) {
        drop(refused);
        return io
            .inner
            .admin
            .get()
            .map_or(admin, |first| first.namespace.clone());
    }
    match &options.auth {
        Some(auth) => commands::authenticate(&admin, auth.clone()),
        None => tracing::warn!(
            namespace = %admin.name(),
            "the Admin UI has no authentication: anyone who reaches the server can see its sockets and disconnect them"
        ),
    }
    if !options.read_only {
        commands::install(io, &admin);
    }
    let stats = stats::report(
        io.clone(),
        admin.clone(),
        stats::Identity::new(options.server_id.clone()),
        options.server_stats_interval,
    );
    let ticker: commands::Ticker = Arc::new(Mutex::new(Some(Box::pin(stats))));
    if tokio::runtime::Handle::try_current().is_ok() {
        commands::start(&ticker);
    }
    let config = json!({ "supportedFeatures": features(&options) });
    commands::greet(io, &admin, config, development, ticker);
    if let Some(hooks) = io.inner.admin_hooks() {
        for ns in io.namespaces() {
            hooks.watch(&ns);
        }
    }
    admin
}

/// What a server instrumented for the Admin UI keeps.
pub(crate) struct Instrumented {
    namespace: Arc<Namespace>,
    /// Set in development mode only.
    pub(crate) hooks: Option<Hooks>,
}

/// What the UI may do, as the reference names it.
fn features(options: &AdminUi) -> Vec<&'static str> {
    let mut features = if options.read_only {
        Vec::new()
    } else {
        vec![
            "EMIT",
            "JOIN",
            "LEAVE",
            "DISCONNECT",
            "MJOIN",
            "MLEAVE",
            "MDISCONNECT",
        ]
    };
    features.push("AGGREGATED_EVENTS");
    if options.mode == Mode::Development {
        features.push("ALL_EVENTS");
    }
    features
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_follow_the_options() {
        assert_eq!(
            features(&AdminUi::new().read_only(true).mode(Mode::Production)),
            ["AGGREGATED_EVENTS"]
        );
        let all = features(&AdminUi::new());
        assert_eq!(all.len(), 9);
        assert_eq!(all[0], "EMIT");
        assert_eq!(all[8], "ALL_EVENTS");
    }
}
