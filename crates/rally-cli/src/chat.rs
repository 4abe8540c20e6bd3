//! The chat demo's server side (namespace `/`).
//!
//! Clients connect with auth `{"name": "<nickname>"}`, then `join` rooms,
//! send `chat message`s to a room, and see `typing`, `user joined` and
//! `user left` from the others.

use std::{
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use rally::{ConnectError, DisconnectReason, Namespace, Socket};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The longest message accepted, in characters.
const MAX_TEXT: usize = 2000;
/// The longest nickname accepted, in characters.
const MAX_NAME: usize = 32;
/// The longest room name accepted, in characters.
const MAX_ROOM: usize = 64;

#[derive(Serialize, Deserialize)]
struct Member {
    name: String,
}

/// The answer to `join` and `leave`.
#[derive(Serialize)]
struct RoomCount<'a> {
    room: &'a str,
    members: usize,
}

/// `user joined`, `user left`, `typing`.
#[derive(Serialize)]
struct Presence<'a> {
    name: &'a str,
    room: &'a str,
}

/// A `chat message` as everyone in the room gets it.
#[derive(Serialize)]
struct Message<'a> {
    room: &'a str,
    name: &'a str,
    text: &'a str,
    ts: u64,
}

/// The answer to `chat message` (and to a `join` without a usable room).
#[derive(Serialize)]
struct Answer {
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl Answer {
    fn from(result: Result<(), String>) -> Self {
        match result {
            Ok(()) => Self {
                ok: true,
                error: None,
            },
            Err(why) => Self {
                ok: false,
                error: Some(why),
            },
        }
    }
}

/// Registers the chat on `ns`.
pub(crate) fn install(ns: &Arc<Namespace>) {
    ns.use_middleware(|socket| async move {
        let refusal = || ConnectError::new("a name is required (1 to 32 characters)");
        let name = socket
            .auth::<Value>()
            .ok()
            .and_then(|auth| auth.get("name")?.as_str().map(|n| n.trim().to_owned()))
            .filter(|n| !n.is_empty() && n.chars().count() <= MAX_NAME)
            .ok_or_else(refusal)?;
        socket.set_data(&Member { name }).map_err(|_| refusal())
    });
    ns.on("join", |socket, mut event| async move {
        let Ok(room) = room(event.arg(0).ok()) else {
            let _ = event.ack(&Answer::from(Err(NO_ROOM.into())));
            return;
        };
        let already = in_room(&socket, &room);
        socket.join(room.as_str());
        let _ = event.ack(&RoomCount {
            room: &room,
            members: members(&socket, &room).await,
        });
        if !already {
            let presence = Presence {
                name: &name(&socket),
                room: &room,
            };
            let _ = socket.to(room.as_str()).emit("user joined", &presence);
        }
    });
    ns.on("leave", |socket, mut event| async move {
        let Ok(room) = room(event.arg(0).ok()) else {
            let _ = event.ack(&Answer::from(Err(NO_ROOM.into())));
            return;
        };
        if in_room(&socket, &room) {
            socket.leave(&room);
            let presence = Presence {
                name: &name(&socket),
                room: &room,
            };
            let _ = socket.to(room.as_str()).emit("user left", &presence);
        }
        let _ = event.ack(&RoomCount {
            room: &room,
            members: members(&socket, &room).await,
        });
    });
    ns.on("chat message", |socket, mut event| async move {
        let said = event.arg::<Value>(0).unwrap_or_default();
        let _ = event.ack(&Answer::from(say(&socket, &said)));
    });
    ns.on("typing", |socket, event| async move {
        if let Ok(room) = room(event.arg(0).ok()) {
            if in_room(&socket, &room) {
                let presence = Presence {
                    name: &name(&socket),
                    room: &room,
                };
                let _ = socket.to(room.as_str()).emit("typing", &presence);
            }
        }
    });
    ns.on_disconnecting(|socket, _reason: DisconnectReason| async move {
        let own = socket.id();
        let name = name(&socket);
        for room in socket
            .rooms()
            .into_iter()
            .filter(|room| **room != *own.as_str())
        {
            let _ = socket.to(&*room).emit(
                "user left",
                &Presence {
                    name: &name,
                    room: &room,
                },
            );
        }
    });
}

/// Sends a `chat message` to its room, or says why not (checked in this
/// order: the text, then the room).
fn say(socket: &Arc<Socket>, said: &Value) -> Result<(), String> {
    let text = said
        .get("text")
        .and_then(Value::as_str)
        .ok_or("text must be a string")?;
    if text.trim().is_empty() {
        return Err("text is empty".into());
    }
    if text.chars().count() > MAX_TEXT {
        return Err(format!("text is longer than {MAX_TEXT} characters"));
    }
    let room = room(said.get("room").cloned())?;
    if !in_room(socket, &room) {
        return Err(format!("not in room {room}"));
    }
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    let message = Message {
        room: &room,
        name: &name(socket),
        text,
        ts,
    };
    // Everyone in the room, the sender included.
    socket
        .ns()
        .to(room.as_str())
        .emit("chat message", &message)
        .map_err(|e| e.to_string())
}

const NO_ROOM: &str = "a room name is required (1 to 64 characters)";

/// A room name: a string of 1 to 64 characters, not only whitespace.
fn room(value: Option<Value>) -> Result<String, String> {
    match value {
        Some(Value::String(room))
            if !room.trim().is_empty() && room.chars().count() <= MAX_ROOM =>
        {
            Ok(room)
        }
        _ => Err(NO_ROOM.into()),
    }
}

fn name(socket: &Socket) -> String {
    socket.data::<Member>().map(|m| m.name).unwrap_or_default()
}

/// Whether the socket joined `room` (its own room does not count).
fn in_room(socket: &Socket, room: &str) -> bool {
    room != socket.id().as_str() && socket.rooms().iter().any(|r| &**r == room)
}

/// The members of `room` on every node of a cluster (this node's alone
/// when the others do not answer).
async fn members(socket: &Socket, room: &str) -> usize {
    let to = socket.ns().to(room);
    match to.fetch_sockets().await {
        Ok(all) => all.len(),
        Err(_) => to.sockets().len(),
    }
}
