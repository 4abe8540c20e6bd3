//! Serving over TLS: the handshake in each connection's own task, then
//! HTTP/2 or HTTP/1.1 as the client chose through ALPN.

use std::{future::Future, io, net::SocketAddr, pin::pin, time::Duration};

use http::{Request, Response};
use http_body::Body;
use hyper::{
    body::Incoming,
    server::conn::{http1, http2},
};
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
};
use tokio_rustls::TlsAcceptor;
use tower_service::Service;

use crate::{RemoteAddr, Secure, engine::BoxError, tls::Tls};

/// The first byte of a TLS record carrying a handshake message.
const TLS_HANDSHAKE: u8 = 0x16;

/// How long an HTTP/2 connection may be silent before the server checks
/// that its peer is still there.
const H2_PING_INTERVAL: Duration = Duration::from_secs(30);

/// The answer to a client that speaks plain HTTP to the TLS port.
const PLAIN_HTTP_REPLY: &[u8] = b"HTTP/1.1 400 Bad Request\r\n\
content-type: text/plain; charset=utf-8\r\n\
content-length: 44\r\n\
connection: close\r\n\
\r\n\
this port speaks HTTPS: use an https:// URL\n";

/// As [`serve`](crate::serve), over TLS: each accepted connection completes
/// its TLS handshake (in a task of its own, within
/// [`Tls::handshake_timeout`]) and is then served over HTTP/2 when the client
/// chose `h2` through ALPN (long-polling), over HTTP/1.1 with upgrades
/// otherwise (long-polling and WebSocket).
///
/// Each request gets the [`RemoteAddr`] and [`Secure`] extensions (the
/// session's handshake then says `secure`). A client that sends plain HTTP
/// gets a `400` telling it to use `https://`, and the connection is closed.
///
/// ```no_run
/// use rally_engine::tls::{ReloadableCert, Tls};
///
/// # async fn run(engine: rally_engine::EngineIo<impl rally_engine::Handler>) -> Result<(), Box<dyn std::error::Error>> {
/// let tls = Tls::from_resolver(ReloadableCert::from_pem_files("cert.pem", "key.pem")?);
/// let listener = tokio::net::TcpListener::bind("0.0.0.0:443").await?;
/// rally_engine::serve_tls(listener, tls, engine).await?;
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// As for [`serve`](crate::serve).
pub async fn serve_tls<S, B>(listener: TcpListener, tls: Tls, service: S) -> io::Result<()>
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    serve_tls_with_shutdown(listener, tls, service, std::future::pending()).await
}

/// As [`serve_tls`], until `shutdown` resolves, as
/// [`serve_with_shutdown`](crate::serve_with_shutdown): connections still
/// in their TLS handshake are dropped, HTTP/2 connections are sent a
/// GOAWAY and finish the requests they have started.
///
/// # Errors
///
/// As for [`serve`](crate::serve).
pub async fn serve_tls_with_shutdown<S, B, F>(
    listener: TcpListener,
    tls: Tls,
    service: S,
    shutdown: F,
) -> io::Result<()>
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
    F: Future<Output = ()>,
{
    super::run(listener, shutdown, move |stream, addr, stopping| {
        tls_connection(
            stream,
            addr,
            tls.clone(),
            TowerToHyperService::new(service.clone()),
            stopping,
        )
    })
    .await
}

/// Completes the TLS handshake of one connection, then serves it until it
/// ends or, once `stopping` changes, until its current requests are
/// answered.
async fn tls_connection<S, B>(
    stream: TcpStream,
    addr: SocketAddr,
    tls: Tls,
    service: TowerToHyperService<S>,
    mut stopping: watch::Receiver<bool>,
) where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let acceptor = TlsAcceptor::from(tls.config.clone());
    let handshake = async move {
        let mut first = [0; 1];
        stream.peek(&mut first).await?;
        if first[0] != TLS_HANDSHAKE {
            refuse_plain_http(&stream);
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not a TLS handshake (plain HTTP?)",
            ));
        }
        acceptor.accept(stream).await
    };
    let stream = tokio::select! {
        shaken = tokio::time::timeout(tls.handshake_timeout, handshake) => match shaken {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                tls.count_failure();
                tracing::debug!(error = %e, %addr, "tls handshake failed");
                return;
            }
            Err(_) => {
                tls.count_failure();
                tracing::debug!(%addr, "tls handshake timed out");
                return;
            }
        },
        _ = stopping.changed() => return,
    };
    let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(RemoteAddr(addr));
        req.extensions_mut().insert(Secure);
        hyper::service::Service::call(&service, req)
    });
    let io = TokioIo::new(stream);
    let result = if h2 {
        let mut connection = pin!(
            http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                // An idle HTTP/2 connection has no request to time out: a
                // peer gone without a word is found by a PING it does not
                // answer (hyper waits 20 s for the answer).
                .keep_alive_interval(Some(H2_PING_INTERVAL))
                .serve_connection(io, service)
        );
        tokio::select! {
            result = connection.as_mut() => result,
            _ = stopping.changed() => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        }
    } else {
        let mut connection = pin!(
            http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(io, service)
                .with_upgrades()
        );
        tokio::select! {
            result = connection.as_mut() => result,
            _ = stopping.changed() => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, %addr, h2, "tls connection ended with an error");
    }
}

/// Answers a client that sent plain HTTP to the TLS port with a `400`,
/// without waiting: what it sent is read first (so that closing sends a
/// FIN, not a reset that could destroy the answer), then the answer is
/// written into the empty send buffer.
fn refuse_plain_http(stream: &TcpStream) {
    let mut sink = [0; 1024];
    while matches!(stream.try_read(&mut sink), Ok(n) if n > 0) {}
    let _ = stream.try_write(PLAIN_HTTP_REPLY);
}
