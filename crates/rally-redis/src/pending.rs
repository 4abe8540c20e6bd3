//! Requests this node made and waits answers for, by request id.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use rally::AdapterError;
use tokio::sync::mpsc;

use crate::wire::Incoming;

type Map = HashMap<String, mpsc::UnboundedSender<Incoming>>;

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
    pub(crate) fn answer(&self, id: &str, answer: Incoming) {
        if let Some(tx) = self.map().get(id) {
            let _ = tx.send(answer);
        }
    }

    /// Hands a response of the cluster protocol (its request id in
    /// `data.requestId`) to the request waiting for it, if any.
    pub(crate) fn answer_response(&self, response: Incoming) {
        let id = response
            .get("data")
            .and_then(|d| d.get("requestId"))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned);
        if let Some(id) = id {
            self.answer(&id, response);
        }
    }
}

/// A request waiting for answers.
pub(crate) struct Request {
    pub(crate) id: String,
    pub(crate) rx: mpsc::UnboundedReceiver<Incoming>,
    pending: Pending,
}

impl Request {
    /// Waits for `expected` answers that `keep` accepts, at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`AdapterError::Timeout`], saying how many answers are missing.
    pub(crate) async fn gather(
        mut self,
        expected: usize,
        timeout: Duration,
        operation: &'static str,
        keep: impl Fn(&Incoming) -> bool,
    ) -> Result<Vec<Incoming>, AdapterError> {
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
