//! What the server sends: events (maybe asking for an answer) and the
//! answers to our own events.

use std::fmt;

use bytes::Bytes;
use rally_proto::{
    Str,
    socket::{BinaryPacket, Packet, PacketType, replace_placeholders},
};
use serde::de::DeserializeOwned;
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
/// When the server has connection state recovery on, each broadcast event
/// ends with an extra string argument, its offset, as in the official
/// client (which remembers it to resume from on reconnection).
pub struct Event {
    pub(crate) name: String,
    pub(crate) args: Vec<Str>,
    pub(crate) attachments: Vec<Bytes>,
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

    /// How many arguments came with it.
    ///
    /// ```
    /// # fn handler(event: rally_client::Event) {
    /// for i in 0..event.len() {
    ///     println!("{i}: {:?}", event.raw_arg(i));
    /// }
    /// # }
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.args.len()
    }

    /// Whether it came without arguments.
    ///
    /// ```
    /// # fn handler(event: rally_client::Event) {
    /// if event.is_empty() {
    ///     println!("{} without arguments", event.name());
    /// }
    /// # }
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.args.is_empty()
    }

    /// Argument `index` as a `T`; [`Binary`](crate::Binary) values read
    /// their attachments. A missing argument reads as `null`.
    ///
    /// ```
    /// # fn handler(event: rally_client::Event) {
    /// let room: String = event.arg(0).unwrap_or_default();
    /// let count: Option<u32> = event.arg(1).ok();
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// When the argument does not deserialize into `T`.
    pub fn arg<T: DeserializeOwned>(&self, index: usize) -> Result<T, serde_json::Error> {
        read_arg(&self.args, &self.attachments, index)
    }

    /// All the arguments as one `T`, read from the JSON array they form (a
    /// tuple such as `(String, u32)` takes two).
    ///
    /// ```
    /// # fn handler(event: rally_client::Event) {
    /// if let Ok((x, y)) = event.args::<(i32, i32)>() {
    ///     println!("moved to {x},{y}");
    /// }
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// When the arguments do not deserialize into `T`.
    pub fn args<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        read_all(&self.args, &self.attachments)
    }

    /// The raw JSON text of argument `index`.
    ///
    /// ```
    /// # fn handler(event: rally_client::Event) {
    /// let json: &str = event.raw_arg(0).unwrap_or("null");
    /// # }
    /// ```
    #[must_use]
    pub fn raw_arg(&self, index: usize) -> Option<&str> {
        self.args.get(index).map(Str::as_str)
    }

    /// The binary attachments, in the order of their placeholders
    /// (`{"_placeholder":true,"num":N}` in the raw JSON).
    ///
    /// ```
    /// # fn handler(event: rally_client::Event) {
    /// let total: usize = event.binary().iter().map(|b| b.len()).sum();
    /// # }
    /// ```
    #[must_use]
    pub fn binary(&self) -> &[Bytes] {
        &self.attachments
    }

    /// The arguments as JSON values, each binary attachment replaced by
    /// what `binary` makes of its bytes (placeholders are replaced only in
    /// packets that came with attachments, as the official parser does).
    ///
    /// ```
    /// # fn handler(event: rally_client::Event) {
    /// // Binary arguments as their length.
    /// let values = event.to_values(|bytes| bytes.len().into());
    /// # }
    /// ```
    #[must_use]
    pub fn to_values(
        &self,
        binary: impl FnMut(&Bytes) -> serde_json::Value,
    ) -> Vec<serde_json::Value> {
        to_values(&self.args, &self.attachments, binary)
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
            args: self.args.clone(),
            attachments: self.attachments.clone(),
            ack: None,
        }
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
#[derive(Clone)]
pub struct AckReply {
    pub(crate) args: Vec<Str>,
    pub(crate) attachments: Vec<Bytes>,
}

impl AckReply {
    /// Argument `index` as a `T`; a missing argument reads as `null`.
    ///
    /// ```
    /// # fn handler(reply: rally_client::AckReply) {
    /// let ok: bool = reply.arg(0).unwrap_or(false);
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// When the argument does not deserialize into `T`.
    pub fn arg<T: DeserializeOwned>(&self, index: usize) -> Result<T, serde_json::Error> {
        read_arg(&self.args, &self.attachments, index)
    }

