//! The retry queue of the `retries` option: a socket's emits go out one at
//! a time, each with an acknowledgement, and each is sent again until the
//! server answers or its tries run out (at-least-once delivery, in order).

use std::{collections::VecDeque, time::Duration};

use rally_proto::socket::BinaryPacket;
use tokio::time::Instant;

use crate::{
    AckError, AckReply,
    ack::{AckTx, Acks},
};

/// The emits of one socket waiting for their delivery, first in line first.
#[derive(Debug)]
pub(crate) struct Queue {
    /// How many times an emit is sent again after a failed try.
    retries: u32,
    items: VecDeque<Queued>,
}

/// One emit in the queue.
#[derive(Debug)]
struct Queued {
    /// The EVENT packet, without its ack id (each try gets a new one).
    packet: BinaryPacket,
    /// The caller's end, for an emit that wants the answer.
    ack: Option<AckTx>,
    /// The time limit of each try.
    timeout: Option<Duration>,
    /// Tries made so far.
    tries: u32,
    /// The ack id of the try waiting for its answer.
    in_flight: Option<u64>,
}

impl Queue {
    pub(crate) fn new(retries: u32) -> Self {
        Self {
            retries,
            items: VecDeque::new(),
        }
    }

    /// Adds an emit at the end of the line.
    pub(crate) fn push(
        &mut self,
        packet: BinaryPacket,
        ack: Option<AckTx>,
        timeout: Option<Duration>,
    ) {
        self.items.push_back(Queued {
            packet,
            ack,
            timeout,
            tries: 0,
            in_flight: None,
        });
    }

    /// The next try of the first emit, unless one is in flight: its
    /// acknowledgement is registered in `acks`, with its deadline.
    pub(crate) fn next_try(&mut self, acks: &mut Acks, now: Instant) -> Option<BinaryPacket> {
        let head = self.items.front_mut()?;
        if head.in_flight.is_some() {
            return None;
        }
        head.tries += 1;
        let id = acks.insert_queued(head.timeout.map(|t| now + t));
        head.in_flight = Some(id);
        let mut packet = head.packet.clone();
        packet.packet.id = Some(id);
        Some(packet)
    }

    /// The outcome of try `id`. An answer completes the first emit; a
    /// failure does once `retries` tries after the first are spent (its
    /// caller then gets that failure), else the emit waits for its next
    /// try. An outcome of an older try is ignored.
    pub(crate) fn done(&mut self, id: u64, result: Result<AckReply, AckError>) {
        let Some(head) = self.items.front_mut() else {
            return;
        };
        if head.in_flight != Some(id) {
            return;
        }
        head.in_flight = None;
        if result.is_err() && head.tries <= self.retries {
            return;
        }
        if let Some(tx) = self.items.pop_front().and_then(|q| q.ack) {
            let _ = tx.send(result);
        }
    }

    /// Fails the try in flight if its deadline passed (its id is among
    /// `expired`).
    pub(crate) fn expired(&mut self, expired: &[u64]) {
        if let Some(id) = self.items.front().and_then(|q| q.in_flight) {
            if expired.contains(&id) {
                self.done(id, Err(AckError::Timeout));
            }
        }
    }

    /// The connection is lost: the try in flight gets no answer. As in the
    /// official client, with a time limit this is a failed try (which may
    /// be the last); without, the try is simply made again on the next
    /// connection.
    pub(crate) fn disconnected(&mut self, acks: &mut Acks) {
        let Some(head) = self.items.front_mut() else {
            return;
        };
        let Some(id) = head.in_flight else {
            return;
        };
        acks.forget(id);
        if head.timeout.is_some() {
            self.done(id, Err(AckError::Disconnected));
        } else {
            head.in_flight = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use rally_proto::{
        RawArgs,
        socket::{Packet, PacketType},
    };
    use tokio::sync::oneshot;

    use super::*;

    fn packet(n: u8) -> BinaryPacket {
        let packet =
            Packet::new(PacketType::Event, "/".into()).with_data(format!("[\"e\",{n}]").into());
        BinaryPacket::new(packet, Vec::new())
    }

    fn reply() -> AckReply {
        AckReply {
            raw: RawArgs::default(),
        }
    }

    #[test]
    fn one_in_flight_retried_then_given_up() {
        let (mut queue, mut acks, now) = (Queue::new(2), Acks::default(), Instant::now());
        let (tx, mut rx) = oneshot::channel();
        queue.push(packet(1), Some(tx), Some(Duration::from_millis(5)));
        queue.push(packet(2), None, Some(Duration::from_millis(5)));
        let first = queue.next_try(&mut acks, now).unwrap();
        assert_eq!(first.packet.id, Some(0));
        assert!(queue.next_try(&mut acks, now).is_none(), "one at a time");
        // Three tries in all (the first and two retries), each with a new id.
        for id in [0, 1, 2] {
            assert_eq!(acks.expire(now + Duration::from_millis(5)), [id]);
            queue.expired(&[id]);
            let next = queue.next_try(&mut acks, now).unwrap();
            if id < 2 {
                assert_eq!(next.packet.id, Some(id + 1));
                assert_eq!(next.packet.data, first.packet.data);
            } else {
                assert_eq!(next.packet.data.as_deref(), Some("[\"e\",2]"));
            }
        }
        assert_eq!(rx.try_recv().unwrap().unwrap_err(), AckError::Timeout);
    }

    #[test]
    fn answers_complete_and_stale_ones_are_ignored() {
        let (mut queue, mut acks, now) = (Queue::new(1), Acks::default(), Instant::now());
        let (tx, mut rx) = oneshot::channel();
        queue.push(packet(1), Some(tx), None);
        let id = queue.next_try(&mut acks, now).unwrap().packet.id.unwrap();
        queue.done(id + 7, Ok(reply()));
        assert!(rx.try_recv().is_err());
        // Lost without a time limit: not a failed try, sent again.
        queue.disconnected(&mut acks);
        let again = queue.next_try(&mut acks, now).unwrap().packet.id.unwrap();
        queue.done(id, Ok(reply()));
        assert!(rx.try_recv().is_err());
        queue.done(again, Ok(reply()));
        assert!(rx.try_recv().unwrap().is_ok());
        assert!(queue.next_try(&mut acks, now).is_none());
    }

    #[test]
    fn a_lost_connection_is_a_failed_try_with_a_time_limit() {
        let (mut queue, mut acks, now) = (Queue::new(0), Acks::default(), Instant::now());
        let (tx, mut rx) = oneshot::channel();
        queue.push(packet(1), Some(tx), Some(Duration::from_secs(1)));
        queue.next_try(&mut acks, now).unwrap();
        queue.disconnected(&mut acks);
        assert_eq!(rx.try_recv().unwrap().unwrap_err(), AckError::Disconnected);
        assert_eq!(acks.next_deadline(), None);
    }
}
