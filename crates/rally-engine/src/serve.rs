use std::{future::Future, io, net::SocketAddr, pin::pin, time::Duration};

use http::{Request, Response};
use http_body::Body;
use hyper::{body::Incoming, server::conn::http1 as hyper_http1};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
    task::{JoinHandle, JoinSet},
};
use tower_service::Service;

use crate::{RemoteAddr, engine::BoxError};

mod body;
mod head;
mod http1;
mod reply;
#[cfg(feature = "tls")]
mod tls;

pub use body::RequestBody;
pub(crate) use http1::Upgrade;
#[cfg(feature = "tls")]
pub use tls::{serve_tls, serve_tls_with_shutdown};

/// Serves `service` (an [`EngineIo`](crate::EngineIo), an axum router, any
/// tower service that takes a [`RequestBody`]) on every connection
/// `listener` accepts, over HTTP/1.1 with upgrades, until the task is
/// dropped.
///
/// The HTTP/1.1 is Rally's own, made for many idle clients: a connection
/// whose poll is held, or that waits for its next request, keeps no
/// buffer (reads go into a buffer of the thread; only the bytes of a
/// request not complete yet are kept). Each connection gets `TCP_NODELAY`,
/// and each request a [`RemoteAddr`] extension with the peer's address.
/// Limits and replies are hyper's: a request head must arrive within
/// 30 s (against clients that open connections and trickle their headers)
/// and fit 100 headers and about 400 KiB (past them: 431); a malformed
/// head gets 400. A service that needs hyper's own request body
/// (`Request<hyper::body::Incoming>`) is served with [`serve_hyper`].
///
/// # Errors
///
/// Never returns under normal operation; accept errors such as running out
/// of file descriptors are logged and retried after a short pause.
pub async fn serve<S, B>(listener: TcpListener, service: S) -> io::Result<()>
where
    S: Service<Request<RequestBody>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    serve_with_shutdown(listener, service, std::future::pending()).await
}

/// As [`serve`], until `shutdown` resolves: then it stops accepting, lets
/// each connection finish the request it is serving, and returns once they
/// have all ended. Sessions already on WebSocket are not waited for: close
/// them first (with [`EngineIo::close_all`](crate::EngineIo::close_all)).
///
/// ```no_run
/// # async fn run(engine: rally_engine::EngineIo<impl rally_engine::Handler>) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// let stop = async { let _ = tokio::signal::ctrl_c().await; };
/// rally_engine::serve_with_shutdown(listener, engine, stop).await
/// # }
/// ```
///
/// # Errors
///
/// As for [`serve`].
pub async fn serve_with_shutdown<S, B, F>(
    listener: TcpListener,
    service: S,
    shutdown: F,
) -> io::Result<()>
where
    S: Service<Request<RequestBody>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
    F: Future<Output = ()>,
{
    run(listener, shutdown, move |stream, addr, stopping| {
        http1::connection(stream, addr, service.clone(), stopping)
    })
    .await
}

/// As [`serve`], with hyper's HTTP/1.1, for a service that takes hyper's
/// request body: each connection then holds hyper's buffers (about 16 KiB
/// once it served a request).
///
/// # Errors
///
/// As for [`serve`].
pub async fn serve_hyper<S, B>(listener: TcpListener, service: S) -> io::Result<()>
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    serve_hyper_with_shutdown(listener, service, std::future::pending()).await
}

/// As [`serve_with_shutdown`], with hyper's HTTP/1.1 (see [`serve_hyper`]).
///
/// # Errors
///
/// As for [`serve`].
pub async fn serve_hyper_with_shutdown<S, B, F>(
    listener: TcpListener,
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
    run(listener, shutdown, move |stream, addr, stopping| {
        plain_connection(
            stream,
            addr,
            TowerToHyperService::new(service.clone()),
            stopping,
        )
    })
    .await
}

/// Runs the accept loop, each accepted connection served by the task that
/// `connect` makes of it, until `shutdown` resolves: then the loop stops
/// and the connections are told through their `watch::Receiver`.
async fn run<F, C, Fut>(listener: TcpListener, shutdown: F, connect: C) -> io::Result<()>
where
    F: Future<Output = ()>,
    C: FnMut(TcpStream, SocketAddr, watch::Receiver<bool>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (stop, stopping) = watch::channel(false);
    // The accept loop runs as a task of its own, on the runtime's workers:
    // awaited in `main` (as `#[tokio::main]` does), it would otherwise run on
    // the thread blocked in `block_on`, and every accepted connection would
    // cost a wake-up of one thread by another.
    let mut accepting = AbortOnDrop(tokio::spawn(accept(listener, stopping, connect)));
    tokio::select! {
        () = shutdown => {
            let _ = stop.send(true);
            (&mut accepting.0).await
        }
        ended = &mut accepting.0 => ended,
    }
    .map_err(io::Error::other)
}

