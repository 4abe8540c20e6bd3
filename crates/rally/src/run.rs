//! Running handler futures without a task when they finish at once.

use std::{
    future::{Future, poll_fn},
    panic::{AssertUnwindSafe, catch_unwind},
    pin::Pin,
    task::{Context, Poll, Waker},
};

/// Polls `future` once on the caller's stack; if it is not done, it goes
/// on in a task of its own. Most handlers finish without waiting, so most
/// events cost no task. A panicking handler is logged, never propagated.
pub(crate) fn run_detached(mut future: Pin<Box<dyn Future<Output = ()> + Send>>) {
    let mut cx = Context::from_waker(Waker::noop());
    match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut cx))) {
        Ok(Poll::Ready(())) => {}
        // A future must register the waker of its latest poll, so polling
        // it again from the task is sound.
        Ok(Poll::Pending) => {
            tokio::spawn(future);
        }
        Err(_) => tracing::error!("a handler panicked"),
    }
}

/// Makes a handler's future with `make` and runs it as [`run_detached`]
/// does; a panic while making it (a closure that panics before its
/// `async` block) is logged too.
pub(crate) fn run_made(make: impl FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>>) {
    match catch_unwind(AssertUnwindSafe(make)) {
        Ok(future) => run_detached(future),
        Err(_) => tracing::error!("a handler panicked"),
    }
}

/// Makes a future with `make` and awaits it, catching a panic in either
/// as `None` (logged by the caller), so that what awaits it goes on.
pub(crate) async fn caught<T>(
    make: impl FnOnce() -> Pin<Box<dyn Future<Output = T> + Send>>,
) -> Option<T> {
    let mut future = catch_unwind(AssertUnwindSafe(make)).ok()?;
    poll_fn(
        |cx| match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Ready(value)) => Poll::Ready(Some(value)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(None),
        },
    )
    .await
}
