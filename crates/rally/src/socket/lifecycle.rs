//! A socket's lifecycle: admission, refusal, and leaving the namespace.

use std::sync::{Arc, atomic::Ordering};

use rally_proto::socket::PacketType;

use super::{CONNECTED, CONNECTING, DISCONNECTED, DISCONNECTING, Socket};
use crate::{AckError, DisconnectReason, adapter::SessionState, encode::Encoded};

impl Socket {
    /// Leaves the namespace (`server namespace disconnect`); with `close`,
    /// every namespace of the client is left and its connection closed.
    pub fn disconnect(self: &Arc<Self>, close: bool) {
        if close {
            self.client.disconnect_all();
        } else {
            self.leave_namespace(DisconnectReason::ServerNamespaceDisconnect, true);
        }
    }

    pub(crate) fn mark_connected(&self) {
        let _ =
            self.state
                .compare_exchange(CONNECTING, CONNECTED, Ordering::AcqRel, Ordering::Acquire);
    }

    /// A socket refused by a middleware, or whose connection closed before
    /// it was admitted, never connects.
    pub(crate) fn mark_refused(&self) {
        self.state.store(DISCONNECTED, Ordering::Release);
    }

    /// Leaves the namespace for `reason`: `disconnecting` (rooms still
    /// filled), then the rooms emptied, pending acks failed, `disconnect`.
    pub(crate) fn leave_namespace(self: &Arc<Self>, reason: DisconnectReason, notify: bool) {
        if self
            .state
            .compare_exchange(
                CONNECTED,
                DISCONNECTING,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_err()
        {
            return;
        }
        if notify {
            let _ = self.client.send(
                &Encoded::control(PacketType::Disconnect, self.ns.name(), None),
                super::Flags::DEFAULT,
            );
        }
        self.ns.fire_disconnecting(self, reason);
        if let Some(pid) = &self.pid {
            if reason.is_recoverable() {
                let session =
                    SessionState::new(self.id, pid.clone(), self.rooms(), self.raw_data());
                crate::run::run_detached(self.ns.adapter().persist_session(session));
            }
        }
        self.state.store(DISCONNECTED, Ordering::Release);
        self.ns.adapter().del_all(self.id);
        self.ns.remove_socket(self.id);
        self.client.remove_socket(self.id);
        for (_, tx) in self.acks().drain() {
            let _ = tx.send(Err(AckError::Disconnected));
        }
        if let Some(hooks) = self.client.server().admin_hooks() {
            hooks.disconnected(self, reason);
        }
        self.ns.fire_disconnect(self, reason);
        self.clear_listeners();
        self.ns.remove_if_empty_child();
    }
}
