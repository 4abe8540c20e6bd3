//! What the transports claim of a session: the upgrade to WebSocket, and
//! one POST at a time.

use std::sync::atomic::Ordering;

use super::Session;
use crate::Transport;

impl Session {
    /// Starts an upgrade; false when one is under way, done, or impossible.
    pub(crate) fn begin_upgrade(&self) -> bool {
        let mut state = self.state();
        if state.upgrading || state.transport != Transport::Polling || state.close.is_some() {
            return false;
        }
        state.upgrading = true;
        true
    }

    /// Ends an upgrade, switching to WebSocket when it succeeded.
    pub(crate) fn end_upgrade(&self, upgraded: bool) {
        let mut state = self.state();
        state.upgrading = false;
        if upgraded {
            state.transport = Transport::WebSocket;
            self.counters.upgraded();
        }
        drop(state);
        self.wake_heartbeat();
    }

    /// Has the pending poll, or the next one if none is, return a noop
    /// (once, however many times it is asked before).
    pub(crate) fn ask_noop(&self) {
        self.noop.store(true, Ordering::Release);
        self.queue.wake();
    }

    /// Whether a noop was asked for since the last call.
    pub(crate) fn take_noop(&self) -> bool {
        self.noop.load(Ordering::Relaxed) && self.noop.swap(false, Ordering::AcqRel)
    }

    /// Claims the one POST slot; false when another POST is in flight.
    pub(crate) fn begin_post(&self) -> bool {
        !std::mem::replace(&mut self.state().posting, true)
    }

    pub(crate) fn end_post(&self) {
        self.state().posting = false;
    }
}
