//! permessage-deflate (RFC 7692): negotiation, and compressing or inflating
//! one message at a time.
//!
//! Rally uses no context takeover in either direction: each message is
//! compressed on its own (the compressor starts afresh every time) and the
//! peer is asked to do the same (`client_no_context_takeover` from a
//! server, `server_no_context_takeover` from a client). What that buys:
//! - a connection holds no compressor or inflater state, idle or active:
//!   one compressor and one inflater per thread serve every connection;
//! - a broadcast is compressed once, and every recipient gets the same
//!   bytes;
//!
//! at the price of a lower ratio on small messages, which is why messages
//! under a threshold (1024 bytes by default, as the reference) go out
//! uncompressed anyway.

use std::cell::RefCell;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::{CloseCode, WsError};

/// The extension's token in `Sec-WebSocket-Extensions`.
pub const EXTENSION: &str = "permessage-deflate";

/// What a server agreed to, from the client's offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Agreed {
    /// The window, in bits (9 to 15), the server compresses with.
    pub server_window_bits: u8,
}

impl Agreed {
    /// The `Sec-WebSocket-Extensions` value of the server's 101 reply.
    ///
    /// ```
    /// use rally_proto::ws::deflate::accept_offer;
    ///
    /// let agreed = accept_offer("permessage-deflate; client_max_window_bits").unwrap();
    /// assert_eq!(
    ///     agreed.response(),
    ///     "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
    /// );
    /// ```
    #[must_use]
    pub fn response(&self) -> String {
        let mut out =
            format!("{EXTENSION}; server_no_context_takeover; client_no_context_takeover");
        if self.server_window_bits < 15 {
            out.push_str(&format!(
                "; server_max_window_bits={}",
                self.server_window_bits
            ));
        }
        out
    }
}

/// One extension of a `Sec-WebSocket-Extensions` value: its name and
/// parameters (a value without quotes, or none).
fn extensions(header: &str) -> impl Iterator<Item = (&str, Vec<(&str, Option<&str>)>)> {
    header.split(',').filter_map(|ext| {
        let mut parts = ext.split(';').map(str::trim);
        let name = parts.next().filter(|n| !n.is_empty())?;
        let params = parts
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim().trim_matches('"'))),
                None => (p, None),
            })
            .collect();
        Some((name, params))
    })
}

/// A window size parameter's value: 8 to 15.
fn window_bits(value: &str) -> Option<u8> {
    value.parse().ok().filter(|bits| (8..=15).contains(bits))
}

/// The first permessage-deflate offer of a client's
/// `Sec-WebSocket-Extensions` value that this server can take; `None` when
/// there is none (the connection then goes on uncompressed).
///
/// Offers with unknown, repeated or malformed parameters are passed over,
/// as is one that asks for an 8-bit server window (the compressor's
/// smallest is 9 bits).
#[must_use]
pub fn accept_offer(header: &str) -> Option<Agreed> {
    'offers: for (name, params) in extensions(header) {
        if !name.eq_ignore_ascii_case(EXTENSION) {
            continue;
        }
        let mut seen: Vec<&str> = Vec::new();
        let mut agreed = Agreed {
            server_window_bits: 15,
        };
        for (key, value) in params {
            if seen.contains(&key) {
                continue 'offers;
            }
            seen.push(key);
            let ok = match (key, value) {
                ("server_no_context_takeover" | "client_no_context_takeover", None) => true,
                ("client_max_window_bits", None) => true,
                ("client_max_window_bits", Some(v)) => window_bits(v).is_some(),
                ("server_max_window_bits", Some(v)) => match window_bits(v) {
                    Some(bits) if bits >= 9 => {
                        agreed.server_window_bits = bits;
                        true
                    }
                    _ => false,
                },
                _ => false,
            };
            if !ok {
                continue 'offers;
            }
        }
        return Some(agreed);
    }
    None
}

/// The offer a client sends: no context takeover either way, so that the
/// client too needs no per-connection state.
pub const CLIENT_OFFER: &str =
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

