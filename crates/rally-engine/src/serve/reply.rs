//! Writing a reply's head and body as hyper does.

use std::{
    cell::Cell,
    io::Write,
    time::{SystemTime, UNIX_EPOCH},
};

use bytes::Buf;
use http::{HeaderMap, Method, StatusCode, Version, header};

use super::head::has_token;
use crate::engine::BoxError;

thread_local! {
    /// The `Date` of this second, formatted once.
    static DATE: Cell<(u64, [u8; 29])> = const { Cell::new((0, [0; 29])) };
}

/// Whether a `Connection` header of `headers` lists `token`.
pub(super) fn connection_has(headers: &HeaderMap, token: &str) -> bool {
    (headers.get_all(header::CONNECTION).iter()).any(|v| has_token(v, token))
}

/// Whether a reply with `status` to a `method` request has a body.
pub(super) fn can_have_body(method: &Method, status: StatusCode) -> bool {
    *method != Method::HEAD && can_have_length(method, status)
}

/// Whether a reply with `status` to a `method` request may carry a
/// `Content-Length`.
fn can_have_length(method: &Method, status: StatusCode) -> bool {
    let connected = *method == Method::CONNECT && status.is_success();
    let empty = matches!(status, StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED);
    !(status.is_informational() || connected || empty)
}

/// Lays out a reply's head as hyper does: the status line, the headers in
/// order (names in lower case), `connection: close` when the connection
/// ends after it, the length (or chunked) unless given, the date.
#[expect(
    clippy::too_many_arguments,
    reason = "one call site, each a part of the head"
)]
pub(super) fn head_bytes(
    out: &mut Vec<u8>,
    version: Version,
    status: StatusCode,
    headers: &HeaderMap,
    method: &Method,
    length: Option<u64>,
    chunked: bool,
    close: bool,
) {
    status_line(out, version, status);
    let mut close_written = !close;
    let mut last_connection = None;
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
        if name == header::CONNECTION {
            last_connection = Some(out.len());
            close_written |= has_token(value, "close");
        }
    }
    if !close_written {
        // hyper appends `close` to the `Connection` values: a line after
        // the last one, or a header of its own at the end.
        let line = b"connection: close\r\n";
        match last_connection {
            Some(at) => drop(out.splice(at..at, line.iter().copied())),
            None => out.extend_from_slice(line),
        }
    }
    let given_length = headers.contains_key(header::CONTENT_LENGTH)
        || headers.contains_key(header::TRANSFER_ENCODING);
    if !given_length {
        if chunked {
            out.extend_from_slice(b"transfer-encoding: chunked\r\n");
        } else if let Some(length) = length {
            let implicit_zero_allowed = *method != Method::HEAD;
            if can_have_length(method, status) && (length > 0 || implicit_zero_allowed) {
                out.extend_from_slice(b"content-length: ");
                let _ = write!(out, "{length}");
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    if !headers.contains_key(header::DATE) {
        date_line(out);
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends a body frame (`None`: the end) to `out`; true at the end, or
/// on an error (`failed` set).
pub(super) fn body_frame<D: Buf>(
    out: &mut Vec<u8>,
    frame: Option<Result<http_body::Frame<D>, BoxError>>,
    chunked: bool,
    failed: &mut bool,
) -> bool {
    match frame {
        None => {
            if chunked {
                out.extend_from_slice(b"0\r\n\r\n");
            }
            true
        }
        Some(Err(e)) => {
            tracing::debug!(error = %e, "reply body failed");
            *failed = true;
            true
        }
        Some(Ok(frame)) => {
            let Ok(mut data) = frame.into_data() else {
                return false;
            };
            if chunked && data.has_remaining() {
                let _ = write!(out, "{:x}\r\n", data.remaining());
            }
            let had = data.has_remaining();
            while data.has_remaining() {
                let chunk = data.chunk();
                out.extend_from_slice(chunk);
                let n = chunk.len();
                data.advance(n);
            }
            if chunked && had {
                out.extend_from_slice(b"\r\n");
            }
            false
        }
    }
}

/// `HTTP/1.1 200 OK\r\n` and the like.
pub(super) fn status_line(out: &mut Vec<u8>, version: Version, status: StatusCode) {
    if version == Version::HTTP_11 && status == StatusCode::OK {
        out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        return;
    }
    out.extend_from_slice(if version == Version::HTTP_10 {
        b"HTTP/1.0 "
    } else {
        b"HTTP/1.1 "
    });
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("<none>").as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// `date: <now>\r\n`, the date formatted once a second per thread.
pub(super) fn date_line(out: &mut Vec<u8>) {
    let now = SystemTime::now();
    let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (at, mut date) = DATE.get();
    if at != second || at == 0 {
        date.copy_from_slice(&httpdate::fmt_http_date(now).as_bytes()[..29]);
        DATE.set((second, date));
    }
    out.extend_from_slice(b"date: ");
    out.extend_from_slice(&date);
    out.extend_from_slice(b"\r\n");
}
