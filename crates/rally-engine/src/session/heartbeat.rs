//! The heartbeat of a session (server-driven in protocol 4, client-driven
//! in protocol 3), and its expiry.

use std::{sync::atomic::Ordering, time::Duration};

use tokio::time::Instant;

use super::{Beat, Heartbeat, Session};
#[cfg(doc)]
use crate::CloseReason;
use crate::{Transport, transport::polling::Timed};

impl Session {
    /// Closes the session with [`CloseReason::ForcedClose`] once `timeout`
    /// has passed, unless [`cancel_expiry`](Self::cancel_expiry) comes first
    /// (a later call sets a new deadline).
    ///
    /// The transport's heartbeat timer watches the deadline, so it costs no
    /// task and no timer of its own: Socket.IO's connect timeout is one.
    ///
    /// ```
    /// # use std::{sync::Arc, time::Duration};
    /// # use rally_engine::Session;
    /// fn on_open(session: &Arc<Session>) {
    ///     // Let the client go unless it proves itself within five seconds.
    ///     session.expire_after(Duration::from_secs(5));
    /// }
    /// ```
    pub fn expire_after(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut state = self.state();
        let earlier = deadline < state.deadline();
        state.expiry = Some(deadline);
        drop(state);
        if earlier {
            // The transport's timer waits for the heartbeat: wake it to
            // wait for the expiry instead.
            self.deadline_moved.store(true, Ordering::Release);
            self.wake_heartbeat();
            self.queue.wake();
        }
    }

    /// Whether the heartbeat deadline moved earlier since the last call.
    pub(crate) fn take_deadline_moved(&self) -> bool {
        self.deadline_moved.load(Ordering::Relaxed)
            && self.deadline_moved.swap(false, Ordering::AcqRel)
    }

    /// Lifts the expiry set by [`expire_after`](Self::expire_after).
    pub fn cancel_expiry(&self) {
        self.state().expiry = None;
    }

    /// The instant the heartbeat (or the expiry) needs attention next.
    pub(crate) fn heartbeat_deadline(&self) -> Instant {
        self.state().deadline()
    }

    /// Advances the heartbeat at `now`.
    pub(crate) fn heartbeat_beat(&self, now: Instant, ping_timeout: Duration) -> Beat {
        let mut state = self.state();
        if state.expiry.is_some_and(|expiry| now >= expiry) {
            return Beat::Expired;
        }
        match state.heartbeat {
            Heartbeat::Idle(at) | Heartbeat::AwaitingPong(at) | Heartbeat::AwaitingPing(at)
                if now < at =>
            {
                Beat::Wait
            }
            Heartbeat::Idle(_) => {
                state.heartbeat = Heartbeat::AwaitingPong(now + ping_timeout);
                Beat::Ping
            }
            Heartbeat::AwaitingPong(_) | Heartbeat::AwaitingPing(_) => Beat::TimedOut,
        }
    }

    /// Records a protocol 3 client's ping: the next one is due within
    /// `window` (`pingInterval + pingTimeout`) from now.
    ///
    /// The deadline only moves later, so the transport's timer is not
    /// woken: when it fires at the old deadline, [`heartbeat_beat`](Self::heartbeat_beat)
    /// says [`Beat::Wait`] and the timer is set again for the new one.
    pub(crate) fn heartbeat_ping(&self, window: Duration) {
        let mut state = self.state();
        if let Heartbeat::AwaitingPing(_) = state.heartbeat {
            state.heartbeat = Heartbeat::AwaitingPing(Instant::now() + window);
        }
    }

    /// Records a pong: the next ping goes out one interval from now.
    ///
    /// The deadline only moves later: as for [`heartbeat_ping`](Self::heartbeat_ping),
    /// the transport's timer is not woken.
    pub(crate) fn heartbeat_pong(&self, ping_interval: Duration) {
        let mut state = self.state();
        if let Heartbeat::AwaitingPong(_) = state.heartbeat {
            state.heartbeat = Heartbeat::Idle(Instant::now() + ping_interval);
        }
    }

    /// Has the heartbeat looked at now (a close, an earlier expiry, a move
    /// to WebSocket): a polling session's is timed by its engine, a
    /// WebSocket session's connection task watches the session itself.
    pub(crate) fn wake_heartbeat(&self) {
        if self.handshake.transport == Transport::Polling {
            if let Some(owner) = self.owner.upgrade() {
                owner.wake_heartbeat(self);
            }
        }
    }

    /// Where the session stands in its engine's heartbeat timer.
    pub(crate) fn timed(&self) -> Option<Timed> {
        self.state().timed
    }

    pub(crate) fn set_timed(&self, timed: Option<Timed>) {
        self.state().timed = timed;
    }
}