/// Whether a server's `Sec-WebSocket-Extensions` reply accepts
/// [`CLIENT_OFFER`].
///
/// # Errors
///
/// A protocol error when the reply names another extension, or deflate
/// parameters the offer did not allow (such as context takeover on the
/// server's side, which this client does not keep).
pub fn check_response(header: &str) -> Result<bool, WsError> {
    let mut accepted = false;
    for (name, params) in extensions(header) {
        let bad = || WsError::new(CloseCode::PROTOCOL, "unexpected extension response");
        if !name.eq_ignore_ascii_case(EXTENSION) || accepted {
            return Err(bad());
        }
        let mut server_no_takeover = false;
        for (key, value) in params {
            match (key, value) {
                ("server_no_context_takeover", None) => server_no_takeover = true,
                ("client_no_context_takeover", None) => {}
                ("server_max_window_bits" | "client_max_window_bits", Some(v))
                    if window_bits(v).is_some() => {}
                _ => return Err(bad()),
            }
        }
        if !server_no_takeover {
            return Err(bad());
        }
        accepted = true;
    }
    Ok(accepted)
}

/// The bytes a sync flush ends with, which permessage-deflate leaves out.
const TAIL: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];

/// A compressor per thread for each (level, window) in use.
struct Compressors(Vec<(u32, u8, Compress)>);

thread_local! {
    static COMPRESSORS: RefCell<Compressors> = const { RefCell::new(Compressors(Vec::new())) };
    static INFLATER: RefCell<Option<Decompress>> = const { RefCell::new(None) };
}

/// Compresses one message with no context: `None` when compressing would
/// not make it smaller (it is then sent as it is).
///
/// `level` is zlib's (0 to 9), `window_bits` the agreed server window.
///
/// ```
/// use rally_proto::ws::deflate::{compress, inflate};
///
/// let text = "hello ".repeat(300);
/// let compressed = compress(text.as_bytes(), 1, 15).unwrap();
/// assert!(compressed.len() < 100);
/// assert_eq!(inflate(&compressed, 1 << 20).unwrap(), text.as_bytes());
/// ```
#[must_use]
pub fn compress(payload: &[u8], level: u32, window_bits: u8) -> Option<Vec<u8>> {
    let run = |c: &mut Compress| {
        c.reset();
        let mut out = Vec::with_capacity(payload.len() / 2 + 64);
        loop {
            let done = usize::try_from(c.total_in()).unwrap_or(usize::MAX);
            let input = payload.get(done..).unwrap_or_default();
            c.compress_vec(input, &mut out, FlushCompress::Sync).ok()?;
            let consumed = c.total_in() == payload.len() as u64;
            if consumed && out.len() < out.capacity() {
                break;
            }
            if out.len() > payload.len() + 16 {
                return None;
            }
            out.reserve(out.capacity().max(64));
        }
        if out.ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
        (out.len() < payload.len()).then_some(out)
    };
    let fresh = || {
        Compress::new_with_window_bits(Compression::new(level.min(9)), false, window_bits.max(9))
    };
    // A thread already compressing (a re-entrant call) uses its own.
    COMPRESSORS
        .try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut all) => {
                let at = all
                    .0
                    .iter()
                    .position(|(l, b, _)| *l == level && *b == window_bits);
                let at = at.unwrap_or_else(|| {
                    all.0.push((level, window_bits, fresh()));
                    all.0.len() - 1
                });
                run(&mut all.0[at].2)
            }
            Err(_) => run(&mut fresh()),
        })
        .unwrap_or_else(|_| run(&mut fresh()))
}

