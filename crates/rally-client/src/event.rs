//! What the server sends: events (maybe asking for an answer) and the
//! answers to our own events.

use std::{fmt, ops::Deref};

use bytes::Bytes;
use rally_proto::{
    RawArgs, Str,
    socket::{BinaryPacket, Packet, PacketType},
};
use tokio::sync::mpsc;

use crate::{Args, EmitError, driver::Command};

/// An event from the server: its name, its arguments (kept as raw JSON
/// until you ask for a type) and its binary attachments.
///
/// ```
/// # async fn handler(socket: rally_client::Socket, mut event: rally_client::Event) {
/// #[derive(serde::Deserialize)]
/// struct Chat { user: String, text: String }
///
/// if let Ok(chat) = event.arg::<Chat>(0) {
///     println!("{}: {}", chat.user, chat.text);
/// }
/// // Answers the server if it asked for an acknowledgement.
/// let _ = event.ack("thanks");
/// # }
/// ```
///
/// The arguments are read with the methods of [`RawArgs`], which an `Event`
/// dereferences to (`arg`, `args`, `raw_arg`, `len`, `binary`, `to_args`,
/// `to_values`...): the same as on the server's events.
///
/// When the server has connection state recovery on, each broadcast event
/// ends with an extra string argument, its offset, as in the official
/// client (which remembers it to resume from on reconnection).
pub struct Event {
    pub(crate) name: String,
    pub(crate) raw: RawArgs,
    pub(crate) ack: Option<AckSender>,
}

impl Event {
    /// The event's name.
    ///
    /// ```
    /// # fn handler(mut event: rally_client::Event) {
    /// println!("got {}", event.name());
    /// # }
    /// ```
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the server asked for an acknowledgement.
    ///
    /// ```
    /// # fn handler(event: rally_client::Event) {
    /// if event.wants_ack() {
    ///     println!("{} expects an answer", event.name());
    /// }
    /// # }
    /// ```
    #[must_use]
    pub fn wants_ack(&self) -> bool {
        self.ack.is_some()
    }

    /// Takes the acknowledgement, to answer later or elsewhere (see
    /// [`AckSender`]).
    ///
    /// ```
    /// # fn handler(mut event: rally_client::Event) {
    /// let ack = event.take_ack();
    /// assert!(!event.wants_ack());
    /// # }
    /// ```
    pub fn take_ack(&mut self) -> Option<AckSender> {
        self.ack.take()
    }

    /// Answers the server's acknowledgement request with `args`; does
    /// nothing when it asked for none or it was answered already.
    ///
    /// ```
    /// # fn handler(mut event: rally_client::Event) {
    /// let _ = event.ack(rally_client::Args::new().arg(&"ok").arg(&42));
    /// # }
    /// ```
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

    /// A copy without the acknowledgement (for the other handlers).
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

/// The right to answer one acknowledgement request of the server, once.
///
/// ```
/// # fn handler(mut event: rally_client::Event) {
/// if let Some(ack) = event.take_ack() {
///     tokio::spawn(async move {
///         // ... work ...
///         let _ = ack.send(&serde_json::json!({"ok": true}));
///     });
/// }
/// # }
/// ```
pub struct AckSender {
    pub(crate) commands: mpsc::UnboundedSender<Command>,
    pub(crate) nsp: Str,
    pub(crate) id: u64,
}

impl AckSender {
    /// Sends the answer. It is dropped if the socket disconnected since the
    /// request came.
    ///
    /// ```
    /// # fn handler(mut event: rally_client::Event) {
    /// if let Some(ack) = event.take_ack() {
    ///     let _ = ack.send(&"done");
    /// }
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`EmitError::Serialize`] when an argument does not serialize,
    /// [`EmitError::Closed`] when the manager is gone.
    pub fn send(self, args: impl Into<Args>) -> Result<(), EmitError> {
        let (json, attachments) = args.into().into_parts().map_err(EmitError::Serialize)?;
        let packet = Packet::new(PacketType::Ack, self.nsp)
            .with_id(self.id)
            .with_data(Str::from(format!("[{json}]")));
        self.commands
            .send(Command::Ack(BinaryPacket::new(packet, attachments)))
            .map_err(|_| EmitError::Closed)
    }
}

impl fmt::Debug for AckSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AckSender")
            .field("nsp", &self.nsp)
            .field("id", &self.id)
            .finish()
    }
}

/// The server's answer to an [`emit_with_ack`](crate::Socket::emit_with_ack):
/// its arguments and binary attachments.
///
/// ```
/// # async fn run(socket: rally_client::Socket) -> Result<(), Box<dyn std::error::Error>> {
/// let reply = socket.emit_with_ack("add", rally_client::Args::new().arg(&1).arg(&2)).await?;
/// let sum: i64 = reply.arg(0)?;
/// # Ok(()) }
/// ```
///
/// Its arguments are read with the methods of [`RawArgs`], which it
/// dereferences to, as on the server's answers.
#[derive(Clone)]
pub struct AckReply {
    pub(crate) raw: RawArgs,
}

impl AckReply {
    /// An answer made of JSON values whose placeholders point into
    /// `attachments` (to stand in for the server's in a test, say).
    ///
    /// ```
    /// let reply = rally_client::AckReply::from_values(&[serde_json::json!("ok")], Vec::new());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_with_binary() {
        let event = Event {
            name: "x".into(),
            raw: RawArgs::new(
                vec![r#"{"a":{"_placeholder":true,"num":0}}"#.into(), "2".into()],
                vec![Bytes::from_static(b"abc")],
            ),
            ack: None,
        };
        assert_eq!(
            event.to_values(|b| b.len().into()),
            [serde_json::json!({"a": 3}), serde_json::json!(2)]
        );
        let plain = AckReply {
            raw: RawArgs::new(vec![r#"{"_placeholder":true,"num":0}"#.into()], vec![]),
        };
        assert_eq!(
            plain.to_values(|_| serde_json::Value::Null),
            [serde_json::json!({"_placeholder": true, "num": 0})]
        );
    }
}
