use std::{
    fmt,
    ops::Deref,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use bytes::Bytes;
use rally_proto::{RawArgs, Str};

use crate::{Args, EmitError, Socket, encode::Encoded};

/// An event received from a client: its name, its arguments (kept as raw
/// JSON until you ask for a type) and its binary attachments.
///
/// The arguments are read with the methods of [`RawArgs`], which an `Event`
/// dereferences to (`arg`, `args`, `raw_arg`, `len`, `binary`, `to_args`,
/// `to_values`...): the same as on the client's events.
///
/// ```
/// # async fn handler(socket: std::sync::Arc<rally::Socket>, mut event: rally::Event) {
/// #[derive(serde::Deserialize)]
/// struct Chat { room: String, text: String }
///
/// if let Ok(chat) = event.arg::<Chat>(0) {
///     let _ = socket.to(chat.room.as_str()).emit("chat", &chat.text);
/// }
/// let _ = event.ack(&serde_json::json!({"ok": true}));
/// # }
/// ```
pub struct Event {
    pub(crate) name: Str,
    pub(crate) raw: RawArgs,
    pub(crate) ack: Option<AckSender>,
}

impl Event {
    /// The event's name.
    #[must_use]
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    /// Whether the client asked for an acknowledgement.
    #[must_use]
    pub fn wants_ack(&self) -> bool {
        self.ack.is_some()
    }

    /// Takes the acknowledgement, to answer later or elsewhere.
    pub fn take_ack(&mut self) -> Option<AckSender> {
        self.ack.take()
    }

    /// Answers the client's acknowledgement request with `args`; does
    /// nothing when the client asked for none or it was answered already.
    ///
    /// # Errors
    ///
    /// As for [`AckSender::send`].
    pub fn ack(&mut self, args: impl Into<Args>) -> Result<(), EmitError> {
        match self.ack.take() {
            Some(ack) => ack.send(args),
            None => Ok(()),
        }
    }

    /// Replaces the arguments (what a packet middleware does to change
    /// them before the listeners see the event).
    ///
    /// ```
    /// # fn setup(socket: &rally::Socket) {
    /// socket.use_middleware(|_socket, mut event| async move {
    ///     let text = event.arg::<String>(0).unwrap_or_default();
    ///     event.set_args(&text.trim().to_owned()).map_err(|e| rally::ConnectError::new(e.to_string()))?;
    ///     Ok(event)
    /// });
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`EmitError::Serialize`] when an argument does not serialize; the
    /// event is left unchanged.
    pub fn set_args(&mut self, args: impl Into<Args>) -> Result<(), EmitError> {
        let (json, attachments) = args.into().into_parts().map_err(EmitError::Serialize)?;
        let array = Str::from(format!("[{json}]"));
        let args = rally_proto::socket::split_array(&array)
            .map_err(|e| EmitError::Serialize(e.to_string()))?;
        self.raw = RawArgs::new(args, attachments);
        Ok(())
    }

    /// The event with an acknowledgement that its copies share: the first
    /// answer wins.
    pub(crate) fn shared(mut self) -> Event {
        if let Some(ack) = &mut self.ack {
            ack.answered = Some(Arc::new(AtomicBool::new(false)));
        }
        self
    }

    /// A copy, sharing the acknowledgement of a [`shared`](Self::shared)
    /// event.
    pub(crate) fn copy(&self) -> Event {
        Event {
            ack: self.ack.as_ref().map(|ack| AckSender {
                socket: ack.socket.clone(),
                id: ack.id,
                answered: ack.answered.clone(),
            }),
            ..self.without_ack()
        }
    }

    /// A copy without the acknowledgement (for the catch-all).
    pub(crate) fn without_ack(&self) -> Event {
        Event {
            name: self.name.clone(),
            raw: self.raw.clone(),
            ack: None,
        }
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("name", &self.name)
            .field("args", &self.raw)
            .field("ack", &self.ack.is_some())
            .finish()
    }
}

/// The right to answer one acknowledgement request, once.
///
/// When several listeners get the same event, each holds one and the
/// first answer wins: the others send nothing and return `Ok(())`.
pub struct AckSender {
    pub(crate) socket: Arc<Socket>,
    pub(crate) id: u64,
    /// Set by the first of several listeners to answer (`None` when this
    /// sender is the only one).
    pub(crate) answered: Option<Arc<AtomicBool>>,
}

impl AckSender {
    /// Sends the answer; does nothing when another listener of the same
    /// event answered first.
    ///
    /// # Errors
    ///
    /// [`EmitError::Serialize`] when an argument does not serialize,
    /// [`EmitError::Disconnected`] when the socket is gone.
    pub fn send(self, args: impl Into<Args>) -> Result<(), EmitError> {
        let args = args.into();
        if let Some(e) = args.error() {
            return Err(EmitError::Serialize(e.to_owned()));
        }
        if self
            .answered
            .as_ref()
            .is_some_and(|answered| answered.swap(true, Ordering::AcqRel))
        {
            return Ok(());
        }
        let packet = Encoded::ack(self.socket.ns().name(), self.id, &args);
        self.socket
            .send_owned(packet, crate::socket::Flags::DEFAULT)
    }
}

impl fmt::Debug for AckSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AckSender")
            .field("socket", &self.socket.id())
            .field("id", &self.id)
            .finish()
    }
}

/// An answer to an acknowledgement request the server made.
///
/// Its arguments are read with the methods of [`RawArgs`], which it
/// dereferences to, as on the client's answers.
///
/// ```
/// # async fn run(socket: std::sync::Arc<rally::Socket>) -> Result<(), rally::AckError> {
/// let reply = socket.emit_with_ack("add", (1, 2)).await?;
/// let sum: i64 = reply.arg(0).unwrap_or_default();
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AckReply {
    pub(crate) raw: RawArgs,
}

impl AckReply {
    /// An answer made of JSON values whose placeholders point into
    /// `attachments`: what a cluster adapter gets from another node.
    ///
    /// ```
    /// let reply = rally::AckReply::from_values(&[serde_json::json!("ok")], Vec::new());
    /// assert_eq!(reply.arg::<String>(0).unwrap(), "ok");
    /// assert_eq!(reply.to_args().json(), r#""ok""#);
    /// ```
    #[must_use]
    pub fn from_values(values: &[serde_json::Value], attachments: Vec<Bytes>) -> Self {
        Self {
            raw: RawArgs::from_values(values, attachments),
        }
    }
}

impl Deref for Event {
    type Target = RawArgs;

    fn deref(&self) -> &RawArgs {
        &self.raw
    }
}

impl Deref for AckReply {
    type Target = RawArgs;

    fn deref(&self) -> &RawArgs {
        &self.raw
    }
}

impl fmt::Debug for AckReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AckReply").field("args", &self.raw).finish()
    }
}
