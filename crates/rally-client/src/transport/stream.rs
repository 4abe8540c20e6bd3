//! The byte stream both transports ride on: plain TCP, or TLS over TCP for
//! `https://` and `wss://`.

use std::{
    io::IoSlice,
    pin::Pin,
    task::{Context, Poll},
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
};
use tokio_rustls::client::TlsStream;

use crate::{TransportError, url::Endpoint};

/// A connection to the server.
#[derive(Debug)]
pub(crate) enum Stream {
    /// `http://`, `ws://`.
    Plain(TcpStream),
    /// `https://`, `wss://` (boxed: the TLS state is large, and a plain
    /// connection should not carry its size).
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    /// Opens a TCP connection to the endpoint, with `TCP_NODELAY`, and runs
    /// the TLS handshake on it when the endpoint is secure.
    pub(crate) async fn connect(endpoint: &Endpoint) -> Result<Self, TransportError> {
        let tcp = TcpStream::connect((endpoint.host.as_str(), endpoint.port)).await?;
        let _ = tcp.set_nodelay(true);
        match &endpoint.tls {
            None => Ok(Self::Plain(tcp)),
            Some(tls) => Ok(Self::Tls(Box::new(tls.handshake(tcp).await?))),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Self::Tls(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(s) => s.is_write_vectored(),
            Self::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
