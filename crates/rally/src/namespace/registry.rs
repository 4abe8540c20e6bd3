//! The registry of the namespace's connected sockets.

use std::sync::Arc;

use rally_engine::Sid;

use super::Namespace;
use crate::{Socket, run::run_detached};

impl Namespace {
    /// The connected socket with id `id`.
    #[must_use]
    pub fn get_socket(&self, id: Sid) -> Option<Arc<Socket>> {
        self.sockets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
    }

    /// The connected sockets among `ids` (one lock for all).
    pub(crate) fn sockets_by_id(&self, ids: &[Sid]) -> Vec<Arc<Socket>> {
        let sockets = self.sockets.read().unwrap_or_else(|e| e.into_inner());
        ids.iter()
            .filter_map(|id| sockets.get(id).cloned())
            .collect()
    }

    /// Every connected socket.
    #[must_use]
    pub fn sockets(&self) -> Vec<Arc<Socket>> {
        self.sockets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// How many sockets are connected.
    pub(crate) fn socket_count(&self) -> usize {
        self.sockets.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.sockets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// Registers a socket that passed the middlewares (in its own room and,
    /// when recovered, its former `rooms`) and runs the connection handlers.
    pub(crate) fn connect(&self, socket: &Arc<Socket>, rooms: &[crate::Room]) {
        self.sockets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(socket.id(), socket.clone());
        self.adapter()
            .add_all(socket.id(), &[crate::Room::from(socket.id().as_str())]);
        if !rooms.is_empty() {
            self.adapter().add_all(socket.id(), rooms);
        }
        if let Some(hooks) = socket.client.server().admin_hooks() {
            hooks.connected(socket);
        }
        for handler in self.handlers().connection.clone() {
            run_detached(handler(socket.clone()));
        }
    }

    pub(crate) fn remove_socket(&self, id: Sid) {
        self.sockets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }
}
