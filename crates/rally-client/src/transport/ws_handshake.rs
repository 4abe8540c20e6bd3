//! The client's side of the WebSocket opening handshake (RFC 6455, section
//! 4): the upgrade request, then the checks of the server's `101` reply,
//! permessage-deflate's among them (RFC 7692).

use base64::{Engine as _, engine::general_purpose::STANDARD};
use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use rally_proto::ws::{accept_key, deflate};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{
    Transport, TransportError,
    transport::{http::Response, stream::Stream},
    url::Endpoint,
};

/// The largest reply head accepted, and the most of a refusal's body read.
const MAX_HEAD: usize = 16 * 1024;

/// A WebSocket whose handshake succeeded.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) stream: Stream,
    /// What the server sent after its reply (the first frames, maybe).
    pub(crate) early: Vec<u8>,
    /// Whether permessage-deflate was agreed.
    pub(crate) deflate: bool,
    /// The window, in bits, the server let the client compress with.
    pub(crate) client_window_bits: u8,
}

/// Connects to the endpoint and opens the WebSocket transport, for session
/// `sid` when upgrading, offering permessage-deflate when `offer_deflate`.
///
/// The request carries `Host`, the upgrade headers, a random
/// `Sec-WebSocket-Key`, the deflate offer and the user's extra headers.
pub(crate) async fn open(
    endpoint: &Endpoint,
    headers: &[(HeaderName, HeaderValue)],
    sid: Option<&str>,
    offer_deflate: bool,
) -> Result<Opened, TransportError> {
    let key = STANDARD.encode(fastrand::u128(..).to_ne_bytes());
    let request = encode_request(endpoint, headers, sid, &key, offer_deflate);
    let mut stream = Stream::connect(endpoint).await?;
    stream.write_all(&request).await?;
    stream.flush().await?;
    let mut buf = Vec::with_capacity(1024);
    let end = loop {
        if let Some(at) = find(&buf, b"\r\n\r\n") {
            break at + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err(TransportError::InvalidResponse(
                "websocket handshake reply too large",
            ));
        }
        buf.reserve(1024);
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
        }
    };
    let reply = Reply::parse(&buf[..end]).ok_or(TransportError::InvalidResponse(
        "malformed websocket handshake reply",
    ))?;
    if reply.status != 101 {
        let body = refusal_body(&mut stream, buf.split_off(end), reply.content_length).await;
        let refusal = Response {
            status: reply.status,
            body,
        };
        return Err(refusal.ok_body().err().unwrap_or(TransportError::Http {
            status: reply.status,
            message: String::new(),
        }));
    }
    let (deflate, client_window_bits) = reply.check(&key, offer_deflate)?;
    Ok(Opened {
        stream,
        early: buf.split_off(end),
        deflate,
        client_window_bits,
    })
}