/// Inflates one message compressed with no context, into at most `max`
/// bytes.
///
/// # Errors
///
/// 1009 (message too big) when the message inflates past `max`, never
/// allocating more than that; 1007 when the data is not a valid deflate
/// stream.
pub fn inflate(compressed: &[u8], max: usize) -> Result<Vec<u8>, WsError> {
    let run = |d: &mut Decompress| {
        d.reset(false);
        let mut out = Vec::with_capacity(compressed.len().saturating_mul(3).clamp(64, max.max(64)));
        for input in [compressed, &TAIL[..]] {
            let start = d.total_in();
            loop {
                let done = usize::try_from(d.total_in() - start).unwrap_or(usize::MAX);
                let rest = input.get(done..).unwrap_or_default();
                let status = d
                    .decompress_vec(rest, &mut out, FlushDecompress::Sync)
                    .map_err(|_| WsError::new(CloseCode::INVALID_DATA, "invalid deflate data"))?;
                if out.len() > max {
                    return Err(WsError::new(CloseCode::TOO_BIG, "message too big"));
                }
                if status == Status::StreamEnd {
                    return Ok(out);
                }
                let consumed = d.total_in() - start == input.len() as u64;
                if consumed && out.len() < out.capacity() {
                    break;
                }
                if out.len() == out.capacity() {
                    if out.len() == max.saturating_add(1) {
                        return Err(WsError::new(CloseCode::TOO_BIG, "message too big"));
                    }
                    // Room for one byte past `max` tells an exact fit from
                    // an overflow.
                    let want = out.capacity().saturating_mul(2).min(max.saturating_add(1));
                    out.reserve_exact(want - out.len());
                } else if status == Status::BufError {
                    // No progress with input and room left: truncated data.
                    return Err(WsError::new(
                        CloseCode::INVALID_DATA,
                        "truncated deflate data",
                    ));
                }
            }
        }
        Ok(out)
    };
    let fresh = || Decompress::new_with_window_bits(false, 15);
    INFLATER
        .try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut slot) => run(slot.get_or_insert_with(fresh)),
            Err(_) => run(&mut fresh()),
        })
        .unwrap_or_else(|_| run(&mut fresh()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_of_browsers_and_node_are_taken() {
        for offer in [
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate",
            "permessage-deflate; client_max_window_bits=15; server_no_context_takeover",
            "x-webkit-deflate-frame, permessage-deflate",
        ] {
            assert_eq!(
                accept_offer(offer),
                Some(Agreed {
                    server_window_bits: 15
                }),
                "{offer}"
            );
        }
        let agreed = accept_offer("permessage-deflate; server_max_window_bits=10").unwrap();
        assert_eq!(agreed.server_window_bits, 10);
        assert!(agreed.response().ends_with("server_max_window_bits=10"));
    }

    #[test]
    fn bad_offers_are_passed_over() {
        for offer in [
            "",
            "deflate-frame",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=8",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; client_max_window_bits=7",
            "permessage-deflate; unknown",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; server_no_context_takeover=1",
        ] {
            assert_eq!(accept_offer(offer), None, "{offer}");
        }
        // A later valid offer is taken.
        let two = "permessage-deflate; server_max_window_bits=8, permessage-deflate";
        assert_eq!(accept_offer(two).unwrap().server_window_bits, 15);
    }

    #[test]
    fn client_checks_the_reply() {
        assert_eq!(check_response(""), Ok(false));
        let ok = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
        assert_eq!(check_response(ok), Ok(true));
        assert!(check_response("permessage-deflate").is_err());
        assert!(check_response("foo").is_err());
        assert!(check_response(&format!("{ok}, {ok}")).is_err());
    }

    #[test]
    fn compress_and_inflate_round_trip_at_every_window() {
        let text = r#"{"user":"ana","text":"hello there, how are you?"}"#.repeat(40);
        for bits in 9..=15 {
            let c = compress(text.as_bytes(), 6, bits).unwrap();
            assert!(c.len() < text.len() / 4, "{bits}: {}", c.len());
            assert_eq!(inflate(&c, text.len()).unwrap(), text.as_bytes());
        }
        // Random-looking bytes do not shrink: sent as they are.
        let mut x = 0x9E37_79B9_u32;
        let noise: Vec<u8> = (0..2000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x.to_le_bytes()[0]
            })
            .collect();
        assert_eq!(compress(&noise, 1, 15), None);
    }

    #[test]
    fn inflating_past_the_bound_stops_at_the_bound() {
        let zeros = vec![0u8; 10 << 20];
        let bomb = compress(&zeros, 9, 15).unwrap();
        assert!(bomb.len() < 20_000);
        let err = inflate(&bomb, 1 << 20).unwrap_err();
        assert_eq!(err.code(), CloseCode::TOO_BIG);
        // Exactly at the bound is fine.
        let exact = compress(&zeros[..1000], 9, 15).unwrap();
        assert_eq!(inflate(&exact, 1000).unwrap().len(), 1000);
        assert_eq!(inflate(&exact, 999).unwrap_err().code(), CloseCode::TOO_BIG);
    }

    #[test]
    fn corrupt_data_is_invalid() {
        let err = inflate(&[0xFF, 0xFF, 0xFF, 0xFF, 0x00], 1000).unwrap_err();
        assert_eq!(err.code(), CloseCode::INVALID_DATA);
        // A block type 3 (reserved) in the first header.
        let err = inflate(&[0x07, 0x00], 1000).unwrap_err();
        assert_eq!(err.code(), CloseCode::INVALID_DATA);
    }
}
