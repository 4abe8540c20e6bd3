//! The acknowledgements a socket waits for.

use std::{hash::Hasher, sync::MutexGuard};

use tokio::sync::oneshot;

use super::{PendingAcks, Socket};
use crate::{AckError, AckReply};

impl Socket {
    /// Waits for the ack `id`, unless `max_pending_acks` are due already.
    pub(crate) fn register_ack(
        &self,
        id: u64,
    ) -> Result<oneshot::Receiver<Result<AckReply, AckError>>, AckError> {
        let mut acks = self.acks();
        if acks.len() >= self.client.config().max_pending_acks {
            return Err(AckError::TooManyPending);
        }
        let (tx, rx) = oneshot::channel();
        acks.insert(id, tx);
        Ok(rx)
    }

    pub(crate) fn forget_ack(&self, id: u64) {
        self.acks().remove(&id);
    }

    /// Hands an ACK from the client to whoever waits for it; unknown or
    /// repeated ids are ignored.
    pub(crate) fn on_ack(&self, id: u64, reply: AckReply) {
        if let Some(tx) = self.acks().remove(&id) {
            let _ = tx.send(Ok(reply));
        }
    }

    pub(super) fn acks(&self) -> MutexGuard<'_, PendingAcks> {
        self.acks.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Hashes ack ids. The server picks them in sequence and a client cannot
/// add one, so there is nothing to randomize: a multiplication by an odd
/// constant spreads consecutive ids over the table. Being zero-sized, it
/// keeps the socket 16 bytes smaller than the default hasher would.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct AckIdHasher(u64);

impl Hasher for AckIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(self.0.rotate_left(8) ^ u64::from(byte));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}
