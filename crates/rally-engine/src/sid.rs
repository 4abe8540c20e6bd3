use std::{fmt, ops::Deref};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};

/// A session id: 15 random bytes as 20 characters of base64url, the shape
/// of the reference's ids.
///
/// ```
/// use rally_engine::Sid;
///
/// let sid = Sid::random();
/// assert_eq!(sid.len(), 20);
/// assert_ne!(sid, Sid::random());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid([u8; 20]);

impl Sid {
    /// A fresh random id from the operating system's generator.
    ///
    /// The bytes come from a per-thread pool filled by the generator 64 ids
    /// at a time (as the reference's `base64id` pools `randomBytes`), so a
    /// connection costs no system call for its ids; each id's bytes are
    /// wiped from the pool as they are taken.
    #[must_use]
    pub fn random() -> Self {
        let raw = POOL.with_borrow_mut(Pool::take);
        let mut out = [0u8; 20];
        // 15 bytes encode to exactly 20 characters.
        let _ = URL_SAFE_NO_PAD.encode_slice(raw, &mut out);
        Self(out)
    }

    /// Parses the id a client sent back; `None` when it cannot be one.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        let bytes: [u8; 20] = s.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
            .then_some(Self(bytes))
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // base64url characters are ASCII.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// Random bytes for 64 ids, handed out 15 at a time.
struct Pool {
    bytes: [u8; 15 * 64],
    taken: usize,
}

thread_local! {
    static POOL: std::cell::RefCell<Pool> = const {
        std::cell::RefCell::new(Pool { bytes: [0; 15 * 64], taken: 15 * 64 })
    };
}

impl Pool {
    fn take(&mut self) -> [u8; 15] {
        if self.taken == self.bytes.len() {
            // The OS generator only fails on platforms without one; fall
            // back to the clock and a counter rather than refuse service.
            if getrandom::fill(&mut self.bytes).is_err() {
                for chunk in self.bytes.chunks_mut(15) {
                    let mut raw = [0u8; 15];
                    fallback_fill(&mut raw);
                    chunk.copy_from_slice(&raw);
                }
            }
            self.taken = 0;
        }
        let mut raw = [0u8; 15];
        let end = self.taken + 15;
        if let Some(bytes) = self.bytes.get_mut(self.taken..end) {
            raw.copy_from_slice(bytes);
            bytes.fill(0);
        }
        self.taken = end;
        raw
    }
}

fn fallback_fill(raw: &mut [u8; 15]) {
    use std::hash::{BuildHasher, RandomState};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let state = RandomState::new();
    for (i, chunk) in raw.chunks_mut(8).enumerate() {
        let n = state.hash_one((
            COUNTER.fetch_add(1, Ordering::Relaxed),
            i,
            std::time::SystemTime::now(),
        ));
        chunk.copy_from_slice(&n.to_le_bytes()[..chunk.len()]);
    }
}

impl Deref for Sid {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_base64url() {
        let sid = Sid::random();
        assert_eq!(Sid::parse(&sid), Some(sid));
        assert_eq!(Sid::parse("short"), None);
        assert_eq!(Sid::parse("aaaaaaaaaaaaaaaaaaa="), None);
    }

    #[test]
    fn pooled_ids_are_distinct_across_refills() {
        let ids: std::collections::HashSet<Sid> = (0..1000).map(|_| Sid::random()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|id| Sid::parse(id).is_some()));
    }

    #[test]
    fn fallback_fills_bytes() {
        let mut a = [0u8; 15];
        let mut b = [0u8; 15];
        fallback_fill(&mut a);
        fallback_fill(&mut b);
        assert_ne!(a, b);
    }
}
