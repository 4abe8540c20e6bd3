//! The heartbeats of an engine's polling sessions, timed together.
//!
//! A WebSocket session's connection task keeps its heartbeat; a polling
//! session has no task of its own between its requests, and a task and a
//! timer for each would take more memory than the rest of an idle polling
//! session's server side. So one task times them all: a map ordered by the
//! instant each session needs attention (the next ping, a pong's deadline,
//! an expiry, the end of a closed session's grace period), which sleeps
//! until the first. The task runs only while there is something to time.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use rally_proto::{Str, engine::Frame};
use tokio::{sync::Notify, time::Instant};

use crate::{CloseReason, Session, Sid, Transport, session::Beat};

const PING: Frame = Frame::Text(Str::from_static("2"));

/// Where a session stands in the shared timer, kept in the session's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timed {
    /// Its heartbeat is timed at this instant.
    Beat(Instant),
    /// Closed with frames left for a poll that has not come: let go at this
    /// instant if it still has not.
    Grace(Instant),
}

/// The heartbeats of one engine's polling sessions.
pub(crate) struct Heartbeats {
    /// Sessions by the instant they need attention. A session is in it
    /// once, under the instant its state's [`Timed`] names; an entry whose
    /// instant its session no longer names is stale and skipped.
    due: Mutex<BTreeMap<(Instant, Sid), Arc<Session>>>,
    /// Wakes the task when an entry goes first.
    moved: Notify,
    /// Whether the task runs (it ends when nothing is left to time).
    running: AtomicBool,
    ping_interval: Duration,
    ping_timeout: Duration,
}

impl Heartbeats {
    pub(crate) fn new(ping_interval: Duration, ping_timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            due: Mutex::default(),
            moved: Notify::new(),
            running: AtomicBool::new(false),
            ping_interval,
            ping_timeout,
        })
    }

    fn due(&self) -> MutexGuard<'_, BTreeMap<(Instant, Sid), Arc<Session>>> {
        // Every update is one insert or one removal: poisoning cannot leave
        // the map half changed.
        self.due.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts timing a new polling session's heartbeat (a runtime's task
    /// times them, started if none runs).
    pub(crate) fn start(self: &Arc<Self>, session: &Arc<Session>) {
        let mut due = self.due();
        let at = session.heartbeat_deadline();
        session.set_timed(Some(Timed::Beat(at)));
        self.insert(&mut due, at, session.clone());
        if !self.running.swap(true, Ordering::AcqRel) {
            tokio::spawn(run(self.clone()));
        }
    }

    /// Has `session` looked at now rather than at its timed instant: its
    /// close, an earlier expiry or its move to WebSocket cannot wait.
    /// Nothing when it is not timed, or in its grace period.
    pub(crate) fn wake(&self, session: &Session) {
        let mut due = self.due();
        let Some(Timed::Beat(at)) = session.timed() else {
            return;
        };
        let Some(entry) = due.remove(&(at, session.sid())) else {
            return;
        };
        let now = Instant::now();
        session.set_timed(Some(Timed::Beat(now)));
        self.insert(&mut due, now, entry);
    }

    fn insert(
        &self,
        due: &mut BTreeMap<(Instant, Sid), Arc<Session>>,
        at: Instant,
        session: Arc<Session>,
    ) {
        let first = due.first_key_value().is_none_or(|((t, _), _)| at < *t);
        due.insert((at, session.sid()), session);
        if first {
            self.moved.notify_one();
        }
    }

    /// Takes the entries due at `now` out; their sessions are no longer
    /// timed until [`time_again`](Self::time_again).
    fn take_due(&self, now: Instant) -> Vec<(Arc<Session>, Timed)> {
        let mut due = self.due();
        let mut taken = Vec::new();
        while let Some(entry) = due.first_entry() {
            let (at, _) = *entry.key();
            if at > now {
                break;
            }
            let session = entry.remove();
            match session.timed() {
                Some(timed @ (Timed::Beat(t) | Timed::Grace(t))) if t == at => {
                    session.set_timed(None);
                    taken.push((session, timed));
                }
                // Stale: the session is timed at another instant.
                _ => {}
            }
        }
        taken
    }

    /// What a session due now needs, as a task of its own would do it: a
    /// ping, a close for a late pong or a passed expiry, the end of a
    /// grace period. Where it stands next.
    fn attend(&self, session: &Arc<Session>, timed: Timed, now: Instant) -> Option<Timed> {
        if let Timed::Grace(_) = timed {
            session.finalize();
            return None;
        }
        loop {
            if session.is_closed() {
                // Let go after one heartbeat period if its last poll never
                // comes (the poll finalizes it otherwise).
                return (!session.is_finalized())
                    .then(|| Timed::Grace(now + self.ping_interval + self.ping_timeout));
            }
            if session.transport() != Transport::Polling {
                // The WebSocket connection's task beats from now on.
                return None;
            }
            if session.heartbeat_deadline() > now {
                return Some(Timed::Beat(now));
            }
            match session.heartbeat_beat(now, self.ping_timeout) {
                Beat::Wait => {}
                // A full queue cannot take the ping: the pong will be late.
                Beat::Ping => drop(session.send_frame(PING)),
                Beat::TimedOut => session.close_with(CloseReason::PingTimeout),
                Beat::Expired => session.close_with(CloseReason::ForcedClose),
            }
        }
    }

    /// Times `session` again after [`attend`](Self::attend): a heartbeat
    /// at the deadline its state names when it is put back (read under
    /// the map's lock, so that a [`wake`](Self::wake) meanwhile is not
    /// lost), a grace period at its end.
    fn time_again(&self, session: Arc<Session>, next: Timed) {
        let mut due = self.due();
        let next = match next {
            Timed::Beat(_) => Timed::Beat(session.heartbeat_deadline()),
            grace @ Timed::Grace(_) => grace,
        };
        let (Timed::Beat(at) | Timed::Grace(at)) = next;
        session.set_timed(Some(next));
        self.insert(&mut due, at, session);
    }

    /// The first instant due, or `None` (and the task marked stopped, under
    /// the lock [`start`](Self::start) takes) when nothing is timed.
    fn first_or_stop(&self) -> Option<Instant> {
        let due = self.due();
        let first = due.first_key_value().map(|((at, _), _)| *at);
        if first.is_none() {
            self.running.store(false, Ordering::Release);
        }
        first
    }
}

/// Clears `running` if the task is dropped unfinished (its runtime shut
/// down): the next session starts another. Disarmed (`None`) when the task
/// ends by itself, having cleared it under the map's lock already.
struct Running<'a>(Option<&'a Heartbeats>);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if let Some(heartbeats) = self.0 {
            heartbeats.running.store(false, Ordering::Release);
        }
    }
}

/// The task: sleeps until the first entry is due, attends to what is due,
/// and ends when nothing is left to time.
async fn run(heartbeats: Arc<Heartbeats>) {
    let mut running = Running(Some(&heartbeats));
    let sleep = tokio::time::sleep_until(Instant::now());
    tokio::pin!(sleep);
    loop {
        let moved = heartbeats.moved.notified();
        tokio::pin!(moved);
        moved.as_mut().enable();
        let Some(first) = heartbeats.first_or_stop() else {
            running.0 = None;
            return;
        };
        sleep.as_mut().reset(first);
        tokio::select! {
            biased;
            () = &mut moved => continue,
            () = &mut sleep => {}
        }
        let now = Instant::now();
        for (session, timed) in heartbeats.take_due(now) {
            if let Some(next) = heartbeats.attend(&session, timed, now) {
                heartbeats.time_again(session, next);
            }
        }
    }
}
