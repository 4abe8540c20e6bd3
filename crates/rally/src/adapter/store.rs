//! The in-memory side of connection state recovery: the packet log and the
//! disconnected sessions of one namespace, bounded by time and by bytes.
//!
//! Offsets are `<tag>.<seq>`: a random tag per log (so an offset from
//! another log or an earlier process never matches) and a sequence number
//! counting up from 1. Because sequence numbers are contiguous, the log
//! knows exactly which packets it has let go (`dropped_through`): a client
//! whose offset is older than that may have missed one and is refused,
//! whichever rooms the dropped packets were for. Everything after a valid
//! offset is still here, so a recovered client misses nothing.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use rally_engine::{Sid, SidMap};

use super::{BroadcastOptions, MissedPacket, RestoredSession, SessionState};
use crate::{ConnectionStateRecovery, RecoveryLogSize, Room, encode::Encoded};

/// What one logged packet or kept session costs besides its bytes.
const OVERHEAD: usize = 64;

/// How many packets may wait for a restored socket between its restore and
/// its admission (while slow connect middlewares run): past this, it is
/// disconnected once admitted, as a client too slow for its queue, and
/// recovers again from its offset.
const MAX_HELD: usize = 4096;

struct Entry {
    seq: u64,
    at: Instant,
    rooms: Vec<Room>,
    except: Vec<Room>,
    packet: Encoded,
    bytes: usize,
}

struct Kept {
    session: SessionState,
    at: Instant,
    /// The last sequence number logged when it disconnected: the client's
    /// offset is at most this.
    last_seq: u64,
    bytes: usize,
}

/// A restored socket between its restore and its admission: what is
/// broadcast to its rooms meanwhile waits here.
pub(crate) struct Held {
    pub(crate) rooms: Vec<Room>,
    at: Instant,
    pub(crate) buffer: Vec<Encoded>,
    /// More than [`MAX_HELD`] came: the buffer was let go.
    pub(crate) overflowed: bool,
}

#[derive(Default)]
pub(crate) struct State {
    log: VecDeque<Entry>,
    last_seq: u64,
    /// Every sequence number up to this one has left the log.
    dropped_through: u64,
    sessions: HashMap<Arc<str>, Kept>,
    held: SidMap<Held>,
    bytes: usize,
}

/// One namespace's log and sessions.
pub(crate) struct Store {
    config: ConnectionStateRecovery,
    tag: String,
    state: Mutex<State>,
}

