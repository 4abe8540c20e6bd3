//! Events between the servers of a cluster (the reference's
//! `serverSideEmit`).

use std::fmt;

use serde::{Serialize, de::DeserializeOwned};
use tokio::sync::oneshot;

/// An event another node of the cluster sent with
/// [`Namespace::server_side_emit`](crate::Namespace::server_side_emit), as
/// [`Namespace::on_server_event`](crate::Namespace::on_server_event)
/// handlers see it.
///
/// ```
/// # fn setup(io: &rally::Server) {
/// io.of("/").on_server_event("hello", |mut event| async move {
///     let who: String = event.arg(0).unwrap_or_default();
///     event.ack(&format!("hello, {who}"));
/// });
/// # }
/// ```
pub struct ServerEvent {
    name: String,
    args: Vec<serde_json::Value>,
    ack: Option<oneshot::Sender<serde_json::Value>>,
}

impl ServerEvent {
    /// The event made of `data` (its name, then its arguments), as the
    /// reference sends it; `ack` takes the answer when the sender waits for
    /// one. `None` when `data` does not start with a name.
    ///
    /// Plumbing for cluster adapters such as `rally-redis`, hidden from the
    /// documentation: applications receive these events, they do not make
    /// them.
    #[doc(hidden)]
    #[must_use]
    pub fn new(
        mut data: Vec<serde_json::Value>,
        ack: Option<oneshot::Sender<serde_json::Value>>,
    ) -> Option<Self> {
        if !data.first().is_some_and(serde_json::Value::is_string) {
            return None;
        }
        let serde_json::Value::String(name) = data.remove(0) else {
            return None;
        };
        Some(Self {
            name,
            args: data,
            ack,
        })
    }

    /// The event's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its arguments.
    #[must_use]
    pub fn args(&self) -> &[serde_json::Value] {
        &self.args
    }

    /// Argument `index` as a `T`.
    ///
    /// # Errors
    ///
    /// When there is no such argument or it does not deserialize into `T`.
    pub fn arg<T: DeserializeOwned>(&self, index: usize) -> Result<T, serde_json::Error> {
        T::deserialize(self.args.get(index).unwrap_or(&serde_json::Value::Null))
    }

    /// Whether the sender waits for an answer.
    #[must_use]
    pub fn has_ack(&self) -> bool {
        self.ack.is_some()
    }

    /// Answers the sender (once; later calls, or a value that does not
    /// serialize, are ignored).
    pub fn ack<T: Serialize + ?Sized>(&mut self, value: &T) {
        if let (Some(ack), Ok(value)) = (self.ack.take(), serde_json::to_value(value)) {
            let _ = ack.send(value);
        }
    }
}

impl fmt::Debug for ServerEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerEvent")
            .field("name", &self.name)
            .field("args", &self.args)
            .field("ack", &self.ack.is_some())
            .finish()
    }
}
