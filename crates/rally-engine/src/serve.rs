use std::{io, time::Duration};

use http::{Request, Response};
use http_body::Body;
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::{rt::TokioIo, service::TowerToHyperService};
use tokio::net::TcpListener;
use tower_service::Service;

use crate::{RemoteAddr, engine::BoxError};

/// Serves `service` (an [`EngineIo`](crate::EngineIo), an axum router, any
/// tower service) on every connection `listener` accepts, over HTTP/1.1 with
/// upgrades, until the task is dropped.
///
/// Each connection gets `TCP_NODELAY`, and each request a [`RemoteAddr`]
/// extension with the peer's address.
///
/// # Errors
///
/// Never returns under normal operation; accept errors such as running out
/// of file descriptors are logged and retried after a short pause.
pub async fn serve<S, B>(listener: TcpListener, service: S) -> io::Result<()>
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(service.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(RemoteAddr(addr));
                hyper::service::Service::call(&service, req)
            });
            let connection = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %addr, "connection ended with an error");
            }
        });
    }
}
