//! The application's handlers, and how they run.

use std::{
    collections::HashMap,
    future::Future,
    panic::{AssertUnwindSafe, catch_unwind},
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, Waker},
};

use crate::{DisconnectReason, Error, Event, Socket};

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
pub(crate) type EventHandler = Arc<dyn Fn(Socket, Event) -> BoxFuture<()> + Send + Sync>;
pub(crate) type ConnectHandler = Arc<dyn Fn(Socket) -> BoxFuture<()> + Send + Sync>;
pub(crate) type DisconnectHandler =
    Arc<dyn Fn(Socket, DisconnectReason) -> BoxFuture<()> + Send + Sync>;
pub(crate) type ErrorHandler = Arc<dyn Fn(Socket, Error) -> BoxFuture<()> + Send + Sync>;
pub(crate) type AuthFn = Arc<dyn Fn() -> BoxFuture<serde_json::Value> + Send + Sync>;

/// The handlers of one socket.
#[derive(Default)]
pub(crate) struct Handlers {
    pub(crate) events: HashMap<String, EventHandler>,
    pub(crate) any: Vec<EventHandler>,
    pub(crate) any_outgoing: Vec<EventHandler>,
    pub(crate) connect: Vec<ConnectHandler>,
    pub(crate) disconnect: Vec<DisconnectHandler>,
    pub(crate) connect_error: Vec<ErrorHandler>,
}

/// Polls `future` once on the caller's stack; if it is not done, it goes on
/// in a task of its own. Most handlers finish without waiting, so most
/// events cost no task, and a handler that does not wait sees the socket's
/// events strictly in order. A panicking handler is logged, never
/// propagated.
pub(crate) fn run_detached(mut future: BoxFuture<()>) {
    let mut cx = Context::from_waker(Waker::noop());
    match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut cx))) {
        Ok(Poll::Ready(())) => {}
        // A future registers the waker of its latest poll, so polling it
        // again from the task is sound.
        Ok(Poll::Pending) => {
            tokio::spawn(future);
        }
        Err(_) => tracing::error!("a handler panicked"),
    }
}
