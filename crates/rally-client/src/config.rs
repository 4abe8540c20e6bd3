//! The manager's options, with the official client's defaults.

use std::{sync::Arc, time::Duration};

use http::{HeaderName, HeaderValue};
use rally_proto::socket::Parser;

use crate::{
    Error, Manager, Socket, Transport,
    engine::EngineConfig,
    tls::{Tls, TrustOptions},
    url::ParsedUrl,
};

/// Options of a [`Manager`], named after the official client's
/// (`reconnectionDelay` is [`reconnection_delay`](Self::reconnection_delay)),
/// with the same defaults.
///
/// ```
/// use std::time::Duration;
/// use rally_client::{Manager, Transport};
///
/// let manager = Manager::builder("http://127.0.0.1:3000")
///     .transports([Transport::WebSocket])
///     .reconnection_delay(Duration::from_millis(200))
///     .extra_header("authorization", "Bearer abc")
///     .build()?;
/// # Ok::<(), rally_client::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ManagerBuilder {
    url: String,
    path: Option<String>,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    transports: Vec<Transport>,
    upgrade: bool,
    per_message_deflate: bool,
    reconnection: bool,
    reconnection_attempts: Option<u32>,
    reconnection_delay: Duration,
    reconnection_delay_max: Duration,
    randomization_factor: f64,
    timeout: Duration,
    parser: Parser,
    retries: u32,
    ack_timeout: Option<Duration>,
    trust: TrustOptions,
}

/// The options, checked.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) engine: EngineConfig,
    pub(crate) reconnection: bool,
    pub(crate) reconnection_attempts: Option<u32>,
    pub(crate) reconnection_delay: Duration,
    pub(crate) reconnection_delay_max: Duration,
    pub(crate) randomization_factor: f64,
    pub(crate) timeout: Duration,
    pub(crate) parser: Parser,
    /// 0: no retry queue.
    pub(crate) retries: u32,
    pub(crate) ack_timeout: Option<Duration>,
}

