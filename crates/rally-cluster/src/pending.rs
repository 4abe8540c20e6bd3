//! Requests this node made and waits answers for, by request id.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use rally::AdapterError;
use tokio::sync::mpsc;

use crate::Answer;

type Map = HashMap<String, mpsc::UnboundedSender<Answer>>;

/// The requests in flight.
#[derive(Default, Clone)]
pub(crate) struct Pending(Arc<Mutex<Map>>);

impl Pending {
    fn map(&self) -> std::sync::MutexGuard<'_, Map> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts waiting for answers to request `id`; they stop being taken
    /// when the returned [`Request`] is dropped.
    pub(crate) fn open(&self, id: String) -> Request {
        let (tx, rx) = mpsc::unbounded_channel();
        self.map().insert(id.clone(), tx);
        Request {
            id,
            rx,
            pending: self.clone(),
        }
    }

    /// Whether request `id` is one of ours.
    pub(crate) fn contains(&self, id: &str) -> bool {
        self.map().contains_key(id)
    }

    /// Hands an answer to the request waiting for it, if any.
    pub(crate) fn answer(&self, id: &str, answer: Answer) {
        if let Some(tx) = self.map().get(id) {
            let _ = tx.send(answer);
        }
    }
}

/// A request of this node, waiting for the other nodes' answers (they stop
/// being taken when it is dropped).
#[derive(Debug)]
pub struct Request {
    id: String,
    rx: mpsc::UnboundedReceiver<Answer>,
    pending: Pending,
}

impl Request {
    /// The request's id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The next answer; `None` once the request is forgotten.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: an answer is either returned or left for the next call.
    pub async fn recv(&mut self) -> Option<Answer> {
        self.rx.recv().await
    }

    /// Waits for `expected` answers that `keep` accepts, at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`AdapterError::Timeout`], saying how many answers are missing.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future forgets the request.
    pub async fn gather(
        mut self,
        expected: usize,
        timeout: Duration,
        operation: &'static str,
        keep: impl Fn(&Answer) -> bool,
    ) -> Result<Vec<Answer>, AdapterError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut answers = Vec::with_capacity(expected);
        while answers.len() < expected {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(answer)) if keep(&answer) => answers.push(answer),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => {
                    return Err(AdapterError::Timeout {
                        operation,
                        missing: expected - answers.len(),
                        expected,
                    });
                }
            }
        }
        Ok(answers)
    }
}

impl Drop for Request {
    fn drop(&mut self) {
        self.pending.map().remove(&self.id);
    }
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").finish_non_exhaustive()
    }
}
