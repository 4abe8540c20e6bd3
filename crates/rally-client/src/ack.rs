//! The acknowledgements a socket waits for: ids, deadlines, answers.

use std::collections::{BTreeSet, HashMap};

use tokio::{sync::oneshot, time::Instant};

use crate::{AckError, AckReply};

/// Where the answer to one emit goes.
pub(crate) type AckTx = oneshot::Sender<Result<AckReply, AckError>>;

/// Who waits for an answer: the caller of an emit, or the socket's retry
/// queue (which decides what the caller gets).
#[derive(Debug)]
enum Waiter {
    Caller(AckTx),
    Queue,
}

/// The acknowledgements one socket waits for, by ack id.
///
/// Ids count up from 0 per socket, as in the official client. An answer
/// that comes after the deadline, or twice, finds nothing and is ignored.
#[derive(Debug, Default)]
pub(crate) struct Acks {
    next_id: u64,
    pending: HashMap<u64, (Waiter, Option<Instant>)>,
    deadlines: BTreeSet<(Instant, u64)>,
}

impl Acks {
    /// Registers `tx` under a new id, with an optional deadline.
    pub(crate) fn insert(&mut self, tx: AckTx, deadline: Option<Instant>) -> u64 {
        self.insert_waiter(Waiter::Caller(tx), deadline)
    }

    /// Registers a try of the retry queue under a new id: its answer is
    /// given back by [`resolve`](Self::resolve), not sent anywhere.
    pub(crate) fn insert_queued(&mut self, deadline: Option<Instant>) -> u64 {
        self.insert_waiter(Waiter::Queue, deadline)
    }

    fn insert_waiter(&mut self, waiter: Waiter, deadline: Option<Instant>) -> u64 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        if let Some(at) = deadline {
            self.deadlines.insert((at, id));
        }
        self.pending.insert(id, (waiter, deadline));
        id
    }

    /// Delivers the answer to `id`, if it is still awaited; gives it back
    /// when the retry queue awaits it.
    #[must_use]
    pub(crate) fn resolve(
        &mut self,
        id: u64,
        result: Result<AckReply, AckError>,
    ) -> Option<Result<AckReply, AckError>> {
        let (waiter, deadline) = self.pending.remove(&id)?;
        if let Some(at) = deadline {
            self.deadlines.remove(&(at, id));
        }
        match waiter {
            Waiter::Caller(tx) => {
                let _ = tx.send(result);
                None
            }
            Waiter::Queue => Some(result),
        }
    }

    /// Stops waiting for `id` (a queue's try whose connection is gone).
    pub(crate) fn forget(&mut self, id: u64) {
        if let Some((_, Some(at))) = self.pending.remove(&id) {
            self.deadlines.remove(&(at, id));
        }
    }

    /// The earliest deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|&(at, _)| at)
    }

    /// Fails every acknowledgement whose deadline passed with
    /// [`AckError::Timeout`] (a queue's try is only removed); returns their
    /// ids.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<u64> {
        let mut expired = Vec::new();
        while let Some(&(at, id)) = self.deadlines.first() {
            if at > now {
                break;
            }
            self.deadlines.pop_first();
            if let Some((Waiter::Caller(tx), _)) = self.pending.remove(&id) {
                let _ = tx.send(Err(AckError::Timeout));
            }
            expired.push(id);
        }
        expired
    }

    /// Fails with [`AckError::Disconnected`] every acknowledgement whose
    /// event was sent (the ones still buffered wait for the next
    /// connection), as the official client does on a disconnection.
    pub(crate) fn disconnect(&mut self, buffered: impl Fn(u64) -> bool) {
        let sent: Vec<u64> = self
            .pending
            .keys()
            .copied()
            .filter(|&id| !buffered(id))
            .collect();
        for id in sent {
            // The queue's try was forgotten before, by the queue.
            let _ = self.resolve(id, Err(AckError::Disconnected));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rally_proto::RawArgs;

    use super::*;

    fn reply() -> AckReply {
        AckReply {
            raw: RawArgs::new(vec!["1".into()], Vec::new()),
        }
    }

    #[test]
    fn ids_count_up_and_answers_arrive_once() {
        let mut acks = Acks::default();
        let (tx0, mut rx0) = oneshot::channel();
        let (tx1, mut rx1) = oneshot::channel();
        assert_eq!(acks.insert(tx0, None), 0);
        assert_eq!(acks.insert(tx1, None), 1);
        assert!(acks.resolve(1, Ok(reply())).is_none());
        assert!(acks.resolve(1, Err(AckError::Timeout)).is_none());
        assert_eq!(rx1.try_recv().unwrap().unwrap().len(), 1);
        assert!(rx0.try_recv().is_err());
    }

    #[test]
    fn deadlines_expire_in_order() {
        let mut acks = Acks::default();
        let now = Instant::now();
        let (tx0, mut rx0) = oneshot::channel();
        let (tx1, mut rx1) = oneshot::channel();
        acks.insert(tx0, Some(now + Duration::from_millis(20)));
        acks.insert(tx1, Some(now + Duration::from_millis(10)));
        assert_eq!(acks.next_deadline(), Some(now + Duration::from_millis(10)));
        assert_eq!(acks.expire(now + Duration::from_millis(15)), [1]);
        assert_eq!(rx1.try_recv().unwrap().unwrap_err(), AckError::Timeout);
        assert!(rx0.try_recv().is_err());
        assert!(acks.resolve(0, Ok(reply())).is_none());
        assert_eq!(acks.next_deadline(), None);
        assert!(rx0.try_recv().unwrap().is_ok());
    }

    #[test]
    fn the_queue_gets_its_answers_back() {
        let mut acks = Acks::default();
        let now = Instant::now();
        let id = acks.insert_queued(Some(now + Duration::from_millis(10)));
        assert!(acks.resolve(id, Ok(reply())).unwrap().is_ok());
        let id = acks.insert_queued(Some(now + Duration::from_millis(10)));
        assert_eq!(acks.expire(now + Duration::from_millis(10)), [id]);
        assert!(acks.resolve(id, Ok(reply())).is_none());
        let id = acks.insert_queued(Some(now));
        acks.forget(id);
        assert_eq!(acks.next_deadline(), None);
    }

    #[test]
    fn a_disconnection_fails_the_sent_ones_only() {
        let mut acks = Acks::default();
        let (tx0, mut rx0) = oneshot::channel();
        let (tx1, mut rx1) = oneshot::channel();
        acks.insert(tx0, None);
        acks.insert(tx1, None);
        acks.disconnect(|id| id == 1);
        assert_eq!(rx0.try_recv().unwrap().unwrap_err(), AckError::Disconnected);
        assert!(rx1.try_recv().is_err());
    }
}