/// The upgrade request.
fn encode_request(
    endpoint: &Endpoint,
    headers: &[(HeaderName, HeaderValue)],
    sid: Option<&str>,
    key: &str,
    offer_deflate: bool,
) -> Vec<u8> {
    let target = endpoint.target(Transport::WebSocket, sid);
    let mut out = Vec::with_capacity(256 + target.len());
    out.extend_from_slice(b"GET ");
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(endpoint.authority.as_bytes());
    out.extend_from_slice(b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\r\nSec-WebSocket-Version: 13\r\n");
    if offer_deflate {
        out.extend_from_slice(b"Sec-WebSocket-Extensions: ");
        out.extend_from_slice(deflate::CLIENT_OFFER.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The body of a refusal (the Engine.IO error, when the server sent one):
/// what came with the head and, when the length is known, the rest of it,
/// up to a bound.
async fn refusal_body(stream: &mut Stream, mut body: Vec<u8>, length: Option<usize>) -> Bytes {
    if let Some(length) = length {
        let want = length.min(MAX_HEAD);
        while body.len() < want {
            body.reserve(want - body.len());
            match stream.read_buf(&mut body).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        body.truncate(want);
    }
    Bytes::from(body)
}

/// The parts of the server's reply the handshake checks.
#[derive(Debug, Default, PartialEq, Eq)]
struct Reply {
    status: u16,
    content_length: Option<usize>,
    upgrade_websocket: bool,
    connection_upgrade: bool,
    accept: Option<String>,
    /// Every `Sec-WebSocket-Extensions` value, joined by commas.
    extensions: String,
    protocol: bool,
}

impl Reply {
    fn parse(head: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(head).ok()?;
        let mut lines = text.split("\r\n");
        let mut status_line = lines.next()?.split(' ');
        if !status_line.next()?.starts_with("HTTP/1.") {
            return None;
        }
        let mut reply = Self {
            status: status_line.next()?.parse().ok()?,
            ..Self::default()
        };
        let has_token = |value: &str, token: &str| {
            value
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case(token))
        };
        for line in lines.filter(|l| !l.is_empty()) {
            let (name, value) = line.split_once(':')?;
            let (name, value) = (name.trim(), value.trim());
            if name.eq_ignore_ascii_case("upgrade") {
                reply.upgrade_websocket |= has_token(value, "websocket");
            } else if name.eq_ignore_ascii_case("connection") {
                reply.connection_upgrade |= has_token(value, "upgrade");
            } else if name.eq_ignore_ascii_case("sec-websocket-accept") {
                reply.accept = Some(value.to_owned());
            } else if name.eq_ignore_ascii_case("sec-websocket-extensions") {
                if !reply.extensions.is_empty() {
                    reply.extensions.push_str(", ");
                }
                reply.extensions.push_str(value);
            } else if name.eq_ignore_ascii_case("sec-websocket-protocol") {
                reply.protocol = true;
            } else if name.eq_ignore_ascii_case("content-length") {
                reply.content_length = value.parse().ok();
            }
        }
        Some(reply)
    }

    /// Checks a `101` reply to the request with `key`: whether deflate
    /// was agreed, and the window the client may compress with.
    fn check(&self, key: &str, offered_deflate: bool) -> Result<(bool, u8), TransportError> {
        let invalid = TransportError::InvalidResponse;
        if !self.upgrade_websocket || !self.connection_upgrade {
            return Err(invalid("websocket upgrade headers missing"));
        }
        if self.accept.as_deref() != Some(accept_key(key.as_bytes()).as_str()) {
            return Err(invalid("wrong Sec-WebSocket-Accept"));
        }
        if self.protocol {
            return Err(invalid("websocket subprotocol not asked for"));
        }
        if self.extensions.is_empty() {
            return Ok((false, 15));
        }
        if !offered_deflate {
            return Err(invalid("websocket extension not asked for"));
        }
        let agreed = deflate::check_response(&self.extensions)?;
        Ok((agreed, client_window_bits(&self.extensions)))
    }
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The `client_max_window_bits` a server's deflate reply sets (15 when it
/// sets none).
fn client_window_bits(extensions: &str) -> u8 {
    extensions
        .split(';')
        .filter_map(|param| param.split_once('='))
        .find(|(name, _)| name.trim() == "client_max_window_bits")
        .and_then(|(_, bits)| bits.trim().trim_matches('"').parse().ok())
        .unwrap_or(15)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::url::ParsedUrl;

    #[test]
    fn the_request_carries_the_upgrade_offer_and_extra_headers() {
        let endpoint = ParsedUrl::parse("http://127.0.0.1:3000/?a=b")
            .unwrap()
            .endpoint;
        let headers = [(
            HeaderName::from_static("cookie"),
            HeaderValue::from_static("x=1"),
        )];
        let request = encode_request(&endpoint, &headers, Some("s1"), "KEY", true);
        assert_eq!(
            String::from_utf8(request).unwrap(),
            "GET /socket.io/?a=b&EIO=4&transport=websocket&sid=s1 HTTP/1.1\r\n\
             Host: 127.0.0.1:3000\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: KEY\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; \
             client_no_context_takeover\r\ncookie: x=1\r\n\r\n"
        );
        let plain = encode_request(&endpoint, &[], None, "KEY", false);
        assert!(!String::from_utf8(plain).unwrap().contains("Extensions"));
    }

    fn reply(extra: &str) -> Reply {
        // The key and answer of RFC 6455, section 1.3.
        let head = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n{extra}\r\n"
        );
        Reply::parse(head.as_bytes()).unwrap()
    }

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    #[test]
    fn replies_are_checked() {
        assert_eq!(reply("").check(KEY, true).unwrap(), (false, 15));
        let agreed = "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; \
                      client_no_context_takeover\r\n";
        assert_eq!(reply(agreed).check(KEY, true).unwrap(), (true, 15));
        let windowed = "Sec-WebSocket-Extensions: permessage-deflate; \
                        server_no_context_takeover; client_max_window_bits=10\r\n";
        assert_eq!(reply(windowed).check(KEY, true).unwrap(), (true, 10));
        // Not offered, or not what was offered.
        assert!(reply(agreed).check(KEY, false).is_err());
        let takeover = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
        assert!(reply(takeover).check(KEY, true).is_err());
        assert!(
            reply("Sec-WebSocket-Protocol: chat\r\n")
                .check(KEY, true)
                .is_err()
        );
        assert!(reply("").check("another key", true).is_err());
        let mut no_upgrade = reply("");
        no_upgrade.upgrade_websocket = false;
        assert!(no_upgrade.check(KEY, true).is_err());
    }

    #[test]
    fn refusals_and_garbage() {
        let refusal =
            Reply::parse(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n").unwrap();
        assert_eq!((refusal.status, refusal.content_length), (400, Some(12)));
        assert_eq!(Reply::parse(b"garbage\r\n\r\n"), None);
        assert_eq!(Reply::parse(b"HTTP/1.1 abc\r\n\r\n"), None);
    }
}
