//! Emitting to one socket: events, events with an acknowledgement, and the
//! queueing of encoded packets.

use std::{sync::atomic::Ordering, time::Duration};

use super::{DISCONNECTED, Flags, Socket, SocketOperator, check};
#[cfg(doc)]
use crate::client::Client;
use crate::{
    AckError, AckReply, Args, EmitError, Room,
    adapter::{BroadcastOptions, BroadcastPacket},
    encode::Encoded,
};

impl Socket {
    /// Sends an event to this client.
    ///
    /// ```
    /// # fn f(socket: &rally::Socket) -> Result<(), rally::EmitError> {
    /// socket.emit("hello", &"world")?;
    /// // Two arguments, as `socket.emit("pair", 1, 2)` in Node.
    /// socket.emit("pair", (1, 2))?;
    /// socket.emit("pair", rally::Args::new().arg(&1).arg(&2))?;
    /// // One argument, the array `[1,2]`.
    /// socket.emit("list", &[1, 2])?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`EmitError::Reserved`] for a reserved name, [`EmitError::Serialize`]
    /// for an argument that does not serialize, [`EmitError::Disconnected`]
    /// when the socket is gone.
    pub fn emit(&self, event: &str, args: impl Into<Args>) -> Result<(), EmitError> {
        self.emit_flagged(event, args.into(), Flags::DEFAULT)
    }

    /// Emits, dropping the packet when `volatile` and the queue is full.
    pub(super) fn emit_flagged(
        &self,
        event: &str,
        args: Args,
        flags: Flags,
    ) -> Result<(), EmitError> {
        let args = check(event, args)?;
        if self.pid.is_some() && self.connected() {
            // As the reference: with recovery on, an emit to one socket
            // goes through the adapter, which gives it an offset and logs
            // it for a reconnection.
            let opts = BroadcastOptions {
                rooms: vec![Room::from(self.id.as_str())],
                volatile: flags.volatile,
                compress: flags.compress,
                ..BroadcastOptions::default()
            };
            let packet = BroadcastPacket::new(self.ns.name(), event, args, None);
            self.ns.adapter().broadcast(&packet, &opts);
            return Ok(());
        }
        self.ns.outgoing(self, event, &args);
        self.send_owned(Encoded::event(self.ns.name(), None, event, &args), flags)
    }

    /// Sends an event and waits for the client's acknowledgement, without a
    /// time limit (see [`timeout`](Self::timeout)).
    ///
    /// # Errors
    ///
    /// [`AckError::Disconnected`] when the socket leaves first, or the
    /// emit's own error.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future forgets the request; a late answer is ignored.
    pub async fn emit_with_ack(
        &self,
        event: &str,
        args: impl Into<Args>,
    ) -> Result<AckReply, AckError> {
        self.emit_with_ack_timeout(event, args.into(), None, Flags::DEFAULT)
            .await
    }

    /// A handle whose acknowledged emits fail with [`AckError::Timeout`]
    /// after `timeout` (the reference's `socket.timeout`).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # async fn f(socket: &rally::Socket) {
    /// match socket.timeout(Duration::from_secs(5)).emit_with_ack("ready?", ()).await {
    ///     Ok(reply) => println!("answered {:?}", reply.raw_arg(0)),
    ///     Err(rally::AckError::Timeout) => println!("no answer"),
    ///     Err(e) => println!("{e}"),
    /// }
    /// # }
    /// ```
    pub fn timeout(&self, timeout: Duration) -> SocketOperator<'_> {
        SocketOperator::new(self).timeout(timeout)
    }

    /// A handle whose emits may be dropped: when the socket's outgoing
    /// queue is full, a volatile packet is left out instead of the client
    /// being disconnected as too slow (the reference's `socket.volatile`).
    ///
    /// ```
    /// # fn f(socket: &rally::Socket) {
    /// let _ = socket.volatile().emit("position", (3, 4));
    /// # }
    /// ```
    pub fn volatile(&self) -> SocketOperator<'_> {
        SocketOperator::new(self).volatile()
    }

    /// A handle with the compress flag set (the reference's
    /// `socket.compress`): with `false`, its emits go out uncompressed even
    /// on a WebSocket that agreed on permessage-deflate.
    ///
    /// ```
    /// # fn f(socket: &rally::Socket) {
    /// let _ = socket.compress(false).emit("raw", &"already compressed");
    /// # }
    /// ```
    pub fn compress(&self, compress: bool) -> SocketOperator<'_> {
        SocketOperator::new(self).compress(compress)
    }

    pub(super) async fn emit_with_ack_timeout(
        &self,
        event: &str,
        args: Args,
        timeout: Option<Duration>,
        flags: Flags,
    ) -> Result<AckReply, AckError> {
        let args = check(event, args)?;
        let id = self.ns.next_ack_id();
        let rx = self.register_ack(id)?;
        self.ns.outgoing(self, event, &args);
        if let Err(e) = self.send_owned(
            Encoded::event(self.ns.name(), Some(id), event, &args),
            flags,
        ) {
            self.acks().remove(&id);
            return Err(e.into());
        }
        let reply = match timeout {
            Some(t) => match tokio::time::timeout(t, rx).await {
                Ok(reply) => reply,
                Err(_) => {
                    self.acks().remove(&id);
                    return Err(AckError::Timeout);
                }
            },
            None => rx.await,
        };
        reply.unwrap_or(Err(AckError::Disconnected))
    }

    /// Queues an encoded packet. A full queue drops a volatile packet and
    /// disconnects a client too slow for any other.
    pub(crate) fn send_encoded(&self, packet: &Encoded, flags: Flags) -> Result<(), EmitError> {
        // Emits from a connect middleware go out before the CONNECT reply,
        // as the reference's do.
        if self.state.load(Ordering::Acquire) == DISCONNECTED {
            return Err(EmitError::Disconnected);
        }
        self.client.send(packet, flags)
    }

    /// [`send_encoded`](Self::send_encoded) for a packet this socket alone
    /// gets (an emit to it, an ack): its frames are moved, not shared.
    pub(crate) fn send_owned(&self, packet: Encoded, flags: Flags) -> Result<(), EmitError> {
        if self.state.load(Ordering::Acquire) == DISCONNECTED {
            return Err(EmitError::Disconnected);
        }
        self.client.send_owned(packet, flags)
    }

    /// Queues a logged packet without acting on a full queue: false when
    /// the client is too slow (see [`Client::queue`]).
    pub(crate) fn queue_encoded(&self, packet: &Encoded, compress: bool) -> bool {
        self.state.load(Ordering::Acquire) == DISCONNECTED || self.client.queue(packet, compress)
    }
}