    /// All the arguments as one `T`, read from the JSON array they form.
    ///
    /// ```
    /// # fn handler(reply: rally_client::AckReply) {
    /// let (status, detail): (u16, String) = reply.args().unwrap_or_default();
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// When the arguments do not deserialize into `T`.
    pub fn args<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        read_all(&self.args, &self.attachments)
    }

    /// The raw JSON text of argument `index`.
    ///
    /// ```
    /// # fn handler(reply: rally_client::AckReply) {
    /// println!("{}", reply.raw_arg(0).unwrap_or("no answer"));
    /// # }
    /// ```
    #[must_use]
    pub fn raw_arg(&self, index: usize) -> Option<&str> {
        self.args.get(index).map(Str::as_str)
    }

    /// How many arguments came.
    ///
    /// ```
    /// # fn handler(reply: rally_client::AckReply) {
    /// println!("{} values", reply.len());
    /// # }
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.args.len()
    }

    /// Whether none came.
    ///
    /// ```
    /// # fn handler(reply: rally_client::AckReply) {
    /// assert!(reply.is_empty() || reply.raw_arg(0).is_some());
    /// # }
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.args.is_empty()
    }

    /// The binary attachments, in the order of their placeholders.
    ///
    /// ```
    /// # fn handler(reply: rally_client::AckReply) {
    /// if let Some(first) = reply.binary().first() {
    ///     println!("{} bytes", first.len());
    /// }
    /// # }
    /// ```
    #[must_use]
    pub fn binary(&self) -> &[Bytes] {
        &self.attachments
    }

    /// The arguments as JSON values, each binary attachment replaced by
    /// what `binary` makes of its bytes (see [`Event::to_values`]).
    ///
    /// ```
    /// # fn handler(reply: rally_client::AckReply) {
    /// let values = reply.to_values(|bytes| bytes.len().into());
    /// # }
    /// ```
    #[must_use]
    pub fn to_values(
        &self,
        binary: impl FnMut(&Bytes) -> serde_json::Value,
    ) -> Vec<serde_json::Value> {
        to_values(&self.args, &self.attachments, binary)
    }
}

impl fmt::Debug for AckReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AckReply")
            .field("args", &self.args)
            .field("attachments", &self.attachments.len())
            .finish()
    }
}

fn read_arg<T: DeserializeOwned>(
    args: &[Str],
    attachments: &[Bytes],
    index: usize,
) -> Result<T, serde_json::Error> {
    let raw = args.get(index).map_or("null", Str::as_str);
    rally_proto::read_attachments(attachments, || serde_json::from_str(raw))
}

fn read_all<T: DeserializeOwned>(
    args: &[Str],
    attachments: &[Bytes],
) -> Result<T, serde_json::Error> {
    let mut json = String::from("[");
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push_str(arg);
    }
    json.push(']');
    rally_proto::read_attachments(attachments, || serde_json::from_str(&json))
}

fn to_values(
    args: &[Str],
    attachments: &[Bytes],
    mut binary: impl FnMut(&Bytes) -> serde_json::Value,
) -> Vec<serde_json::Value> {
    args.iter()
        .map(|raw| {
            let mut value = serde_json::from_str(raw).unwrap_or_default();
            if !attachments.is_empty() {
                // The assembler checked every placeholder: this cannot fail.
                let _ = replace_placeholders(&mut value, attachments, &mut binary);
            }
            value
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_with_binary() {
        let event = Event {
            name: "x".into(),
            args: vec![r#"{"a":{"_placeholder":true,"num":0}}"#.into(), "2".into()],
            attachments: vec![Bytes::from_static(b"abc")],
            ack: None,
        };
        assert_eq!(
            event.to_values(|b| b.len().into()),
            [serde_json::json!({"a": 3}), serde_json::json!(2)]
        );
        let plain = AckReply {
            args: vec![r#"{"_placeholder":true,"num":0}"#.into()],
            attachments: vec![],
        };
        assert_eq!(
            plain.to_values(|_| serde_json::Value::Null),
            [serde_json::json!({"_placeholder": true, "num": 0})]
        );
    }
}
