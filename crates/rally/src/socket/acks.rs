//! The acknowledgements a socket waits for.

use std::{collections::HashMap, sync::MutexGuard};

use tokio::sync::oneshot;

use super::{PendingAck, Socket};
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

    pub(super) fn acks(&self) -> MutexGuard<'_, HashMap<u64, PendingAck>> {
        self.acks.lock().unwrap_or_else(|e| e.into_inner())
    }
}
