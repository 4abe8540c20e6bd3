//! HTTP compression of long-polling bodies (`httpCompression`): the choice
//! of a coding from `Accept-Encoding`, compressing a poll's body, and
//! inflating a POST's body within the size limit.

use std::io::{Read, Write};

use bytes::Bytes;
use flate2::{
    Compression,
    read::{DeflateDecoder, MultiGzDecoder, ZlibDecoder},
    write::{GzEncoder, ZlibEncoder},
};
use http::{HeaderMap, HeaderValue, header};

/// The `httpCompression` option: poll replies of at least `threshold`
/// bytes are compressed with gzip or deflate, whichever the client's
/// `Accept-Encoding` prefers (gzip on a tie). On by default, with the
/// reference's threshold of 1024 bytes.
///
/// Brotli and zstd are not offered: a client that accepts only those gets
/// the body uncompressed.
///
/// ```
/// use rally_engine::{Config, HttpCompression};
///
/// assert_eq!(HttpCompression::default().threshold, 1024);
/// let config = Config::default().http_compression(Some(HttpCompression::default().threshold(4096)));
/// let off = Config::default().http_compression(None);
/// # let _ = (config, off);
/// ```
#[doc(alias = "httpCompression")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpCompression {
    /// The smallest body compressed, in bytes (the encoded payload, before
    /// compression). Default 1024.
    pub threshold: usize,
}

impl Default for HttpCompression {
    fn default() -> Self {
        Self { threshold: 1024 }
    }
}

impl HttpCompression {
    /// Sets `threshold`, in bytes.
    #[must_use]
    pub fn threshold(mut self, bytes: usize) -> Self {
        self.threshold = bytes;
        self
    }
}

/// A content coding the engine writes and reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    Gzip,
    /// HTTP's `deflate`: a zlib stream (RFC 1950).
    Deflate,
}

impl Coding {
    /// The `Content-Encoding` value naming it.
    pub(crate) const fn header_value(self) -> HeaderValue {
        match self {
            Self::Gzip => HeaderValue::from_static("gzip"),
            Self::Deflate => HeaderValue::from_static("deflate"),
        }
    }
}

/// How much a client wants a coding: its q-value in thousandths, whether
/// the header names it (rather than `*`), and where the header lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Weight {
    q: u16,
    named: bool,
    position: usize,
}

impl Weight {
    /// Whether `self` goes before `other`: a higher q-value, then a named
    /// coding before one `*` covers, then the earlier one in the header
    /// (the order the reference's negotiation uses).
    fn beats(self, other: Self) -> bool {
        (self.q, self.named, std::cmp::Reverse(self.position))
            > (other.q, other.named, std::cmp::Reverse(other.position))
    }
}

/// The coding a poll reply should use for a request with these headers:
/// gzip or deflate, the one with the higher q-value in `Accept-Encoding`
/// (`*` standing for any not named; `q=0` refusing it); on a tie, the one
/// named before the other, else gzip. `None` when the header is absent,
/// accepts neither, or weighs `identity` above both.
pub(crate) fn negotiate(headers: &HeaderMap) -> Option<Coding> {
    let (mut gzip, mut deflate, mut any, mut identity) = (None, None, None, None);
    let mut position = 0;
    let items = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    for item in items {
        let mut params = item.split(';');
        let name = params.next().unwrap_or_default().trim();
        if name.is_empty() {
            continue;
        }
        let q = params
            .find_map(|p| {
                let (key, value) = p.split_once('=')?;
                key.trim().eq_ignore_ascii_case("q").then(|| qvalue(value))
            })
            .unwrap_or(1000);
        let slot = if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
            &mut gzip
        } else if name.eq_ignore_ascii_case("deflate") {
            &mut deflate
        } else if name == "*" {
            &mut any
        } else if name.eq_ignore_ascii_case("identity") {
            &mut identity
        } else {
            position += 1;
            continue;
        };
        // A coding listed twice keeps its higher q-value.
        if slot.is_none_or(|(old, _)| q > old) {
            *slot = Some((q, position));
        }
        position += 1;
    }
    let weigh = |named: Option<(u16, usize)>| match (named, any) {
        (Some((q, position)), _) => Some(Weight {
            q,
            named: true,
            position,
        }),
        (None, Some((q, position))) => Some(Weight {
            q,
            named: false,
            position,
        }),
        (None, None) => None,
    };
    let candidates = [
        (Coding::Gzip, weigh(gzip)),
        (Coding::Deflate, weigh(deflate)),
    ];
    let mut best: Option<(Coding, Weight)> = None;
    for (coding, weight) in candidates {
        let Some(weight) = weight.filter(|w| w.q > 0) else {
            continue;
        };
        if best.is_none_or(|(_, b)| weight.beats(b)) {
            best = Some((coding, weight));
        }
    }
    let (coding, weight) = best?;
    // A client that weighs the uncompressed body above both gets it.
    match identity {
        Some((q, _)) if q > weight.q => None,
        _ => Some(coding),
    }
}

