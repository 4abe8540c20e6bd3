//! A session's outgoing frames.
//!
//! Any thread may add frames without waiting; the one transport that carries
//! the session at a time takes them out in batches. A plain locked
//! `VecDeque` costs nothing until the first frame (an idle client holds no
//! buffer, where a channel allocates a block of slots up front) and hands
//! over a whole batch under one lock. The transport waits with one
//! registered waker, kept across its loop (no wait list to join and leave
//! on every turn), which the first frame into an empty queue wakes, as
//! does the session's close.

use std::{
    collections::VecDeque,
    future::poll_fn,
    sync::{Mutex, MutexGuard},
    task::{Poll, Waker},
};

use futures_util::task::AtomicWaker;
use rally_proto::engine::Frame;
use tokio::sync::{Mutex as AsyncMutex, MutexGuard as AsyncMutexGuard};

/// Past this many slots, a queue that empties gives its memory back.
const KEEP_CAPACITY: usize = 64;

/// A queued frame, and whether it may be compressed (a WebSocket with
/// permessage-deflate sends it uncompressed otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outgoing {
    pub(crate) frame: Frame,
    pub(crate) compress: bool,
}

/// What ended a wait of [`Receiver::recv_many_or`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Woken {
    /// Its first condition.
    First,
    /// Frames (moved out).
    Frames,
    /// Its last condition.
    Last,
}

/// Bounded frames, and the right to take them out.
pub(crate) struct Queue {
    frames: Mutex<VecDeque<Outgoing>>,
    /// The waiting transport: woken when a frame arrives in an empty queue
    /// (and when the session closes).
    waker: AtomicWaker,
    capacity: usize,
    /// Held by the transport taking frames out, so that two never do.
    taker: AsyncMutex<()>,
}

/// The right to take frames out of a [`Queue`], held by one transport.
pub(crate) struct Receiver<'a> {
    queue: &'a Queue,
    _taker: AsyncMutexGuard<'a, ()>,
}

impl Queue {
    /// A queue of at most `capacity` frames.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            frames: Mutex::new(VecDeque::new()),
            waker: AtomicWaker::new(),
            capacity,
            taker: AsyncMutex::new(()),
        }
    }

    fn frames(&self) -> MutexGuard<'_, VecDeque<Outgoing>> {
        // Every update is one push or one drain: poisoning cannot leave the
        // queue half changed.
        self.frames.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `frame` at the end; gives it back when the queue is full.
    /// `compress`: whether the frame may be sent compressed.
    pub(crate) fn push(&self, frame: Frame, compress: bool) -> Result<(), Frame> {
        let mut frames = self.frames();
        if frames.len() >= self.capacity {
            return Err(frame);
        }
        let was_empty = frames.is_empty();
        frames.push_back(Outgoing { frame, compress });
        drop(frames);
        if was_empty {
            self.waker.wake();
        }
        Ok(())
    }

    /// Wakes the transport waiting on the queue, if any.
    pub(crate) fn wake(&self) {
        self.waker.wake();
    }

    /// Waits for the right to take frames out.
    pub(crate) async fn receiver(&self) -> Receiver<'_> {
        Receiver {
            queue: self,
            _taker: self.taker.lock().await,
        }
    }

    /// The right to take frames out, unless a transport holds it.
    pub(crate) fn try_receiver(&self) -> Option<Receiver<'_>> {
        let taker = self.taker.try_lock().ok()?;
        Some(Receiver {
            queue: self,
            _taker: taker,
        })
    }
}

