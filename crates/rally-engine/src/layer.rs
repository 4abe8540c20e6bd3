use std::{
    fmt,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use futures_util::FutureExt;
use http::{Request, Response};
use http_body::Body;
use http_body_util::Either;
use tower_layer::Layer;
use tower_service::Service;

use crate::{EngineIo, Handler, engine::BoxError, response::EngineBody};

/// A tower [`Layer`] that answers Engine.IO requests and passes every other
/// request to the service it wraps.
///
/// ```
/// use std::{convert::Infallible, future::Ready, sync::Arc, task::{Context, Poll}};
/// use http::{Request, Response};
/// use rally_engine::{Config, EngineIo, EngineIoLayer, Handler, Message, Session};
/// use tower_layer::Layer;
///
/// # struct Echo;
/// # impl Handler for Echo {
/// #     fn on_open(&self, _: &Arc<Session>) {}
/// #     fn on_message(&self, s: &Arc<Session>, m: Message) { let _ = s.send(m); }
/// # }
/// /// The rest of the application: answers "hello" everywhere.
/// #[derive(Clone)]
/// struct Hello;
///
/// impl<B> tower_service::Service<Request<B>> for Hello {
///     type Response = Response<String>;
///     type Error = Infallible;
///     type Future = Ready<Result<Response<String>, Infallible>>;
///     fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
///         Poll::Ready(Ok(()))
///     }
///     fn call(&mut self, _: Request<B>) -> Self::Future {
///         std::future::ready(Ok(Response::new("hello".into())))
///     }
/// }
///
/// let engine = EngineIo::new(Config::default(), Echo);
/// let service = EngineIoLayer::new(engine).layer(Hello);
/// ```
pub struct EngineIoLayer<H> {
    engine: EngineIo<H>,
}

impl<H> EngineIoLayer<H> {
    /// A layer serving `engine` under its path.
    pub fn new(engine: EngineIo<H>) -> Self {
        Self { engine }
    }
}

impl<H> Clone for EngineIoLayer<H> {
    fn clone(&self) -> Self {
        Self {
            engine: self.engine.clone(),
        }
    }
}

impl<H> fmt::Debug for EngineIoLayer<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineIoLayer")
            .field("engine", &self.engine)
            .finish()
    }
}

impl<S, H> Layer<S> for EngineIoLayer<H> {
    type Service = EngineIoService<S, H>;

    fn layer(&self, inner: S) -> Self::Service {
        EngineIoService {
            inner,
            engine: self.engine.clone(),
        }
    }
}

/// The service made by [`EngineIoLayer`].
pub struct EngineIoService<S, H> {
    inner: S,
    engine: EngineIo<H>,
}

impl<S: Clone, H> Clone for EngineIoService<S, H> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            engine: self.engine.clone(),
        }
    }
}

impl<S: fmt::Debug, H> fmt::Debug for EngineIoService<S, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineIoService")
            .field("inner", &self.inner)
            .field("engine", &self.engine)
            .finish()
    }
}

/// The future of an [`EngineIoService`] reply.
pub type LayerFuture<R, E> = Pin<Box<dyn Future<Output = Result<R, E>> + Send>>;

impl<S, H, B, ResBody> Service<Request<B>> for EngineIoService<S, H>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    H: Handler,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<Either<EngineBody, ResBody>>;
    type Error = S::Error;
    type Future = LayerFuture<Self::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if self.engine.engine.matches(req.uri().path()) {
            let engine = self.engine.engine.clone();
            Box::pin(engine.handle(req).map(|r| Ok(r.map(Either::Left))))
        } else {
            let future = self.inner.call(req);
            Box::pin(async move { future.await.map(|r| r.map(Either::Right)) })
        }
    }
}
