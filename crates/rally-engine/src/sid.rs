use std::{
    collections::{HashMap, HashSet},
    fmt,
    hash::{BuildHasher, Hash, Hasher},
    ops::Deref,
    sync::OnceLock,
};

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
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Sid([u8; 20]);

impl Hash for Sid {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Whole words: no length prefix, no copy of a variable-length tail.
        let [a, b, c] = [&self.0[..8], &self.0[8..16], &self.0[12..]]
            .map(|w| u64::from_le_bytes(w.try_into().unwrap_or_default()));
        state.write_u64(a);
        state.write_u64(b);
        state.write_u64(c);
    }
}

/// A map keyed by [`Sid`], hashed with [`SidHasher`].
pub type SidMap<V> = HashMap<Sid, V, SidHasher>;

/// A set of [`Sid`]s, hashed with [`SidHasher`].
pub type SidSet = HashSet<Sid, SidHasher>;

/// The hasher of maps keyed by [`Sid`]: a multiply-and-fold hash keyed
/// once per process, a few instructions per id where the standard library's
/// SipHash takes a hundred and more.
///
/// Ids are random and made by the server, so they need no defence against
/// chosen keys beyond the per-process key: lookups with ids a client sends
/// only probe the map.
///
/// ```
/// use rally_engine::{Sid, SidMap};
///
/// let mut names = SidMap::default();
/// let sid = Sid::random();
/// names.insert(sid, "ada");
/// assert_eq!(names.get(&sid), Some(&"ada"));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct SidHasher {
    key: u64,
}

impl Default for SidHasher {
    fn default() -> Self {
        static KEY: OnceLock<u64> = OnceLock::new();
        let key = *KEY.get_or_init(|| std::hash::RandomState::new().hash_one(0x5eed_u64));
        Self { key }
    }
}

impl BuildHasher for SidHasher {
    type Hasher = SidHash;

    fn build_hasher(&self) -> SidHash {
        SidHash(self.key)
    }
}

/// The state of one [`SidHasher`] hash.
#[derive(Debug)]
pub struct SidHash(u64);

/// Folds a 128-bit product: the mixing step of the hash.
fn fold_mul(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

impl Hasher for SidHash {
    /// Any bytes, eight at a time (a [`Sid`] itself goes through
    /// [`write_u64`](Hasher::write_u64)).
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = fold_mul(self.0 ^ word, MULTIPLIER);
    }

    fn finish(&self) -> u64 {
        fold_mul(self.0, MULTIPLIER ^ 0x2545_f491_4f6c_dd1d)
    }
}

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

    /// A fresh random id that starts with the node tag `tag`: the tag's 4
    /// characters, then 16 characters of 12 random bytes (96 random bits,
    /// still beyond guessing). The node that made an id is read back from
    /// it with [`tag`](Self::tag).
    ///
    /// ```
    /// use rally_engine::{NodeTag, Sid};
    ///
    /// let tag = NodeTag::random();
    /// let sid = Sid::random_tagged(tag);
    /// assert_eq!(sid.tag(), tag);
    /// assert!(sid.starts_with(tag.as_str()));
    /// ```
    #[must_use]
    pub fn random_tagged(tag: NodeTag) -> Self {
        let raw = POOL.with_borrow_mut(Pool::take);
        let mut out = [0u8; 20];
        out[..4].copy_from_slice(&tag.0);
        // 12 bytes encode to exactly 16 characters.
        let _ = URL_SAFE_NO_PAD.encode_slice(&raw[..12], &mut out[4..]);
        Self(out)
    }

    /// The node tag the id starts with (meaningful for ids made by
    /// [`random_tagged`](Self::random_tagged)).
    #[must_use]
    pub fn tag(&self) -> NodeTag {
        NodeTag([self.0[0], self.0[1], self.0[2], self.0[3]])
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

/// The short random name of one node of a cluster: 4 base64url characters
/// (3 random bytes), the first characters of the ids of the sessions the
/// node opens when it forwards sessions (see [`Sid::random_tagged`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeTag([u8; 4]);

impl NodeTag {
    /// A fresh random tag.
    #[must_use]
    pub fn random() -> Self {
        let raw = POOL.with_borrow_mut(Pool::take);
        let mut out = [0u8; 4];
        let _ = URL_SAFE_NO_PAD.encode_slice(&raw[..3], &mut out);
        Self(out)
    }

    /// Reads a tag back from its 4 characters; `None` when they cannot be
    /// one.
    #[must_use]
    pub fn parse(s: &[u8]) -> Option<Self> {
        let bytes: [u8; 4] = s.try_into().ok()?;
        bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
            .then_some(Self(bytes))
    }

    /// The tag as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for NodeTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for NodeTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeTag({})", self.as_str())
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
    use std::hash::RandomState;
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
    fn the_sid_hasher_spreads_ids_over_every_bucket_bit() {
        let hasher = SidHasher::default();
        let hashes: HashSet<u64> = (0..10_000)
            .map(|_| hasher.hash_one(Sid::random()))
            .collect();
        assert_eq!(hashes.len(), 10_000);
        // hashbrown picks buckets with the low bits and probes with the top
        // seven: each of those bits must vary.
        let (mut ones, mut zeros) = (0u64, 0u64);
        for h in &hashes {
            ones |= h;
            zeros |= !h;
        }
        assert_eq!(ones & zeros, u64::MAX);
        // Ids differing in one byte hash apart.
        let sid = Sid::random();
        let mut near = sid;
        near.0[19] ^= 1;
        assert_ne!(hasher.hash_one(sid), hasher.hash_one(near));
    }

    #[test]
    fn pooled_ids_are_distinct_across_refills() {
        let ids: HashSet<Sid> = (0..1000).map(|_| Sid::random()).collect();
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