impl Receiver<'_> {
    /// Moves up to `max` frames (fewer if `out` has some already) to `out`;
    /// how many it moved.
    pub(crate) fn drain(&mut self, out: &mut Vec<Frame>, max: usize) -> usize {
        let mut frames = self.queue.frames();
        let n = frames.len().min(max.saturating_sub(out.len()));
        out.extend(frames.drain(..n).map(|o| o.frame));
        if frames.is_empty() && frames.capacity() > KEEP_CAPACITY {
            *frames = VecDeque::new();
        }
        n
    }

    /// As [`drain`](Self::drain), with each frame's compress flag.
    pub(crate) fn drain_outgoing(&mut self, out: &mut Vec<Outgoing>, max: usize) -> usize {
        let mut frames = self.queue.frames();
        let n = frames.len().min(max.saturating_sub(out.len()));
        out.extend(frames.drain(..n));
        if frames.is_empty() && frames.capacity() > KEEP_CAPACITY {
            *frames = VecDeque::new();
        }
        n
    }

    /// Waits until `first` says stop, there is a frame, or `last` says
    /// stop, asked in that order at every wake-up (a [`Queue::wake`] wakes
    /// it); moves up to `max` frames to `out` when there are some and
    /// `first` did not stop it. What ended the wait. Cancel-safe: nothing
    /// is taken unless it returns. A held poll waits in it for its
    /// session's close, frames and an upgrade's noop at once, with no
    /// future of each kept.
    pub(crate) async fn recv_many_or(
        &mut self,
        out: &mut Vec<Frame>,
        max: usize,
        mut first: impl FnMut() -> bool,
        mut last: impl FnMut() -> bool,
    ) -> Woken {
        // The waker goes when the wait ends, so that later frames wake no
        // one until the next wait.
        struct Unregister<'a>(&'a Queue);
        impl Drop for Unregister<'_> {
            fn drop(&mut self) {
                self.0.waker.take();
            }
        }
        let _unregister = Unregister(self.queue);
        poll_fn(|cx| {
            // Registered before looking: a frame pushed (or a wake) after
            // the look wakes this waker.
            self.register(cx.waker());
            if first() {
                Poll::Ready(Woken::First)
            } else if self.drain(out, max) > 0 || max <= out.len() {
                Poll::Ready(Woken::Frames)
            } else if last() {
                Poll::Ready(Woken::Last)
            } else {
                Poll::Pending
            }
        })
        .await
    }

    /// Registers the waker that the next frame into an empty queue (or the
    /// session's close) wakes; it replaces the one registered before.
    /// Register before looking at the queue, so that nothing is missed.
    pub(crate) fn register(&self, waker: &Waker) {
        self.queue.waker.register(waker);
    }

    /// Forgets the registered waker, so that frames pushed from now on wake
    /// no one (such as those the transport's own task is about to push).
    pub(crate) fn unregister(&self) {
        self.queue.waker.take();
    }

    /// Gives the queue's memory back when it is empty: for a transport
    /// that leaves it empty for long (a polling client between a reply and
    /// its next poll, or a poll held), the slots of the last batch are
    /// not kept.
    pub(crate) fn release(&mut self) {
        let mut frames = self.queue.frames();
        if frames.is_empty() && frames.capacity() > 0 {
            *frames = VecDeque::new();
        }
    }

    /// Whether nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.frames().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::{sync::Arc, time::Duration};

    use rally_proto::Str;

    use super::*;

    fn text(s: &'static str) -> Frame {
        Frame::Text(Str::from(s))
    }

    #[test]
    fn bounded_and_in_order() {
        let queue = Queue::new(2);
        assert!(queue.push(text("a"), true).is_ok());
        assert!(queue.push(text("b"), true).is_ok());
        assert_eq!(queue.push(text("c"), true), Err(text("c")));
        let mut rx = queue.try_receiver().expect("free");
        let mut out = Vec::new();
        assert_eq!(rx.drain(&mut out, 16), 2);
        assert_eq!(out, vec![text("a"), text("b")]);
        assert!(rx.is_empty());
        assert!(queue.push(text("c"), true).is_ok());
    }

    #[test]
    fn one_receiver_at_a_time() {
        let queue = Queue::new(4);
        let rx = queue.try_receiver();
        assert!(rx.is_some());
        assert!(queue.try_receiver().is_none());
        drop(rx);
        assert!(queue.try_receiver().is_some());
    }

    #[test]
    fn drain_respects_the_batch_size_and_gives_memory_back() {
        let queue = Queue::new(1000);
        for _ in 0..500 {
            queue.push(text("x"), true).expect("room");
        }
        let mut rx = queue.try_receiver().expect("free");
        let mut out = vec![text("first")];
        assert_eq!(rx.drain(&mut out, 100), 99);
        out.clear();
        while rx.drain(&mut out, 1000) > 0 {}
        assert_eq!(out.len(), 401);
        assert!(queue.frames().capacity() <= KEEP_CAPACITY);
    }

    #[tokio::test]
    async fn a_waiting_receiver_wakes_for_a_frame_from_another_task() {
        let queue = Arc::new(Queue::new(8));
        let taker = queue.clone();
        let task = tokio::spawn(async move {
            let mut rx = taker.receiver().await;
            let mut out = Vec::new();
            let woken = rx.recv_many_or(&mut out, 8, || false, || false).await;
            (woken, out)
        });
        tokio::task::yield_now().await;
        queue.push(text("hello"), true).expect("room");
        let out = tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("woken")
            .expect("no panic");
        assert_eq!(out, (Woken::Frames, vec![text("hello")]));
    }

    /// A held poll's wait: the first condition before frames, frames
    /// before the last condition, and a wake makes it look again.
    #[tokio::test]
    async fn a_wait_ends_on_its_conditions_in_order() {
        use std::sync::atomic::{AtomicBool, Ordering};

        let queue = Arc::new(Queue::new(8));
        let (first, last) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let (taker, f, l) = (queue.clone(), first.clone(), last.clone());
        let task = tokio::spawn(async move {
            let mut rx = taker.receiver().await;
            let mut out = Vec::new();
            let is = |flag: &AtomicBool| flag.load(Ordering::Acquire);
            rx.recv_many_or(&mut out, 8, || is(&f), || is(&l)).await
        });
        tokio::task::yield_now().await;
        last.store(true, Ordering::Release);
        queue.wake();
        let woken = tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("woken")
            .expect("no panic");
        assert_eq!(woken, Woken::Last);

        queue.push(text("x"), true).expect("room");
        let mut rx = queue.try_receiver().expect("free");
        let mut out = Vec::new();
        let woken = rx.recv_many_or(&mut out, 8, || false, || true).await;
        assert_eq!((woken, out.len()), (Woken::Frames, 1));
        queue.push(text("y"), true).expect("room");
        out.clear();
        let woken = rx.recv_many_or(&mut out, 8, || true, || true).await;
        assert_eq!((woken, out.len()), (Woken::First, 0));
    }
}
