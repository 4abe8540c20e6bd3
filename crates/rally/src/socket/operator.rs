//! Emits to one socket with flags: `volatile`, `compress`, `timeout`.

use std::time::Duration;

use super::Socket;
use crate::{AckError, AckReply, Args, EmitError};

/// A socket and the flags of the emits made through it, as the reference's
/// `socket.volatile.timeout(5000).emit(...)` chains; made by
/// [`Socket::volatile`], [`Socket::compress`] or [`Socket::timeout`].
///
/// ```
/// use std::time::Duration;
///
/// # async fn f(socket: &rally::Socket) -> Result<(), Box<dyn std::error::Error>> {
/// // Dropped rather than queued when the client cannot take it now.
/// socket.volatile().emit("position", (3, 4))?;
/// // Fails with `AckError::Timeout` when no answer comes in time.
/// let reply = socket.timeout(Duration::from_secs(5)).emit_with_ack("ready?", ()).await?;
/// # let _ = reply; Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct SocketOperator<'a> {
    socket: &'a Socket,
    volatile: bool,
    compress: bool,
    timeout: Option<Duration>,
}

/// The former name of [`SocketOperator`], what [`Socket::timeout`] made.
pub type TimedSocket<'a> = SocketOperator<'a>;

impl<'a> SocketOperator<'a> {
    pub(super) fn new(socket: &'a Socket) -> Self {
        Self {
            socket,
            volatile: false,
            compress: true,
            timeout: None,
        }
    }

    /// The emits may be dropped: when the socket's outgoing queue is full,
    /// a volatile packet is left out instead of the client being
    /// disconnected as too slow (the reference's `socket.volatile`).
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }

    /// Sets the compress flag (the reference's `socket.compress`; on by
    /// default). It is kept for ports from Node but changes nothing yet:
    /// long-polling bodies are compressed by size alone (`httpCompression`),
    /// with or without it.
    pub fn compress(mut self, compress: bool) -> Self {
        self.compress = compress;
        self
    }

    /// The compress flag set so far.
    #[must_use]
    pub fn is_compressed(&self) -> bool {
        self.compress
    }

    /// How long [`emit_with_ack`](Self::emit_with_ack) waits for the
    /// answer before failing with [`AckError::Timeout`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// As [`Socket::emit`], with these flags.
    ///
    /// # Errors
    ///
    /// As for [`Socket::emit`]; a volatile packet dropped for a full queue
    /// is not an error.
    pub fn emit(&self, event: &str, args: impl Into<Args>) -> Result<(), EmitError> {
        self.socket.emit_flagged(event, args.into(), self.volatile)
    }

    /// As [`Socket::emit_with_ack`], with these flags: with a
    /// [`timeout`](Self::timeout), it fails with [`AckError::Timeout`]
    /// when no answer comes in time.
    ///
    /// # Errors
    ///
    /// [`AckError::Timeout`], [`AckError::Disconnected`], or the emit's own error.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future forgets the request.
    pub async fn emit_with_ack(
        &self,
        event: &str,
        args: impl Into<Args>,
    ) -> Result<AckReply, AckError> {
        self.socket
            .emit_with_ack_timeout(event, args.into(), self.timeout, self.volatile)
            .await
    }
}