/// A q-value in thousandths; what does not parse (or lies outside 0..=1)
/// counts as 0, which refuses the coding.
fn qvalue(text: &str) -> u16 {
    match text.trim().parse::<f32>() {
        // In range by the check, so the cast cannot truncate.
        Ok(q) if (0.0..=1.0).contains(&q) => (q * 1000.0).round() as u16,
        _ => 0,
    }
}

/// `body` compressed with `coding`, at flate2's fastest level (1): most of
/// the size gain on the JSON text polls carry, for a fraction of the CPU of
/// the default level 6 (see docs/behaviour.md). `None` if the compressor
/// fails, in which case the body goes out as it is.
pub(crate) fn compress(coding: Coding, body: &[u8]) -> Option<Bytes> {
    // JSON text shrinks several times; the Vec grows if it does not.
    let out = Vec::with_capacity(body.len() / 4 + 64);
    let level = Compression::fast();
    let out = match coding {
        Coding::Gzip => {
            let mut encoder = GzEncoder::new(out, level);
            encoder.write_all(body).ok()?;
            encoder.finish().ok()?
        }
        Coding::Deflate => {
            let mut encoder = ZlibEncoder::new(out, level);
            encoder.write_all(body).ok()?;
            encoder.finish().ok()?
        }
    };
    Some(Bytes::from(out))
}

/// A `Content-Encoding` the engine cannot read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UnsupportedCoding;

/// The coding of a request's body from its `Content-Encoding`: `None`
/// without one (or `identity`), gzip or deflate, or an error for anything
/// else, several codings included.
pub(crate) fn content_coding(headers: &HeaderMap) -> Result<Option<Coding>, UnsupportedCoding> {
    let mut found = None;
    let codings = headers
        .get_all(header::CONTENT_ENCODING)
        .iter()
        .map(|v| v.to_str().map_err(|_| UnsupportedCoding))
        .collect::<Result<Vec<_>, _>>()?;
    for name in codings.iter().flat_map(|v| v.split(',')).map(str::trim) {
        let coding = if name.is_empty() || name.eq_ignore_ascii_case("identity") {
            continue;
        } else if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
            Coding::Gzip
        } else if name.eq_ignore_ascii_case("deflate") {
            Coding::Deflate
        } else {
            return Err(UnsupportedCoding);
        };
        if found.replace(coding).is_some() {
            return Err(UnsupportedCoding);
        }
    }
    Ok(found)
}

/// How many compressed bytes a body whose content fits in `limit` may
/// take: `limit` plus what stored (uncompressible) deflate blocks and the
/// gzip framing add.
pub(crate) fn compressed_limit(limit: usize) -> usize {
    limit.saturating_add(limit / 1024 + 64)
}

/// Why a compressed body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// It inflates past the limit.
    TooLarge,
    /// It is not a valid stream of its coding.
    Corrupt,
}

/// The content of a body compressed with `coding`, inflated a chunk at a
/// time into a buffer that never holds (nor reserves) more than `limit`
/// bytes: a small body that inflates past it (a decompression bomb) stops
/// there. A `deflate` body is read as a zlib stream, or as a raw deflate
/// stream when it has no zlib header (what some clients send).
pub(crate) fn inflate(coding: Coding, body: &[u8], limit: usize) -> Result<Bytes, InflateError> {
    match coding {
        Coding::Gzip => read_capped(MultiGzDecoder::new(body), limit),
        Coding::Deflate if has_zlib_header(body) => read_capped(ZlibDecoder::new(body), limit),
        Coding::Deflate => read_capped(DeflateDecoder::new(body), limit),
    }
}

/// Whether `body` starts with a zlib header (RFC 1950: method 8, and the
/// two bytes a multiple of 31).
fn has_zlib_header(body: &[u8]) -> bool {
    match body {
        [cmf, flg, ..] => cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0,
        _ => false,
    }
}

