//! The admin namespace: the UI's login, what it is sent when it connects,
//! and its commands.

use std::{
    collections::{HashMap, HashSet},
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
};

use serde_json::Value;

use super::{Auth, serialize};
use crate::{Args, ConnectError, Event, Namespace, Server, Sid};

/// The statistics task, until it is started.
pub(super) type Ticker = Arc<Mutex<Option<Pin<Box<dyn Future<Output = ()> + Send>>>>>;

/// The most login sessions remembered; past it, one is forgotten for each
/// new one (that UI then logs in again when it reloads).
const MAX_SESSIONS: usize = 1024;

/// Starts the statistics task, once (on the current runtime).
pub(super) fn start(ticker: &Ticker) {
    let task = ticker.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(task) = task {
        tokio::spawn(task);
    }
}

/// The login sessions of this node, and the session ids due to UIs being
/// admitted.
#[derive(Default)]
struct Sessions {
    known: HashSet<String>,
    due: HashMap<Sid, String>,
}

/// Requires `auth`'s credentials, or the id of a session they opened
/// (which a reloaded UI sends back): as the reference, a wrong password
/// is refused with `invalid credentials`.
pub(super) fn authenticate(admin: &Arc<Namespace>, auth: Auth) {
    let sessions = Arc::new(Mutex::new(Sessions::default()));
    let auth = Arc::new(auth);
    {
        let sessions = sessions.clone();
        admin.use_middleware(move |socket| {
            let (sessions, auth) = (sessions.clone(), auth.clone());
            async move {
                let given: Value = socket.auth().unwrap_or(Value::Null);
                let text = |key: &str| given.get(key).and_then(Value::as_str).map(str::to_owned);
                let lock = || sessions.lock().unwrap_or_else(|e| e.into_inner());
                if text("sessionId").is_some_and(|id| lock().known.contains(&id)) {
                    return Ok(());
                }
                if text("username").as_deref() == Some(auth.username.as_str()) {
                    let password = text("password").unwrap_or_default();
                    let hash = auth.password_hash.clone();
                    // bcrypt is slow on purpose: off the connection's task.
                    let matches =
                        tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
                            .await
                            .is_ok_and(|verified| verified.unwrap_or(false));
                    if matches {
                        let id = Sid::random().as_str().to_owned();
                        let mut sessions = lock();
                        if sessions.known.len() >= MAX_SESSIONS {
                            let old = sessions.known.iter().next().cloned();
                            if let Some(old) = old {
                                sessions.known.remove(&old);
                            }
                        }
                        sessions.known.insert(id.clone());
                        // Due until the UI is admitted: a UI that a later
                        // middleware refuses never takes its id.
                        if sessions.due.len() >= MAX_SESSIONS {
                            sessions.due.clear();
                        }
                        sessions.due.insert(socket.id(), id);
                        return Ok(());
                    }
                }
                Err(ConnectError::new("invalid credentials"))
            }
        });
    }
    admin.on_connection(move |socket| {
        let id = sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .due
            .remove(&socket.id());
        if let Some(id) = id {
            let _ = socket.emit("session", &id);
        }
        std::future::ready(())
    });
}

/// Sends each UI that connects `config`, and in development mode every
/// socket of the cluster (`all_sockets`); starts the statistics task if it
/// is not running yet.
pub(super) fn greet(
    io: &Server,
    admin: &Arc<Namespace>,
    config: Value,
    development: bool,
    ticker: Ticker,
) {
    let io = io.clone();
    admin.on_connection(move |socket| {
        start(&ticker);
        let _ = socket.emit("config", &config);
        let io = io.clone();
        async move {
            if development {
                let sockets = all_sockets(&io).await;
                let _ = socket.emit("all_sockets", &sockets);
            }
        }
    });
}

/// Every socket of every namespace, on every node that answers.
async fn all_sockets(io: &Server) -> Vec<Value> {
    let mut all = Vec::new();
    for ns in io.namespaces() {
        match ns.fetch_sockets().await {
            Ok(sockets) => all.extend(sockets.iter().map(|s| serialize::found(s, ns.name()))),
            Err(e) => tracing::debug!(nsp = ns.name(), error = %e, "admin: fetching sockets"),
        }
    }
    all
}

/// The UI's commands, on the namespace, a room or one socket (the
/// `filter`), on every node: `emit`, `join`, `leave`, `_disconnect`.
pub(super) fn install(io: &Server, admin: &Arc<Namespace>) {
    let command = |name: &str, run: fn(&Server, &Event)| {
        let io = io.clone();
        admin.on(name, move |_socket, event| {
            run(&io, &event);
            std::future::ready(())
        });
    };
    command("emit", |io, event| {
        let (Some(nsp), Ok(name)) = (text(event, 0), event.arg::<String>(2)) else {
            return;
        };
        let rest = &event.raw_args()[3.min(event.len())..];
        let json: Vec<&str> = rest.iter().map(|a| &**a).collect();
        let args = Args::raw_relay(&json.join(","), rest.len(), event.binary().to_vec());
        let _ = target(io, &nsp, text(event, 1)).emit(&name, args);
    });
    command("join", |io, event| {
        if let (Some(nsp), Some(room)) = (text(event, 0), text(event, 1)) {
            target(io, &nsp, text(event, 2)).sockets_join(room);
        }
    });
    command("leave", |io, event| {
        if let (Some(nsp), Some(room)) = (text(event, 0), text(event, 1)) {
            target(io, &nsp, text(event, 2)).sockets_leave(room);
        }
    });
    command("_disconnect", |io, event| {
        if let Some(nsp) = text(event, 0) {
            let close = event.arg::<bool>(1).unwrap_or(false);
            target(io, &nsp, text(event, 2)).disconnect_sockets(close);
        }
    });
}

/// Argument `index` when it is a non-empty string.
fn text(event: &Event, index: usize) -> Option<String> {
    event
        .arg::<Option<String>>(index)
        .ok()
        .flatten()
        .filter(|s| !s.is_empty())
}

/// The sockets of `nsp`, or of its room `filter` (a room, or a socket's id).
fn target(io: &Server, nsp: &str, filter: Option<String>) -> crate::BroadcastOperator {
    let ns = io.of(nsp);
    match filter {
        Some(room) => ns.to(room),
        None => ns.broadcast(),
    }
}