impl ManagerBuilder {
    pub(crate) fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            path: None,
            query: Vec::new(),
            headers: Vec::new(),
            transports: vec![Transport::Polling, Transport::WebSocket],
            upgrade: true,
            per_message_deflate: true,
            reconnection: true,
            reconnection_attempts: None,
            reconnection_delay: Duration::from_millis(1000),
            reconnection_delay_max: Duration::from_millis(5000),
            randomization_factor: 0.5,
            timeout: Duration::from_millis(20_000),
            parser: Parser::Json,
            retries: 0,
            ack_timeout: None,
            trust: TrustOptions::default(),
        }
    }

    /// The Engine.IO path on the server (`path`). Default `/socket.io/`; a
    /// trailing slash is added.
    ///
    /// ```
    /// let manager = rally_client::Manager::builder("http://127.0.0.1:3000").path("/realtime").build()?;
    /// # Ok::<(), rally_client::Error>(())
    /// ```
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Adds a query parameter to every request (`query`), after those of
    /// the URL. Both are percent-encoded here.
    ///
    /// ```
    /// let manager = rally_client::Manager::builder("http://127.0.0.1:3000").query("token", "abc").build()?;
    /// # Ok::<(), rally_client::Error>(())
    /// ```
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }

    /// Adds a header to every HTTP request and to the WebSocket handshake
    /// (`extraHeaders`). Checked by [`build`](Self::build).
    ///
    /// ```
    /// let manager = rally_client::Manager::builder("http://127.0.0.1:3000").extra_header("authorization", "Bearer abc").build()?;
    /// # Ok::<(), rally_client::Error>(())
    /// ```
    #[doc(alias = "extraHeaders")]
    pub fn extra_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The transports to use, in order (`transports`). The connection opens
    /// on the first; with polling first and WebSocket listed, it then
    /// upgrades. Default: polling, then WebSocket.
    ///
    /// ```
    /// let manager = rally_client::Manager::builder("http://127.0.0.1:3000").transports([rally_client::Transport::WebSocket]).build()?;
    /// # Ok::<(), rally_client::Error>(())
    /// ```
    pub fn transports(mut self, transports: impl IntoIterator<Item = Transport>) -> Self {
        self.transports = transports.into_iter().collect();
        self
    }

    /// Whether to upgrade from polling to WebSocket (`upgrade`). Default
    /// `true`.
    ///
    /// ```
    /// let manager = rally_client::Manager::builder("http://127.0.0.1:3000").upgrade(false).build()?;
    /// # Ok::<(), rally_client::Error>(())
    /// ```
    pub fn upgrade(mut self, upgrade: bool) -> Self {
        self.upgrade = upgrade;
        self
    }

    /// Whether the WebSocket offers permessage-deflate (`perMessageDeflate`,
    /// RFC 7692). Default `true`, as the official client in Node.js.
    ///
    /// When the server agrees, messages of 1024 bytes or more are
    /// compressed (those that compressing would not shrink go as they are),
    /// and the server's compressed messages are inflated. Each message is
    /// compressed on its own: the client offers no context takeover either
    /// way, so a connection keeps no compressor state. A server that does
    /// not take the offer gets plain frames. Polling is not affected.
    ///
    /// ```
    /// let manager = rally_client::Manager::builder("http://127.0.0.1:3000").per_message_deflate(false).build()?;
    /// # Ok::<(), rally_client::Error>(())
    /// ```
    #[doc(alias = "perMessageDeflate")]
    pub fn per_message_deflate(mut self, enabled: bool) -> Self {
        self.per_message_deflate = enabled;
        self
    }

    /// Whether to reconnect after losing the connection (`reconnection`).
    /// Default `true`.
    ///
    /// ```
    /// let manager = rally_client::Manager::builder("http://127.0.0.1:3000").reconnection(false).build()?;
    /// # Ok::<(), rally_client::Error>(())
    /// ```
    pub fn reconnection(mut self, reconnection: bool) -> Self {
        self.reconnection = reconnection;
        self
    }

    /// How many reconnection attempts to make before giving up
    /// (`reconnectionAttempts`). Default: no limit.
    ///
    /// ```
    /// let manager = rally_client::Manager::builder("http://127.0.0.1:3000").reconnection_attempts(10).build()?;
    /// # Ok::<(), rally_client::Error>(())
    /// ```
    #[doc(alias = "reconnectionAttempts")]
    pub fn reconnection_attempts(mut self, attempts: u32) -> Self {
        self.reconnection_attempts = Some(attempts);
        self
    }

    /// The delay before the first reconnection attempt, doubled after each
    /// failure (`reconnectionDelay`). Default 1 s.
    ///
    /// ```
    /// let manager = rally_client::Manager::builder("http://127.0.0.1:3000").reconnection_delay(std::time::Duration::from_millis(500)).build()?;
    /// # Ok::<(), rally_client::Error>(())
    /// ```
    #[doc(alias = "reconnectionDelay")]
    pub fn reconnection_delay(mut self, delay: Duration) -> Self {
        self.reconnection_delay = delay;
        self
    }

    /// The longest delay between two attempts (`reconnectionDelayMax`).
    /// Default 5 s.
    ///
    /// ```
    /// let manager = rally_client::Manager::builder("http://127.0.0.1:3000").reconnection_delay_max(std::time::Duration::from_secs(30)).build()?;
    /// # Ok::<(), rally_client::Error>(())
    /// ```
    #[doc(alias = "reconnectionDelayMax")]
    pub fn reconnection_delay_max(mut self, delay: Duration) -> Self {
        self.reconnection_delay_max = delay;
        self
    }

    /// How much each delay varies at random, from 0 to 1
    /// (`randomizationFactor`): 0.5 makes a 1 s delay anything from 0.5 to
    /// 1.5 s. Default 0.5.
    ///
    /// ```
    /// let manager = rally_client::Manager::builder("http://127.0.0.1:3000").randomization_factor(0.0).build()?;
    /// # Ok::<(), rally_client::Error>(())
    /// ```
    #[doc(alias = "randomizationFactor")]
    pub fn randomization_factor(mut self, factor: f64) -> Self {
        self.randomization_factor = factor;
        self
    }

    /// How long opening the connection may take (`timeout`). Default 20 s.
    ///
    /// ```
    /// let manager = rally_client::Manager::builder("http://127.0.0.1:3000").timeout(std::time::Duration::from_secs(5)).build()?;
    /// # Ok::<(), rally_client::Error>(())
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The Socket.IO parser (the reference's `parser` option), which must be
    /// the server's: [`Parser::Json`], the default, or [`Parser::MsgPack`]
    /// for a server with `socket.io-msgpack-parser`.
    ///
    /// ```
    /// use rally_client::{Manager, Parser};
    ///
    /// let manager = Manager::builder("http://127.0.0.1:3000").parser(Parser::MsgPack).build()?;
    /// # drop(manager);
    /// # Ok::<(), rally_client::Error>(())
    /// ```
    pub fn parser(mut self, parser: Parser) -> Self {
        self.parser = parser;
        self
    }

    /// Delivers every emit at least once, in order (`retries`): each
    /// socket's emits go out one at a time, each asking for an
    /// acknowledgement, and an emit whose try fails (no answer within its
    /// time limit, see [`ack_timeout`](Self::ack_timeout)) is sent again,
    /// up to `retries` more times; then it is dropped, and an
    /// [`emit_with_ack`](crate::Socket::emit_with_ack) gets the failure
    /// ([`AckError::Timeout`](crate::AckError::Timeout)). While the socket
    /// is disconnected the queue waits, and goes on when it connects again;
    /// a connection lost during a try with a time limit counts as a failed
    /// try. [`volatile`](crate::Socket::volatile) emits skip the queue.
    /// Default 0: no queue, every emit goes out at once.
    ///
    /// The server must acknowledge every event, even plain
    /// [`emit`](crate::Socket::emit)s: the queue waits for the answer to
    /// each before sending the next (and, without a time limit, waits as
    /// long as the connection lasts). In the official client this is a
    /// socket option, which `io(url, { retries })` gives the socket it
    /// makes; here it applies to every socket of the manager.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let manager = rally_client::Manager::builder("http://127.0.0.1:3000")
    ///     .retries(3)
    ///     .ack_timeout(Duration::from_secs(2))
    ///     .build()?;
    /// # Ok::<(), rally_client::Error>(())
    /// ```
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// The time limit on the answer of every emit that asks for one
    /// (`ackTimeout`), unless the emit sets its own with
    /// [`Socket::timeout`](crate::Socket::timeout): past it,
    /// [`emit_with_ack`](crate::Socket::emit_with_ack) fails with
    /// [`AckError::Timeout`](crate::AckError::Timeout), or, with
    /// [`retries`](Self::retries), the try fails and the emit is sent again.
    /// Default: no limit. A socket option in the official client, as
    /// `retries` is; here it applies to every socket of the manager.
    ///
    /// ```
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    ///
    /// let socket = rally_client::Manager::builder("http://127.0.0.1:3000")
    ///     .ack_timeout(Duration::from_secs(5))
    ///     .socket()?;
    /// socket.connect().await?;
    /// // Fails with AckError::Timeout after 5 s without an answer.
    /// let reply = socket.emit_with_ack("status", ()).await;
    /// # Ok(()) }
    /// ```
    #[doc(alias = "ackTimeout")]
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.ack_timeout = Some(timeout);
        self
    }

    /// Trusts the root certificates in `pem` (one or more PEM
    /// `CERTIFICATE` blocks) for `https://` and `wss://` URLs, besides the
    /// platform's roots (which are always trusted). Repeatable. Checked by
    /// [`build`](Self::build). The official client's `ca` option.
    ///
    /// A server whose certificate no trusted root signed is refused: the
    /// connection fails with [`TransportError::Tls`](crate::TransportError::Tls),
    /// whose cause names the problem (`invalid peer certificate:
    /// UnknownIssuer`).
    ///
    /// ```no_run
    /// let pem = std::fs::read("ca.pem")?;
    /// let manager = rally_client::Manager::builder("https://localhost:3443")
    ///     .ca_certificates(pem)
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[doc(alias = "ca")]
    pub fn ca_certificates(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.trust.extra_roots.push(pem.into());
        self
    }

    /// **Dangerous**: accepts any certificate from an `https://` or
    /// `wss://` server, for any name, trusted or not, expired or not
    /// (the official client's `rejectUnauthorized: false`). Anyone on the
    /// path can then read and change the traffic. For development against
    /// a server with a self-signed certificate only; a warning is logged
    /// when a manager is built with it. Default `false`.
    ///
    /// ```
    /// let manager = rally_client::Manager::builder("https://localhost:3443")
    ///     .danger_accept_invalid_certificates(true)
    ///     .build()?;
    /// # Ok::<(), rally_client::Error>(())
    /// ```
    #[doc(alias = "rejectUnauthorized")]
    pub fn danger_accept_invalid_certificates(mut self, accept: bool) -> Self {
        self.trust.accept_invalid = accept;
        self
    }

    /// The manager. It connects when a socket does.
    ///
    /// ```
    /// let manager = rally_client::Manager::builder("http://127.0.0.1:3000").build()?;
    /// # Ok::<(), rally_client::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`] for a URL that is not `http://`, `https://`,
    /// `ws://` or `wss://` with a host, [`Error::InvalidOption`] for a bad
    /// header, no transport, or CA certificates that are not PEM
    /// certificates.
    pub fn build(self) -> Result<Manager, Error> {
        let (config, _) = self.config()?;
        Ok(Manager::with_config(config))
    }

    /// The manager, and its socket for the namespace named by the URL's path
    /// (`/` when it has none), as `io(url)` gives in JavaScript.
    ///
    /// ```
    /// let socket = rally_client::Manager::builder("http://127.0.0.1:3000/admin").socket()?;
    /// assert_eq!(socket.nsp(), "/admin");
    /// # Ok::<(), rally_client::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`build`](Self::build).
    pub fn socket(self) -> Result<Socket, Error> {
        let (config, namespace) = self.config()?;
        Ok(Manager::with_config(config).socket(&namespace))
    }

    fn config(self) -> Result<(Config, String), Error> {
        let parsed = ParsedUrl::parse(&self.url)?;
        let mut endpoint = parsed.endpoint;
        if endpoint.secure {
            // Built once here: every request and WebSocket of the manager
            // shares it (and its session cache).
            endpoint.tls = Some(Tls::new(&endpoint.host, &self.trust)?);
        }
        if let Some(path) = &self.path {
            endpoint.set_path(path);
        }
        for (key, value) in &self.query {
            endpoint.add_query(key, value);
        }
        let mut headers = Vec::with_capacity(self.headers.len());
        for (name, value) in &self.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Error::InvalidOption(format!("header name {name:?}")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| Error::InvalidOption(format!("value of header {name}")))?;
            headers.push((name, value));
        }
        let mut transports = Vec::new();
        for t in self.transports {
            if !transports.contains(&t) {
                transports.push(t);
            }
        }
        if transports.is_empty() {
            return Err(Error::InvalidOption("no transport".into()));
        }
        let config = Config {
            engine: EngineConfig {
                endpoint: Arc::new(endpoint),
                headers: headers.into(),
                transports,
                upgrade: self.upgrade,
                per_message_deflate: self.per_message_deflate,
            },
            reconnection: self.reconnection,
            reconnection_attempts: self.reconnection_attempts,
            reconnection_delay: self.reconnection_delay,
            reconnection_delay_max: self.reconnection_delay_max.max(self.reconnection_delay),
            randomization_factor: self.randomization_factor,
            timeout: self.timeout,
            parser: self.parser,
            retries: self.retries,
            ack_timeout: self.ack_timeout,
        };
        Ok((config, parsed.namespace))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_official_clients() {
        let (c, nsp) = ManagerBuilder::new("http://localhost:3000")
            .config()
            .unwrap();
        assert_eq!(nsp, "/");
        assert_eq!(
            c.engine.transports,
            [Transport::Polling, Transport::WebSocket]
        );
        assert!(c.engine.upgrade && c.reconnection && c.engine.per_message_deflate);
        assert_eq!(c.reconnection_attempts, None);
        assert_eq!(c.reconnection_delay, Duration::from_millis(1000));
        assert_eq!(c.reconnection_delay_max, Duration::from_millis(5000));
        assert!((c.randomization_factor - 0.5).abs() < f64::EPSILON);
        assert_eq!(c.timeout, Duration::from_millis(20_000));
        assert_eq!(c.engine.endpoint.path, "/socket.io/");
        assert_eq!((c.retries, c.ack_timeout), (0, None));
    }

    #[test]
    fn checks_options() {
        let bad_header = ManagerBuilder::new("http://h").extra_header("bad name", "x");
        assert!(matches!(bad_header.config(), Err(Error::InvalidOption(_))));
        let bad_value = ManagerBuilder::new("http://h").extra_header("x-a", "a\nb");
        assert!(matches!(bad_value.config(), Err(Error::InvalidOption(_))));
        let none = ManagerBuilder::new("http://h").transports([]);
        assert!(matches!(none.config(), Err(Error::InvalidOption(_))));
        let (c, nsp) = ManagerBuilder::new("http://h/chat?x=1")
            .path("/custom")
            .query("token", "a b")
            .config()
            .unwrap();
        assert_eq!(nsp, "/chat");
        assert_eq!(
            c.engine.endpoint.target(Transport::Polling, None),
            "/custom/?x=1&token=a%20b&EIO=4&transport=polling"
        );
    }
}
