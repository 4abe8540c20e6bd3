//! Reading a request head: what hyper would make of it.

use http::{
    HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri, Version, header,
    request::Parts,
};

use bytes::Bytes;

use super::body::{Chunk, Decoder};

/// A request head, read.
pub(super) struct Head {
    pub(super) parts: Parts,
    pub(super) decoder: Decoder,
    pub(super) keep_alive: bool,
    pub(super) expect_continue: bool,
    pub(super) wants_upgrade: bool,
}

/// The request head `req` (parsed whole), or the status refusing it.
pub(super) fn head(req: &httparse::Request<'_, '_>, raw: &[u8]) -> Result<Head, StatusCode> {
    let (Some(method), Some(path), Some(minor)) = (req.method, req.path, req.version) else {
        return Err(StatusCode::BAD_REQUEST);
    };
    let method = Method::from_bytes(method.as_bytes()).map_err(|_| StatusCode::BAD_REQUEST)?;
    if path.len() >= usize::from(u16::MAX) {
        return Err(StatusCode::URI_TOO_LONG);
    }
    let uri: Uri = path.parse().map_err(|_| StatusCode::BAD_REQUEST)?;
    let version = if minor == 1 {
        Version::HTTP_11
    } else {
        Version::HTTP_10
    };
    let mut headers = HeaderMap::with_capacity(req.headers.len());
    // The header values share one copy of the head, as hyper's do: one
    // allocation for the request, not one per header.
    let shared = Bytes::copy_from_slice(raw);
    let base = raw.as_ptr() as usize;
    let mut keep_alive = version == Version::HTTP_11;
    let mut closes = false;
    let (mut length, mut chunked, mut transfer_encoding) = (None, false, false);
    let (mut expect_continue, mut wants_upgrade) = (false, false);
    for h in req.headers.iter() {
        let name =
            HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| StatusCode::BAD_REQUEST)?;
        let at = (h.value.as_ptr() as usize).wrapping_sub(base);
        let value = match shared.get(at..at + h.value.len()) {
            Some(bytes) if bytes.as_ptr() == h.value.as_ptr() || h.value.is_empty() => {
                HeaderValue::from_maybe_shared(shared.slice(at..at + h.value.len()))
            }
            _ => HeaderValue::from_bytes(h.value),
        }
        .map_err(|_| StatusCode::BAD_REQUEST)?;
        match name {
            header::TRANSFER_ENCODING => {
                if version != Version::HTTP_11 {
                    return Err(StatusCode::BAD_REQUEST);
                }
                transfer_encoding = true;
                chunked = is_chunked(&value);
            }
            header::CONTENT_LENGTH => {
                let len = std::str::from_utf8(h.value)
                    .ok()
                    .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|v| v.parse::<u64>().ok())
                    .ok_or(StatusCode::BAD_REQUEST)?;
                if length.is_some_and(|previous| previous != len) {
                    return Err(StatusCode::BAD_REQUEST);
                }
                length = Some(len);
            }
            header::CONNECTION => {
                if closes || has_token(&value, "close") {
                    closes = true;
                    keep_alive = false;
                } else if !keep_alive {
                    keep_alive = has_token(&value, "keep-alive");
                }
            }
            header::EXPECT => {
                expect_continue = h.value.eq_ignore_ascii_case(b"100-continue");
            }
            header::UPGRADE => wants_upgrade = version == Version::HTTP_11,
            _ => {}
        }
        headers.append(name, value);
    }
    let decoder = if transfer_encoding {
        if !chunked {
            return Err(StatusCode::BAD_REQUEST);
        }
        if length.is_some() {
            // Both framings: the chunks count, and nothing may follow.
            headers.remove(header::CONTENT_LENGTH);
            keep_alive = false;
        }
        Decoder::Chunked(Chunk::Size(0, false))
    } else {
        Decoder::Length(length.unwrap_or(0))
    };
    let mut request = Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = version;
    *request.headers_mut() = headers;
    let (parts, ()) = request.into_parts();
    Ok(Head {
        parts,
        decoder,
        keep_alive,
        expect_continue,
        wants_upgrade,
    })
}

/// Whether `chunked` is the last of the codings `value` lists.
fn is_chunked(value: &HeaderValue) -> bool {
    value
        .to_str()
        .ok()
        .and_then(|v| v.rsplit(',').next())
        .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
}

/// Whether a `Connection` value lists `token`.
pub(super) fn has_token(value: &HeaderValue, token: &str) -> bool {
    value
        .to_str()
        .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}