fn read_capped(mut reader: impl Read, limit: usize) -> Result<Bytes, InflateError> {
    let mut out = Vec::new();
    let mut chunk = [0; 16 * 1024];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(InflateError::Corrupt),
        };
        let len = out.len() + n;
        if len > limit {
            return Err(InflateError::TooLarge);
        }
        if len > out.capacity() {
            // Doubling, as a Vec does, but never past the limit.
            let capacity = out.capacity().saturating_mul(2).clamp(len, limit);
            out.reserve_exact(capacity - out.len());
        }
        out.extend_from_slice(&chunk[..n]);
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> Option<Coding> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(value).unwrap(),
        );
        negotiate(&headers)
    }

    #[test]
    fn negotiation_weighs_q_values_then_names_then_order() {
        assert_eq!(negotiate(&HeaderMap::new()), None);
        assert_eq!(accept(""), None);
        assert_eq!(accept("gzip, deflate, br, zstd"), Some(Coding::Gzip));
        assert_eq!(accept("deflate"), Some(Coding::Deflate));
        assert_eq!(accept("gzip;q=0.5, deflate"), Some(Coding::Deflate));
        assert_eq!(accept("deflate;q=0.2, gzip;q=0.8"), Some(Coding::Gzip));
        // Equal weights: the one named first, as the reference chooses.
        assert_eq!(accept("deflate, gzip"), Some(Coding::Deflate));
        assert_eq!(accept("*"), Some(Coding::Gzip));
        assert_eq!(accept("gzip;q=0, *"), Some(Coding::Deflate));
        assert_eq!(accept("gzip;q=0, deflate;q=0"), None);
        assert_eq!(accept("*;q=0"), None);
        // A named coding goes before one `*` covers at the same q-value.
        assert_eq!(accept("*, deflate"), Some(Coding::Deflate));
        assert_eq!(accept("br, zstd"), None);
        assert_eq!(accept("GZIP;Q=1"), Some(Coding::Gzip));
        assert_eq!(accept("x-gzip"), Some(Coding::Gzip));
        assert_eq!(accept("gzip;q=nonsense"), None);
        // identity weighed above both: no compression; otherwise it is
        // only one more acceptable coding.
        assert_eq!(accept("identity, gzip;q=0.5"), None);
        assert_eq!(accept("identity;q=0.5, gzip"), Some(Coding::Gzip));
        assert_eq!(accept("identity;q=0, gzip"), Some(Coding::Gzip));
    }

    #[test]
    fn content_coding_takes_one_of_gzip_and_deflate() {
        let coding = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::CONTENT_ENCODING,
                HeaderValue::from_str(value).unwrap(),
            );
            content_coding(&headers)
        };
        assert_eq!(content_coding(&HeaderMap::new()), Ok(None));
        assert_eq!(coding("identity"), Ok(None));
        assert_eq!(coding("GZip"), Ok(Some(Coding::Gzip)));
        assert_eq!(coding("deflate"), Ok(Some(Coding::Deflate)));
        assert_eq!(coding("br"), Err(UnsupportedCoding));
        assert_eq!(coding("gzip, gzip"), Err(UnsupportedCoding));
    }

    #[test]
    fn what_is_compressed_inflates_back() {
        let body = "42[\"chat\",\"hello\"]\x1e".repeat(200);
        for coding in [Coding::Gzip, Coding::Deflate] {
            let compressed = compress(coding, body.as_bytes()).unwrap();
            assert!(compressed.len() < body.len() / 4, "{coding:?}");
            let inflated = inflate(coding, &compressed, body.len()).unwrap();
            assert_eq!(inflated, body.as_bytes());
            assert_eq!(
                inflate(coding, &compressed, body.len() - 1),
                Err(InflateError::TooLarge)
            );
        }
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), Compression::fast());
        raw.write_all(body.as_bytes()).unwrap();
        let raw = raw.finish().unwrap();
        assert_eq!(
            inflate(Coding::Deflate, &raw, body.len()).unwrap(),
            body.as_bytes()
        );
    }

    #[test]
    fn inflating_never_reserves_past_the_limit() {
        let mut bomb = GzEncoder::new(Vec::new(), Compression::best());
        bomb.write_all(&vec![0; 10_000_000]).unwrap();
        let bomb = bomb.finish().unwrap();
        assert!(bomb.len() < 20_000, "{}", bomb.len());
        assert_eq!(
            inflate(Coding::Gzip, &bomb, 1_000_000),
            Err(InflateError::TooLarge)
        );
        let fits = inflate(Coding::Gzip, &bomb, 10_000_000).unwrap();
        assert_eq!(fits.len(), 10_000_000);
    }

    #[test]
    fn corrupt_streams_are_refused() {
        assert_eq!(
            inflate(Coding::Gzip, b"not gzip", 100),
            Err(InflateError::Corrupt)
        );
        assert_eq!(inflate(Coding::Gzip, b"", 100), Err(InflateError::Corrupt));
        let mut good = compress(Coding::Gzip, b"hello").unwrap().to_vec();
        good.extend_from_slice(b"trailing");
        assert_eq!(
            inflate(Coding::Gzip, &good, 100),
            Err(InflateError::Corrupt)
        );
    }
}