/// Aborts the task when the future awaiting it is dropped, so that dropping
/// [`serve`] still ends the accept loop and every connection.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Accepts connections until `stopping` changes, then lets each one finish
/// the request it is serving.
async fn accept<C, Fut>(listener: TcpListener, stopping: watch::Receiver<bool>, mut connect: C)
where
    C: FnMut(TcpStream, SocketAddr, watch::Receiver<bool>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut connections = JoinSet::new();
    let mut stop = pin!({
        let mut stopping = stopping.clone();
        async move {
            let _ = stopping.changed().await;
        }
    });
    loop {
        let (stream, addr) = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Ended connections are collected here, without a wake-up of this
        // loop for each one.
        while connections.try_join_next().is_some() {}
        let _ = stream.set_nodelay(true);
        connections.spawn(connect(stream, addr, stopping.clone()));
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// Serves one plain TCP connection over hyper's HTTP/1.1 with upgrades, until it
/// ends or, once `stopping` changes, until its current request is answered.
///
/// An `async` block rather than an `async fn`: an `async fn` keeps its
/// arguments apart from the locals they move into, 48 bytes more in every
/// plain connection's task.
#[expect(
    clippy::manual_async_fn,
    reason = "the async block's future is smaller (see above)"
)]
fn plain_connection<S, B>(
    stream: TcpStream,
    addr: SocketAddr,
    service: TowerToHyperService<S>,
    mut stopping: watch::Receiver<bool>,
) -> impl Future<Output = ()> + Send + 'static
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    async move {
        let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(RemoteAddr(addr));
            hyper::service::Service::call(&service, req)
        });
        // Made in place: a named local moved into `pin!` would take its
        // room twice in this task.
        let mut connection = pin!(
            hyper_http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
        );
        let result = tokio::select! {
            result = connection.as_mut() => result,
            _ = stopping.changed() => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(e) = result {
            tracing::debug!(error = %e, %addr, "connection ended with an error");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::{Config, EngineIo, Handler, Message, Session};

    struct Nop;

    impl Handler for Nop {
        fn on_open(&self, _: &Arc<Session>) {}
        fn on_message(&self, _: &Arc<Session>, _: Message) {}
    }

    /// Each idle plain connection holds this task: serving TLS beside it
    /// must not make it larger (936 bytes with hyper 1.12 when TLS came).
    #[tokio::test]
    async fn the_plain_connection_task_does_not_grow() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = tokio::spawn(tokio::net::TcpStream::connect(
            listener.local_addr().unwrap(),
        ));
        let (stream, peer) = listener.accept().await.unwrap();
        let (_stop, stopping) = tokio::sync::watch::channel(false);
        let engine = EngineIo::new(Config::default(), Nop);
        let service = hyper_util::service::TowerToHyperService::new(engine);
        let task = super::plain_connection(stream, peer, service, stopping);
        let size = std::mem::size_of_val(&task);
        assert!(size <= 936, "the plain connection task takes {size} bytes");
        drop(client);
    }

    /// Each idle connection of Rally's own HTTP/1.1 holds this task (the
    /// engine's reply to a held poll is boxed apart; so are the waits for a
    /// request head and the writing of a reply, each only while it lasts):
    /// 1056 bytes in a debug build when it came.
    #[tokio::test]
    async fn the_lean_connection_task_stays_small() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = tokio::spawn(tokio::net::TcpStream::connect(
            listener.local_addr().unwrap(),
        ));
        let (stream, peer) = listener.accept().await.unwrap();
        let (_stop, stopping) = tokio::sync::watch::channel(false);
        let engine = EngineIo::new(Config::default(), Nop);
        let task = super::http1::connection(stream, peer, engine, stopping);
        let size = std::mem::size_of_val(&task);
        assert!(size <= 1056, "the lean connection task takes {size} bytes");
        drop(client);
    }
}
