//! Small text messages copied into blocks shared by many, one block per
//! thread at a time.
//!
//! A message's bytes are shared by the slices a decoder cuts from them
//! (the packet, its arguments), so each message needs a reference count.
//! Copied into a `Vec` of its own, a message cost two allocations (its
//! bytes, then the count, made on the first slice); copied into the
//! current block of its thread it costs none (a block is used again from
//! its start once its messages are gone). The price: a block lives until
//! the last message cut from it is dropped, so a small message kept for
//! long keeps up to [`BLOCK`] bytes alive with it. Whoever keeps one for
//! the life of a connection copies it out first.

use std::cell::RefCell;

use bytes::{Bytes, BytesMut};

/// The size of a block.
const BLOCK: usize = 4096;
/// The largest message that goes into a block; larger ones get their own
/// allocation, as before.
const SMALL: usize = 512;

thread_local! {
    /// What is left of this thread's current block.
    static ARENA: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// `payload`'s bytes, in the thread's current block when small.
pub(super) fn copy(payload: &[u8]) -> Bytes {
    if payload.len() > SMALL {
        return Bytes::copy_from_slice(payload);
    }
    ARENA.with_borrow_mut(|arena| {
        // A block whose messages are all gone is used again from its
        // start; otherwise a new one, and the old goes once its last
        // message does.
        if arena.capacity() < payload.len() && !arena.try_reclaim(BLOCK) {
            *arena = BytesMut::with_capacity(BLOCK);
        }
        arena.extend_from_slice(payload);
        arena.split().freeze()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_keep_their_bytes_across_blocks() {
        let messages: Vec<Vec<u8>> = (0..100u8)
            .map(|i| vec![i; usize::from(i) * 7 % 600])
            .collect();
        let copies: Vec<Bytes> = messages.iter().map(|m| copy(m)).collect();
        for (message, copy) in messages.iter().zip(&copies) {
            assert_eq!(&copy[..], &message[..]);
        }
        // A slice outlives the message it was cut from.
        let tail = copies[10].slice(1..);
        drop(copies);
        assert_eq!(&tail[..], &messages[10][1..]);
    }
}
