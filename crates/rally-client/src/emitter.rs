//! Emitting with flags (a timeout, volatile), and the answer to come.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use rally_proto::socket::{BinaryPacket, Packet, PacketType, event_array, is_reserved_event};
use tokio::sync::oneshot;

use crate::{
    AckError, AckReply, Args, EmitError, Socket,
    driver::{Command, Emit},
};

/// An emit with flags: a [`timeout`](Socket::timeout) on the answer, or
/// [`volatile`](Socket::volatile).
///
/// ```
/// # async fn run(socket: rally_client::Socket) {
/// let answer = socket
///     .volatile()
///     .timeout(std::time::Duration::from_secs(1))
///     .emit_with_ack("status", ())
///     .await;
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct Emitter<'a> {
    pub(crate) socket: &'a Socket,
    pub(crate) timeout: Option<Duration>,
    pub(crate) volatile: bool,
}

impl Emitter<'_> {
    /// Sets the time limit on the answer.
    ///
    /// ```
    /// # fn run(socket: rally_client::Socket) {
    /// let pending = socket.volatile().timeout(std::time::Duration::from_secs(1)).emit_with_ack("ping", ());
    /// # }
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Makes the emit volatile: dropped while not connected.
    ///
    /// ```
    /// # fn run(socket: rally_client::Socket) {
    /// let _ = socket.timeout(std::time::Duration::from_secs(1)).volatile().emit("cursor", &[1, 2]);
    /// # }
    /// ```
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }

    /// Emits `event` with `args` (see [`Socket::emit`]).
    ///
    /// ```
    /// # fn run(socket: rally_client::Socket) {
    /// let _ = socket.volatile().emit("position", &[3, 4]);
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`Socket::emit`].
    pub fn emit(self, event: &str, args: impl Into<Args>) -> Result<(), EmitError> {
        self.send(event, args.into(), None)
    }

    /// Emits `event` with `args` and waits for the answer (see
    /// [`Socket::emit_with_ack`]).
    ///
    /// ```
    /// # async fn run(socket: rally_client::Socket) -> Result<(), Box<dyn std::error::Error>> {
    /// let reply = socket
    ///     .timeout(std::time::Duration::from_secs(2))
    ///     .emit_with_ack("status", ())
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`Socket::emit_with_ack`], and [`AckError::Timeout`] past
    /// the timeout.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the answer, not the event.
    #[doc(alias = "emitWithAck")]
    pub fn emit_with_ack(self, event: &str, args: impl Into<Args>) -> AckFuture {
        let (tx, rx) = oneshot::channel();
        AckFuture {
            answer: match self.send(event, args.into(), Some(tx)) {
                Ok(()) => Ok(rx),
                Err(e) => Err(Some(e)),
            },
        }
    }

    fn send(
        self,
        event: &str,
        args: Args,
        ack: Option<oneshot::Sender<Result<AckReply, AckError>>>,
    ) -> Result<(), EmitError> {
        if is_reserved_event(event) {
            return Err(EmitError::Reserved(event.to_owned()));
        }
        let (json, attachments) = args.into_parts().map_err(EmitError::Serialize)?;
        let data = if json.is_empty() {
            event_array(event, &[] as &[&str])
        } else {
            event_array(event, &[json])
        };
        let packet =
            Packet::new(PacketType::Event, self.socket.inner.nsp.clone()).with_data(data.into());
        let emit = Emit {
            socket: self.socket.inner.clone(),
            packet: BinaryPacket::new(packet, attachments),
            ack,
            timeout: self.timeout,
            volatile: self.volatile,
        };
        self.socket
            .manager
            .commands
            .send(Command::Emit(emit))
            .map_err(|_| EmitError::Closed)
    }
}

/// The answer to an [`emit_with_ack`](Socket::emit_with_ack): a future
/// that resolves when the server answers (or the emit failed, timed out, or
/// the socket disconnected). The event went out (or was buffered) when it
/// was made; dropping it drops only the answer.
///
/// ```
/// # async fn run(socket: rally_client::Socket) {
/// let pending = socket.emit_with_ack("ping", ()); // sent now
/// // ... other work ...
/// let answer = pending.await;
/// # }
/// ```
#[derive(Debug)]
pub struct AckFuture {
    answer: Result<oneshot::Receiver<Result<AckReply, AckError>>, Option<EmitError>>,
}

impl Future for AckFuture {
    type Output = Result<AckReply, AckError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.answer {
            Ok(rx) => Pin::new(rx)
                .poll(cx)
                .map(|r| r.unwrap_or(Err(AckError::Disconnected))),
            Err(e) => Poll::Ready(Err(e.take().map_or(AckError::Disconnected, AckError::Emit))),
        }
    }
}
