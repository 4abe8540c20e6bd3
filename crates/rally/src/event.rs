use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use bytes::Bytes;
use rally_proto::Str;
use serde::de::DeserializeOwned;

use crate::{Args, EmitError, Socket, encode::Encoded};

/// An event received from a client: its name, its arguments (kept as raw
/// JSON until you ask for a type) and its binary attachments.
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
    pub(crate) args: Vec<Str>,
    pub(crate) attachments: Vec<Bytes>,
    pub(crate) ack: Option<AckSender>,
}

impl Event {
    /// The event's name.
    #[must_use]
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    /// How many arguments came with it.
    #[must_use]
    pub fn len(&self) -> usize {
        self.args.len()
    }

    /// Whether it came without arguments.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.args.is_empty()
    }

    /// Argument `index` as a `T`; [`Binary`](crate::Binary) fields read
    /// their attachments.
    ///
    /// # Errors
    ///
    /// When there is no such argument or it does not deserialize into `T`.
    pub fn arg<T: DeserializeOwned>(&self, index: usize) -> Result<T, serde_json::Error> {
        let raw = self.args.get(index).map_or("null", |s| s.as_str());
        rally_proto::read_attachments(&self.attachments, || serde_json::from_str(raw))
    }

    /// All the arguments as one `T`, read from the JSON array they form
    /// (a tuple such as `(String, u32)` takes two).
    ///
    /// # Errors
    ///
    /// When the arguments do not deserialize into `T`.
    pub fn args<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        let json = self.args_json();
        rally_proto::read_attachments(&self.attachments, || serde_json::from_str(&json))
    }

    /// The raw JSON text of argument `index`.
    #[must_use]
    pub fn raw_arg(&self, index: usize) -> Option<&str> {
        self.args.get(index).map(Str::as_str)
    }

    /// The binary attachments, in the order of their placeholders
    /// (`{"_placeholder":true,"num":N}` in the JSON).
    #[must_use]
    pub fn binary(&self) -> &[Bytes] {
        &self.attachments
    }

    /// The arguments as they came, binary included, ready to be emitted
    /// again unchanged.
    #[must_use]
    pub fn to_args(&self) -> Args {
        relay(&self.args, &self.attachments)
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
        self.args = rally_proto::socket::split_array(&array)
            .map_err(|e| EmitError::Serialize(e.to_string()))?;
        self.attachments = attachments;
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
            args: self.args.clone(),
            attachments: self.attachments.clone(),
            ack: None,
        }
    }

    fn args_json(&self) -> String {
        let mut json = String::from("[");
        for (i, arg) in self.args.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            json.push_str(arg);
        }
        json.push(']');
        json
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("name", &self.name)
            .field("args", &self.args)
            .field("attachments", &self.attachments.len())
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
        self.socket.send_encoded(&packet, false)
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
#[derive(Clone)]
pub struct AckReply {
    pub(crate) args: Vec<Str>,
    pub(crate) attachments: Vec<Bytes>,
}

impl AckReply {
    /// Argument `index` of the answer as a `T`.
    ///
    /// # Errors
    ///
    /// When there is no such argument or it does not deserialize into `T`.
    pub fn arg<T: DeserializeOwned>(&self, index: usize) -> Result<T, serde_json::Error> {
        let raw = self.args.get(index).map_or("null", |s| s.as_str());
        rally_proto::read_attachments(&self.attachments, || serde_json::from_str(raw))
    }

    /// The raw JSON text of argument `index` of the answer.
    #[must_use]
    pub fn raw_arg(&self, index: usize) -> Option<&str> {
        self.args.get(index).map(Str::as_str)
    }

    /// How many arguments the answer has.
    #[must_use]
    pub fn len(&self) -> usize {
        self.args.len()
    }

    /// Whether the answer has no arguments.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.args.is_empty()
    }

    /// The binary attachments of the answer.
    #[must_use]
    pub fn binary(&self) -> &[Bytes] {
        &self.attachments
    }

    /// The answer's arguments as they came, binary included, ready to be
    /// emitted or acknowledged again unchanged.
    ///
    /// ```
    /// let reply = rally::AckReply::from_values(&[serde_json::json!("ok"), serde_json::json!(2)], Vec::new());
    /// assert_eq!(reply.to_args().json(), r#""ok",2"#);
    /// ```
    #[must_use]
    pub fn to_args(&self) -> Args {
        relay(&self.args, &self.attachments)
    }

    /// An answer made of JSON values whose placeholders point into
    /// `attachments`: what a cluster adapter gets from another node.
    ///
    /// ```
    /// let reply = rally::AckReply::from_values(&[serde_json::json!("ok")], Vec::new());
    /// assert_eq!(reply.arg::<String>(0).unwrap(), "ok");
    /// ```
    #[must_use]
    pub fn from_values(values: &[serde_json::Value], attachments: Vec<Bytes>) -> Self {
        Self {
            args: values.iter().map(|v| Str::from(v.to_string())).collect(),
            attachments,
        }
    }
}

/// Raw arguments and their attachments as [`Args`] to send again.
fn relay(args: &[Str], attachments: &[Bytes]) -> Args {
    let json = args.iter().map(Str::as_str).collect::<Vec<_>>().join(",");
    Args::raw_relay(&json, args.len(), attachments.to_vec())
}

impl fmt::Debug for AckReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AckReply")
            .field("args", &self.args)
            .finish_non_exhaustive()
    }
}
