//! Requests this node made and waits answers for, by request id.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use rally::AdapterError;
use tokio::sync::mpsc;

use crate::Answer;

/// An answer, with the node it came from when the transport knows it.
type Reply = (Option<String>, Answer);
type Map = HashMap<String, mpsc::UnboundedSender<Reply>>;

/// How often a request waiting for named nodes checks that they are still
/// there.
const RECHECK: Duration = Duration::from_millis(100);

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

    /// Hands node `from`'s answer to the request waiting for it, if any.
    pub(crate) fn answer(&self, id: &str, from: Option<String>, answer: Answer) {
        if let Some(tx) = self.map().get(id) {
            let _ = tx.send((from, answer));
        }
    }
}

/// A request of this node, waiting for the other nodes' answers (they stop
/// being taken when it is dropped).
#[derive(Debug)]
pub struct Request {
    id: String,
    rx: mpsc::UnboundedReceiver<Reply>,
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
        self.rx.recv().await.map(|(_, answer)| answer)
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
                Ok(Some((_, answer))) if keep(&answer) => answers.push(answer),
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

impl Request {
    /// Waits for an answer that `keep` accepts from each node of `waiting`,
    /// at most `timeout`; a node that `knows` no longer knows is not waited
    /// for (socket.io-adapter's `ClusterAdapterWithHeartbeat`).
    pub(crate) async fn gather_from(
        mut self,
        mut waiting: HashSet<String>,
        knows: impl Fn(&str) -> bool,
        timeout: Duration,
        operation: &'static str,
        keep: impl Fn(&Answer) -> bool,
    ) -> Result<Vec<Answer>, AdapterError> {
        let expected = waiting.len();
        let deadline = tokio::time::Instant::now() + timeout;
        let mut answers = Vec::with_capacity(expected);
        loop {
            waiting.retain(|uid| knows(uid));
            if waiting.is_empty() {
                return Ok(answers);
            }
            let wake = deadline.min(tokio::time::Instant::now() + RECHECK);
            match tokio::time::timeout_at(wake, self.rx.recv()).await {
                Ok(Some((from, answer))) if keep(&answer) => {
                    if let Some(from) = from {
                        waiting.remove(&from);
                    }
                    answers.push(answer);
                }
                Ok(Some(_)) => {}
                Err(_) if tokio::time::Instant::now() < deadline => {}
                Ok(None) | Err(_) => {
                    return Err(AdapterError::Timeout {
                        operation,
                        missing: waiting.len(),
                        expected,
                    });
                }
            }
        }
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_node_that_goes_away_is_not_waited_for() {
        let pending = Pending::default();
        let request = pending.open("r1".to_owned());
        pending.answer("r1", Some("a".to_owned()), Answer::Value(1.into()));
        pending.answer("other", Some("b".to_owned()), Answer::Value(2.into()));
        let b_gone = AtomicBool::new(false);
        let waiting: HashSet<String> = ["a".to_owned(), "b".to_owned()].into();
        let knows = |uid: &str| uid != "b" || !b_gone.load(Ordering::Relaxed);
        let gather = request.gather_from(waiting, knows, Duration::from_secs(30), "t", |_| true);
        let gone = async {
            tokio::task::yield_now().await;
            b_gone.store(true, Ordering::Relaxed);
        };
        let (answers, ()) = tokio::join!(gather, gone);
        let answers = answers.unwrap();
        assert_eq!(answers.len(), 1);
        assert!(!pending.contains("r1"), "forgotten once answered");
    }

    #[tokio::test]
    async fn missing_nodes_time_out() {
        let pending = Pending::default();
        let request = pending.open("r1".to_owned());
        let waiting: HashSet<String> = ["a".to_owned()].into();
        let err = request
            .gather_from(
                waiting,
                |_| true,
                Duration::from_millis(10),
                "fetchSockets",
                |_| true,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                AdapterError::Timeout {
                    missing: 1,
                    expected: 1,
                    ..
                }
            ),
            "{err}"
        );
    }
}
