//! Where the server is: the URL split into what each request needs.

use std::fmt::Write as _;

use http::Uri;

use crate::{Error, Transport, tls::Tls};

/// The server's address and the Engine.IO request path and query.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    /// The host to connect to, without IPv6 brackets.
    pub(crate) host: String,
    /// The TCP port.
    pub(crate) port: u16,
    /// Whether the URL asks for TLS (`https`, `wss`).
    pub(crate) secure: bool,
    /// The TLS configuration, set by the manager's builder when `secure`.
    pub(crate) tls: Option<Tls>,
    /// The `Host` header: the host, bracketed if IPv6, and the port unless
    /// the scheme's default (80, or 443 with TLS).
    pub(crate) authority: String,
    /// The Engine.IO path, with its trailing slash (`/socket.io/`).
    pub(crate) path: String,
    /// The user's query pairs, already encoded (`a=1&b=2`), maybe empty.
    pub(crate) query: String,
}

/// A URL taken apart: the endpoint (with the default path) and the URL's
/// own path, which names a namespace.
#[derive(Debug, Clone)]
pub(crate) struct ParsedUrl {
    pub(crate) endpoint: Endpoint,
    pub(crate) namespace: String,
}

impl ParsedUrl {
    /// Parses `http://host[:port][/namespace][?query]` (`ws` is taken as
    /// `http`, `wss` as `https`). The TLS configuration is left for the
    /// builder to set.
    pub(crate) fn parse(url: &str) -> Result<Self, Error> {
        let uri: Uri = url
            .parse()
            .map_err(|e: http::uri::InvalidUri| Error::InvalidUrl(format!("{url}: {e}")))?;
        let (secure, default_port) = match uri.scheme_str() {
            Some("http" | "ws") => (false, 80),
            Some("https" | "wss") => (true, 443),
            _ => {
                return Err(Error::InvalidUrl(format!(
                    "{url}: expected http://, https://, ws:// or wss://"
                )));
            }
        };
        let raw_host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| Error::InvalidUrl(format!("{url}: no host")))?;
        let port = uri.port_u16().unwrap_or(default_port);
        let host = raw_host.trim_start_matches('[').trim_end_matches(']');
        let bracketed = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        let authority = if port == default_port {
            bracketed
        } else {
            format!("{bracketed}:{port}")
        };
        let namespace = match uri.path() {
            "" | "/" => "/".to_owned(),
            path => path.to_owned(),
        };
        Ok(Self {
            endpoint: Endpoint {
                host: host.to_owned(),
                port,
                secure,
                tls: None,
                authority,
                path: "/socket.io/".to_owned(),
                query: uri.query().unwrap_or_default().to_owned(),
            },
            namespace,
        })
    }
}

impl Endpoint {
    /// Sets the Engine.IO path, with exactly one trailing slash.
    pub(crate) fn set_path(&mut self, path: &str) {
        let trimmed = path.trim_end_matches('/');
        self.path = if trimmed.starts_with('/') {
            format!("{trimmed}/")
        } else {
            format!("/{trimmed}/")
        };
    }

    /// Appends `key=value` to the query, both percent-encoded.
    pub(crate) fn add_query(&mut self, key: &str, value: &str) {
        if !self.query.is_empty() {
            self.query.push('&');
        }
        encode_component(&mut self.query, key);
        self.query.push('=');
        encode_component(&mut self.query, value);
    }

    /// The request target (path and query) of an Engine.IO request.
    pub(crate) fn target(&self, transport: Transport, sid: Option<&str>) -> String {
        let mut target = String::with_capacity(self.path.len() + self.query.len() + 64);
        target.push_str(&self.path);
        target.push('?');
        if !self.query.is_empty() {
            target.push_str(&self.query);
            target.push('&');
        }
        target.push_str("EIO=4&transport=");
        target.push_str(transport.as_str());
        if let Some(sid) = sid {
            target.push_str("&sid=");
            encode_component(&mut target, sid);
        }
        target
    }
}

/// Appends `s` percent-encoded as JavaScript's `encodeURIComponent` does.
fn encode_component(out: &mut String, s: &str) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let p = ParsedUrl::parse("http://127.0.0.1:3000/admin?token=a%20b").unwrap();
        assert_eq!(p.namespace, "/admin");
        assert_eq!(p.endpoint.host, "127.0.0.1");
        assert_eq!(p.endpoint.port, 3000);
        assert_eq!(p.endpoint.authority, "127.0.0.1:3000");
        assert_eq!(
            p.endpoint.target(Transport::Polling, None),
            "/socket.io/?token=a%20b&EIO=4&transport=polling"
        );
        let p = ParsedUrl::parse("ws://[::1]/").unwrap();
        assert_eq!((p.endpoint.host.as_str(), p.endpoint.port), ("::1", 80));
        assert_eq!(p.endpoint.authority, "[::1]");
        assert_eq!(p.namespace, "/");
        assert!(!p.endpoint.secure);
        let p = ParsedUrl::parse("https://example.com/chat").unwrap();
        assert!(p.endpoint.secure);
        assert_eq!(
            (p.endpoint.port, p.endpoint.authority.as_str()),
            (443, "example.com")
        );
        let p = ParsedUrl::parse("wss://localhost:8443").unwrap();
        assert!(p.endpoint.secure);
        assert_eq!(p.endpoint.authority, "localhost:8443");
        assert_eq!(
            p.endpoint.target(Transport::WebSocket, Some("a+b")),
            "/socket.io/?EIO=4&transport=websocket&sid=a%2Bb"
        );
    }

    #[test]
    fn refuses_bad_urls() {
        for bad in ["ftp://x", "x", "http://", "https://", ""] {
            assert!(
                matches!(ParsedUrl::parse(bad), Err(Error::InvalidUrl(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn paths_and_queries() {
        let mut e = ParsedUrl::parse("http://h").unwrap().endpoint;
        e.set_path("engine.io");
        assert_eq!(e.path, "/engine.io/");
        e.set_path("/x//");
        assert_eq!(e.path, "/x/");
        e.add_query("k", "é &=");
        e.add_query("n", "1");
        assert_eq!(
            e.target(Transport::Polling, Some("s")),
            "/x/?k=%C3%A9%20%26%3D&n=1&EIO=4&transport=polling&sid=s"
        );
    }
}