impl Store {
    pub(crate) fn new(config: ConnectionStateRecovery) -> Self {
        let tag = Sid::random().as_str()[..8].replace(['-', '_'], "x");
        Self {
            config,
            tag,
            state: Mutex::default(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn max_age(&self) -> Duration {
        self.config.max_disconnection_duration
    }

    fn offset(&self, seq: u64) -> String {
        format!("{}.{seq}", self.tag)
    }

    fn parse(&self, offset: &str) -> Option<u64> {
        let (tag, seq) = offset.split_once('.')?;
        (tag == self.tag).then(|| seq.parse().ok()).flatten()
    }

    /// Logs a packet: the caller holds the lock (`state`) until it has
    /// delivered it, so that every socket receives packets in log order.
    /// Returns the offset to append to it.
    pub(crate) fn next_offset(&self, state: &State) -> String {
        self.offset(state.last_seq + 1)
    }

    /// Logs `packet` (already carrying the offset [`next_offset`] gave),
    /// and hands it to restored sockets not admitted yet.
    pub(crate) fn append(&self, state: &mut State, opts: &BroadcastOptions, packet: &Encoded) {
        let now = Instant::now();
        state.last_seq += 1;
        for held in state.held.values_mut() {
            if held.overflowed || !includes(&held.rooms, opts) {
                continue;
            }
            if held.buffer.len() < MAX_HELD {
                held.buffer.push(packet.clone());
            } else {
                held.overflowed = true;
                held.buffer = Vec::new();
            }
        }
        let bytes =
            OVERHEAD + packet_bytes(packet) + rooms_bytes(&opts.rooms) + rooms_bytes(&opts.except);
        state.log.push_back(Entry {
            seq: state.last_seq,
            at: now,
            rooms: opts.rooms.clone(),
            except: opts.except.clone(),
            packet: packet.clone(),
            bytes,
        });
        state.bytes += bytes;
        self.prune(state, now);
    }

    /// Keeps a session; refused (dropped) when it would pass the cap.
    pub(crate) fn persist(&self, session: SessionState) {
        let now = Instant::now();
        let mut state = self.lock();
        self.prune(&mut state, now);
        let bytes = OVERHEAD
            + session.pid.len()
            + rooms_bytes(&session.rooms)
            + serde_json::to_string(&session.data).map_or(0, |s| s.len());
        if state.bytes + bytes > self.config.max_log_bytes {
            tracing::debug!(sid = %session.sid, "recovery store full: session not kept");
            return;
        }
        state.bytes += bytes;
        let kept = Kept {
            last_seq: state.last_seq,
            session,
            at: now,
            bytes,
        };
        if let Some(old) = state.sessions.insert(kept.session.pid.clone(), kept) {
            state.bytes -= old.bytes;
        }
    }

    /// Gives session `pid` back with what it missed after `offset`, and
    /// holds what comes for it until [`take_held`](Self::take_held).
    pub(crate) fn restore(&self, pid: &str, offset: &str) -> Option<RestoredSession> {
        let now = Instant::now();
        let mut state = self.lock();
        self.prune(&mut state, now);
        let kept = state.sessions.remove(pid)?;
        state.bytes -= kept.bytes;
        let seq = self.parse(offset)?;
        if seq < state.dropped_through || seq > kept.last_seq {
            return None;
        }
        let session = kept.session;
        let first = state.log.front().map_or(state.last_seq + 1, |e| e.seq);
        let skip = usize::try_from((seq + 1).saturating_sub(first)).unwrap_or(usize::MAX);
        let missed = state
            .log
            .iter()
            .skip(skip)
            .filter(|e| {
                includes(
                    &session.rooms,
                    &BroadcastOptions {
                        rooms: e.rooms.clone(),
                        except: e.except.clone(),
                        ..BroadcastOptions::default()
                    },
                )
            })
            .map(|e| MissedPacket(e.packet.clone()))
            .collect();
        state.held.insert(
            session.sid,
            Held {
                rooms: session.rooms.clone(),
                at: now,
                buffer: Vec::new(),
                overflowed: false,
            },
        );
        Some(RestoredSession::new(session, missed))
    }

    /// What was broadcast to a restored socket between its restore and its
    /// admission (the caller holds the lock while it delivers it).
    pub(crate) fn take_held(state: &mut State, sid: Sid) -> Option<Held> {
        state.held.remove(&sid)
    }

    /// Drops what is older than `maxDisconnectionDuration`, then the oldest
    /// packets while over the cap, then the sessions that lost a packet.
    pub(crate) fn prune(&self, state: &mut State, now: Instant) {
        let max_age = self.config.max_disconnection_duration;
        let expired = |at: Instant| now.saturating_duration_since(at) > max_age;
        let mut dropped = false;
        while let Some(entry) = state.log.front() {
            if !expired(entry.at) && state.bytes <= self.config.max_log_bytes {
                break;
            }
            state.dropped_through = entry.seq;
            state.bytes -= entry.bytes;
            state.log.pop_front();
            dropped = true;
        }
        let dropped_through = state.dropped_through;
        let mut freed = 0;
        state.sessions.retain(|_, kept| {
            // A client's offset is at most `last_seq`; below
            // `dropped_through` it may have missed a packet now gone.
            let keep = !expired(kept.at) && (!dropped || kept.last_seq >= dropped_through);
            if !keep {
                freed += kept.bytes;
            }
            keep
        });
        state.bytes -= freed;
        state.held.retain(|_, held| !expired(held.at));
    }

    pub(crate) fn size(&self) -> RecoveryLogSize {
        let state = self.lock();
        RecoveryLogSize::new(state.log.len(), state.sessions.len(), state.bytes)
    }
}

/// The reference's `shouldIncludePacket`: in one of the target rooms (or
/// no rooms named), in none of the excluded ones.
fn includes(session_rooms: &[Room], opts: &BroadcastOptions) -> bool {
    let included = opts.rooms.is_empty() || session_rooms.iter().any(|r| opts.rooms.contains(r));
    included && !session_rooms.iter().any(|r| opts.except.contains(r))
}

fn packet_bytes(packet: &Encoded) -> usize {
    let text = match &packet.text {
        rally_engine::Frame::Text(s) => s.len(),
        rally_engine::Frame::Binary(b) => b.len(),
    };
    text + packet.attachments.iter().map(|b| b.len()).sum::<usize>()
}

fn rooms_bytes(rooms: &[Room]) -> usize {
    rooms.iter().map(|r| r.len() + 16).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Args;

    fn store(cap: usize) -> Store {
        Store::new(ConnectionStateRecovery::default().max_log_bytes(cap))
    }

    fn log(store: &Store, room: &str, n: usize) -> Vec<String> {
        let opts = BroadcastOptions {
            rooms: vec![Room::from(room)],
            ..BroadcastOptions::default()
        };
        (0..n)
            .map(|i| {
                let mut state = store.lock();
                let offset = store.next_offset(&state);
                let args = Args::new().arg(&i).arg(&offset);
                store.append(&mut state, &opts, &Encoded::event("/", None, "e", &args));
                offset
            })
            .collect()
    }

    fn session(pid: &str, rooms: &[&str]) -> SessionState {
        SessionState::new(
            Sid::random(),
            Arc::from(pid),
            rooms.iter().map(|r| Room::from(*r)).collect(),
            serde_json::json!({"k": 1}),
        )
    }

    fn text(p: &MissedPacket) -> String {
        match &p.0.text {
            rally_engine::Frame::Text(s) => s.to_string(),
            rally_engine::Frame::Binary(_) => String::new(),
        }
    }

    #[test]
    fn replays_after_the_offset_for_the_rooms() {
        let s = store(1 << 20);
        let first = log(&s, "a", 2);
        s.persist(session("p", &["a"]));
        let later = log(&s, "a", 2);
        log(&s, "b", 1);
        let restored = s.restore("p", &first[1]).expect("restored");
        let missed: Vec<String> = restored.missed.iter().map(text).collect();
        assert_eq!(
            missed,
            [
                format!(r#"42["e",0,"{}"]"#, later[0]),
                format!(r#"42["e",1,"{}"]"#, later[1])
            ]
        );
        assert_eq!(restored.session.data, serde_json::json!({"k": 1}));
        // Once only.
        assert!(s.restore("p", &first[1]).is_none());
    }

    #[test]
    fn refuses_unknown_offsets() {
        let s = store(1 << 20);
        let offsets = log(&s, "a", 1);
        for bad in ["x.1", "nonsense", "", &format!("{}.99", s.tag)] {
            s.persist(session("p", &["a"]));
            assert!(s.restore("p", bad).is_none(), "{bad}");
        }
        s.persist(session("p", &["a"]));
        assert!(s.restore("p", &offsets[0]).is_some());
        assert!(s.restore("unknown", &offsets[0]).is_none());
    }

    #[test]
    fn the_cap_drops_the_oldest_and_refuses_who_missed_them() {
        let cap = 4096;
        let s = store(cap);
        let first = log(&s, "a", 1);
        s.persist(session("p", &["a"]));
        s.persist(session("q", &["a"]));
        // Far more than fits: the log stays under the cap all along.
        for _ in 0..200 {
            log(&s, "b", 1);
            assert!(s.size().bytes <= cap, "{:?}", s.size());
        }
        let size = s.size();
        assert!(size.entries > 0 && size.entries < 200, "{size:?}");
        // Both sessions may have missed a dropped packet: gone.
        assert_eq!(size.sessions, 0);
        assert!(s.restore("p", &first[0]).is_none());
        // A session too big for the cap is not kept.
        let big = SessionState::new(
            Sid::random(),
            Arc::from("big"),
            Vec::new(),
            serde_json::json!("x".repeat(cap)),
        );
        s.persist(big);
        assert_eq!(s.size().sessions, 0);
        assert!(s.size().bytes <= cap);
    }

    #[test]
    fn holds_what_comes_until_admission_within_a_bound() {
        let s = store(1 << 30);
        let first = log(&s, "a", 1);
        s.persist(session("p", &["a"]));
        let sid = s.restore("p", &first[0]).expect("restored").session.sid;
        log(&s, "a", 2);
        log(&s, "b", 1);
        let held = Store::take_held(&mut s.lock(), sid).expect("held");
        assert_eq!((held.buffer.len(), held.overflowed), (2, false));
        assert!(Store::take_held(&mut s.lock(), sid).is_none());

        let last = log(&s, "a", 1);
        s.persist(session("q", &["a"]));
        let sid = s.restore("q", &last[0]).expect("restored").session.sid;
        log(&s, "a", MAX_HELD + 1);
        let held = Store::take_held(&mut s.lock(), sid).expect("held");
        assert!(held.overflowed && held.buffer.is_empty());
    }

    #[test]
    fn time_prunes_everything() {
        let s = Store::new(
            ConnectionStateRecovery::default().max_disconnection_duration(Duration::ZERO),
        );
        let offsets = log(&s, "a", 3);
        s.persist(session("p", &["a"]));
        let mut state = s.lock();
        s.prune(&mut state, Instant::now() + Duration::from_millis(1));
        assert!(state.log.is_empty() && state.sessions.is_empty());
        assert_eq!(state.bytes, 0);
        drop(state);
        assert!(s.restore("p", &offsets[2]).is_none());
    }
}
