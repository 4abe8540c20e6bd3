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
            // A server that closes the TCP connection without TLS's
            // close_notify (many do) ends the stream as a plain close would:
            // the layers above frame their own messages, so a cut one
            // still shows as such there.
            Self::Tls(s) => match Pin::new(s).poll_read(cx, buf) {
                Poll::Ready(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    Poll::Ready(Ok(()))
                }
                other => other,
            },
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

#[cfg(test)]
mod tests {
    use rally_testkit::{https::server_config, tls::TestCa};
    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpListener,
    };
    use tokio_rustls::TlsAcceptor;

    use super::*;
    use crate::{
        tls::{Tls, TrustOptions},
        url::ParsedUrl,
    };

    /// A server that sends a few bytes, then closes the TCP connection
    /// without TLS's close_notify: the client reads them, then the end.
    #[tokio::test]
    async fn a_close_without_close_notify_is_the_end() {
        let ca = TestCa::new("stream");
        let acceptor = TlsAcceptor::from(server_config(&ca.server_cert("server")));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut tls = acceptor.accept(tcp).await.unwrap();
            tls.write_all(b"hello").await.unwrap();
            tls.flush().await.unwrap();
            // Dropped without poll_shutdown: no close_notify.
        });
        let mut endpoint = ParsedUrl::parse(&format!("https://localhost:{port}"))
            .unwrap()
            .endpoint;
        let trust = TrustOptions {
            extra_roots: vec![ca.pem().into_bytes()],
            accept_invalid: false,
        };
        endpoint.tls = Some(Tls::new("localhost", &trust).unwrap());
        let mut stream = Stream::connect(&endpoint).await.unwrap();
        let mut read = Vec::new();
        stream.read_to_end(&mut read).await.unwrap();
        assert_eq!(read, b"hello");
    }
}
