//! WebSocket framing (RFC 6455) and permessage-deflate (RFC 7692), with no
//! I/O: what the Rally server and client both read and write.
//!
//! - [`Reader`] turns received bytes into whole messages, keeping only an
//!   incomplete frame between reads, with the message size limit checked
//!   from each frame's header (before any payload is kept) and again after
//!   inflating.
//! - [`frame::write_header`] and [`frame::apply_mask`] write frames.
//! - [`deflate`] negotiates permessage-deflate and compresses or inflates
//!   one message at a time, with no state kept per connection.
//! - [`accept_key`] answers the opening handshake's key.
//!
//! Every error carries the close status the connection ends with.

mod arena;
pub mod deflate;
pub mod frame;
mod reader;

use std::fmt;

use base64::{Engine as _, engine::general_purpose::STANDARD};

pub use reader::{Incoming, Reader};

/// Which end of the connection a reader or writer is on: a server reads
/// masked frames and writes plain ones, a client the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The accepting side.
    Server,
    /// The connecting side.
    Client,
}

/// A close frame's status code (RFC 6455, section 7.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose of the connection is fulfilled.
    pub const NORMAL: Self = Self(1000);
    /// 1001: the endpoint is going away.
    pub const GOING_AWAY: Self = Self(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL: Self = Self(1002);
    /// 1007: data not consistent with its type (text that is not UTF-8,
    /// compressed data that does not inflate).
    pub const INVALID_DATA: Self = Self(1007);
    /// 1009: a message too big to process.
    pub const TOO_BIG: Self = Self(1009);
}

/// Why a connection must close, and with which status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} (close {})", code.0)]
pub struct WsError {
    code: CloseCode,
    what: &'static str,
}

impl WsError {
    /// An error closing with `code`, described by `what`.
    #[must_use]
    pub fn new(code: CloseCode, what: &'static str) -> Self {
        Self { code, what }
    }

    /// The status to close the connection with.
    #[must_use]
    pub fn code(&self) -> CloseCode {
        self.code
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The `Sec-WebSocket-Accept` value answering a `Sec-WebSocket-Key`.
///
/// ```
/// // The example of RFC 6455, section 1.3.
/// let accept = rally_proto::ws::accept_key(b"dGhlIHNhbXBsZSBub25jZQ==");
/// assert_eq!(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
#[must_use]
pub fn accept_key(key: &[u8]) -> String {
    const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key);
    sha.update(GUID);
    STANDARD.encode(sha.digest().bytes())
}
