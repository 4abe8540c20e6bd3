use std::{borrow::Cow, fmt, net::SocketAddr, time::SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Uri};

use crate::Transport;

/// The address of the peer of a connection, put in request extensions by
/// [`serve`](crate::serve) (or by your own accept loop) so that sessions can
/// tell where they come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteAddr(pub SocketAddr);

/// The mark of a request that came over TLS, put in request extensions by
/// `serve_tls` (the `tls` feature; or by your own accept loop, after its
/// TLS handshake): a session opened by such a request has
/// [`Handshake::secure`] set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Secure;

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
    /// The request's headers, kept compactly (see [`Headers`]).
    pub headers: Headers,
    /// The peer's address, when the server knows it (see [`RemoteAddr`]).
    pub remote_addr: Option<SocketAddr>,
    /// When the session was opened.
    pub issued: SystemTime,
    /// The transport the session started on.
    pub transport: Transport,
    /// Whether the connection came over TLS (the request had the [`Secure`]
    /// extension).
    pub secure: bool,
}

impl Default for Handshake {
    fn default() -> Self {
        Self {
            uri: Uri::default(),
            headers: Headers::default(),
            remote_addr: None,
            issued: SystemTime::UNIX_EPOCH,
            transport: Transport::Polling,
            secure: false,
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

/// The headers of a handshake request, in one allocation of their own.
///
/// A session keeps them for its whole life, so they are stored as compactly
/// as they came: `name:value` lines in one buffer (a few hundred bytes for a
/// browser), where a `HeaderMap` would take several kilobytes of tables, and
/// hyper's header values would keep the connection's 8 KiB read buffer
/// alive. [`Headers::to_header_map`] makes a `HeaderMap` when one is needed.
///
/// ```
/// use rally_engine::Headers;
///
/// let mut map = http::HeaderMap::new();
/// map.insert("x-token", "abc".parse().unwrap());
/// map.append("cookie", "a=1".parse().unwrap());
/// map.append("cookie", "b=2".parse().unwrap());
/// let headers = Headers::from(&map);
/// assert_eq!(headers.get("X-Token"), Some("abc"));
/// assert_eq!(headers.get_all("cookie").collect::<Vec<_>>(), [&b"a=1"[..], b"b=2"]);
/// assert_eq!(headers.to_header_map(), map);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers(Bytes);

impl Headers {
    /// Every header as (lowercase name, value bytes), in request order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.0
            .split(|b| *b == b'\n')
            .filter(|line| !line.is_empty())
            .filter_map(|line| {
                let colon = line.iter().position(|b| *b == b':')?;
                let name = std::str::from_utf8(&line[..colon]).ok()?;
                Some((name, &line[colon + 1..]))
            })
    }

    /// The values of the header `name` (any case), in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> {
        self.iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    /// The first value of the header `name` (any case), when it is text.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// How many header lines there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The headers as a `HeaderMap`.
    #[must_use]
    pub fn to_header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in self.iter() {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_bytes(value),
            ) {
                map.append(name, value);
            }
        }
        map
    }
}

impl From<&HeaderMap> for Headers {
    fn from(map: &HeaderMap) -> Self {
        let len = map
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 2)
            .sum();
        let mut buf = Vec::with_capacity(len);
        for (name, value) in map {
            buf.extend_from_slice(name.as_str().as_bytes());
            buf.push(b':');
            buf.extend_from_slice(value.as_bytes());
            buf.push(b'\n');
        }
        Self(Bytes::from(buf))
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.iter()
                    .map(|(name, value)| (name, String::from_utf8_lossy(value))),
            )
            .finish()
    }
}

/// A copy of `uri` that shares nothing with the request's buffer (hyper's
/// would keep the connection's read buffer alive).
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
        headers.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_static("token"),
        );
        let uri = Uri::from_maybe_shared(request.slice(4..)).unwrap();

        let copy = Headers::from(&headers);
        assert_eq!(copy.to_header_map(), headers);
        assert_eq!(copy.get("authorization"), Some("token"));
        let inside = |p: *const u8| request.as_ptr_range().contains(&p);
        assert!(copy.iter().all(|(_, v)| !inside(v.as_ptr())));
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
