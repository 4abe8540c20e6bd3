use std::{borrow::Cow, net::SocketAddr, time::SystemTime};

use bytes::BytesMut;
use http::{HeaderMap, HeaderValue, Uri};

use crate::Transport;

/// The address of the peer of a connection, put in request extensions by
/// [`serve`](crate::serve) (or by your own accept loop) so that sessions can
/// tell where they come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteAddr(pub SocketAddr);

/// What the client sent when it opened its session.
///
/// ```
/// # fn show(session: &rally_engine::Session) {
/// let handshake = session.handshake();
/// println!("{:?} from {:?}", handshake.query("token"), handshake.remote_addr);
/// # }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Handshake {
    /// The request's URI, query included.
    pub uri: Uri,
    /// The request's headers.
    pub headers: HeaderMap,
    /// The peer's address, when the server knows it (see [`RemoteAddr`]).
    pub remote_addr: Option<SocketAddr>,
    /// When the session was opened.
    pub issued: SystemTime,
    /// The transport the session started on.
    pub transport: Transport,
}

impl Default for Handshake {
    fn default() -> Self {
        Self {
            uri: Uri::default(),
            headers: HeaderMap::default(),
            remote_addr: None,
            issued: SystemTime::UNIX_EPOCH,
            transport: Transport::Polling,
        }
    }
}

impl Handshake {
    /// Every query parameter, percent-decoded, in order.
    #[must_use]
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        query_pairs(self.uri.query().unwrap_or_default())
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect()
    }

    /// The first value of the query parameter `name`, percent-decoded.
    #[must_use]
    pub fn query(&self, name: &str) -> Option<String> {
        query_pairs(self.uri.query().unwrap_or_default())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }
}

/// A copy of `headers` in one allocation of their own.
///
/// hyper's header values are slices of the connection's read buffer (8 KiB):
/// a session keeping them would keep that buffer alive as long as it lives.
pub(crate) fn detach_headers(headers: &HeaderMap) -> HeaderMap {
    let mut buf = BytesMut::with_capacity(headers.values().map(HeaderValue::len).sum());
    for value in headers.values() {
        buf.extend_from_slice(value.as_bytes());
    }
    let buf = buf.freeze();
    let mut out = HeaderMap::with_capacity(headers.keys_len());
    let mut at = 0;
    for (name, value) in headers {
        let end = at + value.len();
        let mut copy =
            HeaderValue::from_maybe_shared(buf.slice(at..end)).unwrap_or_else(|_| value.clone());
        copy.set_sensitive(value.is_sensitive());
        out.append(name.clone(), copy);
        at = end;
    }
    out
}

/// A copy of `uri` that shares nothing with the request's buffer (see
/// [`detach_headers`]).
pub(crate) fn detach_uri(uri: &Uri) -> Uri {
    // A request's target is a path and query: copied as they are, with no
    // formatting on the way.
    if let (None, Some(target)) = (uri.authority(), uri.path_and_query()) {
        let copy = bytes::Bytes::copy_from_slice(target.as_str().as_bytes());
        if let Ok(uri) = Uri::from_maybe_shared(copy) {
            return uri;
        }
    }
    Uri::try_from(uri.to_string()).unwrap_or_else(|_| uri.clone())
}

/// The decoded `key=value` pairs of a query string (borrowed when there is
/// nothing to decode).
pub(crate) fn query_pairs(query: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
}

/// Decodes `%XX` escapes and `+` as a space; invalid escapes stay as they are.
pub(crate) fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.bytes().any(|b| b == b'%' || b == b'+') {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detached_headers_share_nothing_with_the_request_buffer() {
        let request = bytes::Bytes::from_static(b"a, b/socket.io/?EIO=4&x=%20y");
        let mut headers = HeaderMap::new();
        headers.append(
            "x-one",
            HeaderValue::from_maybe_shared(request.slice(0..1)).unwrap(),
        );
        headers.append(
            "x-one",
            HeaderValue::from_maybe_shared(request.slice(3..4)).unwrap(),
        );
        let mut secret = HeaderValue::from_static("token");
        secret.set_sensitive(true);
        headers.insert(http::header::AUTHORIZATION, secret);
        let uri = Uri::from_maybe_shared(request.slice(4..)).unwrap();

        let copy = detach_headers(&headers);
        assert_eq!(copy, headers);
        assert!(copy[http::header::AUTHORIZATION].is_sensitive());
        let inside = |p: *const u8| request.as_ptr_range().contains(&p);
        assert!(copy.values().all(|v| !inside(v.as_bytes().as_ptr())));
        let uri_copy = detach_uri(&uri);
        assert_eq!(uri_copy, uri);
        assert!(!inside(uri_copy.path().as_ptr()));
        assert_eq!(uri_copy.query(), Some("EIO=4&x=%20y"));

        // An absolute target (as a proxy sends) keeps its scheme and host.
        let absolute = Uri::from_static("http://example.com:8080/socket.io/?EIO=4");
        assert_eq!(detach_uri(&absolute), absolute);
    }

    #[test]
    fn decodes_queries() {
        assert_eq!(percent_decode("a%20b+c%zz%4"), "a b c%zz%4");
        assert_eq!(percent_decode("%C3%A9"), "é");
        assert!(matches!(percent_decode("plain"), Cow::Borrowed("plain")));
        let pairs: Vec<_> = query_pairs("EIO=4&&transport=polling&flag").collect();
        assert_eq!(
            pairs,
            [("EIO", "4"), ("transport", "polling"), ("flag", "")]
                .map(|(k, v)| (Cow::Borrowed(k), Cow::Borrowed(v)))
        );
    }
}
