//! A minimal HTTP/1.1 client for long-polling: one request at a time on a
//! kept-alive connection (TCP, or TLS over TCP), `Content-Length` or chunked bodies, gzip or
//! deflate content codings.
//!
//! Long-polling needs nothing more: a GET that the server holds, a POST with
//! a small text body. Written by hand to keep the dependency tree small and
//! to need no task per connection.

use std::io::Read;

use bytes::{Bytes, BytesMut};
use flate2::read::{DeflateDecoder, MultiGzDecoder, ZlibDecoder};
use http::{HeaderName, HeaderValue, header};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{TransportError, transport::stream::Stream, url::Endpoint};

/// The largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// The largest response body accepted (the WebSocket transport's default
/// frame limit), compressed or once inflated.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// A connection to the server, reused from one request to the next.
#[derive(Debug)]
pub(crate) struct HttpConn {
    stream: Stream,
    buf: BytesMut,
}

/// A request: its method, target (path and query) and body.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) method: &'static str,
    pub(crate) target: String,
    pub(crate) body: Option<Bytes>,
}

/// A response: its status and whole body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: Bytes,
}

impl Response {
    /// The body when the status is 200, else the error the server gave.
    pub(crate) fn ok_body(self) -> Result<Bytes, TransportError> {
        if self.status == 200 {
            return Ok(self.body);
        }
        let message = serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or_else(|| {
                let text = String::from_utf8_lossy(&self.body);
                text.chars().take(200).collect()
            });
        Err(TransportError::Http {
            status: self.status,
            message,
        })
    }
}

/// A failed exchange, and whether any of the response had arrived (a
/// request on a reused connection that failed before is safe to retry: the
/// server closed the idle connection without reading it).
struct Failure {
    error: TransportError,
    answered: bool,
}

/// Sends `request`, on `conn` when there is one (else on a new connection),
/// and gives back the connection when it can carry another request.
pub(crate) async fn send(
    conn: Option<HttpConn>,
    endpoint: &Endpoint,
    headers: &[(HeaderName, HeaderValue)],
    request: &Request,
) -> (Option<HttpConn>, Result<Response, TransportError>) {
    let head = encode_head(endpoint, headers, request);
    let reused = conn.is_some();
    let mut conn = match conn {
        Some(conn) => conn,
        None => match HttpConn::connect(endpoint).await {
            Ok(conn) => conn,
            Err(e) => return (None, Err(e)),
        },
    };
    match conn.exchange(&head, request.body.as_ref()).await {
        Ok((response, keep_alive)) => (keep_alive.then_some(conn), Ok(response)),
        Err(failure) if reused && !failure.answered => {
            tracing::trace!("stale keep-alive connection, retrying on a new one");
            let mut conn = match HttpConn::connect(endpoint).await {
                Ok(conn) => conn,
                Err(e) => return (None, Err(e)),
            };
            match conn.exchange(&head, request.body.as_ref()).await {
                Ok((response, keep_alive)) => (keep_alive.then_some(conn), Ok(response)),
                Err(failure) => (None, Err(failure.error)),
            }
        }
        Err(failure) => (None, Err(failure.error)),
    }
}

/// The request line and headers.
fn encode_head(
    endpoint: &Endpoint,
    headers: &[(HeaderName, HeaderValue)],
    request: &Request,
) -> Vec<u8> {
    let mut head = Vec::with_capacity(256 + request.target.len());
    head.extend_from_slice(request.method.as_bytes());
    head.push(b' ');
    head.extend_from_slice(request.target.as_bytes());
    head.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    head.extend_from_slice(endpoint.authority.as_bytes());
    head.extend_from_slice(b"\r\nAccept: */*\r\n");
    // Polls take compressed bodies (the server's `httpCompression`),
    // unless the application sent its own Accept-Encoding.
    if request.method == "GET" && !headers.iter().any(|(n, _)| n == header::ACCEPT_ENCODING) {
        head.extend_from_slice(b"Accept-Encoding: gzip, deflate\r\n");
    }
    for (name, value) in headers {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    if let Some(body) = &request.body {
        head.extend_from_slice(b"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: ");
        head.extend_from_slice(body.len().to_string().as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}

impl HttpConn {
    /// Opens a connection to the endpoint (see [`Stream::connect`]).
    pub(crate) async fn connect(endpoint: &Endpoint) -> Result<Self, TransportError> {
        Ok(Self {
            stream: Stream::connect(endpoint).await?,
            buf: BytesMut::with_capacity(4096),
        })
    }

    /// Writes a request, reads its response; says whether the connection
    /// can be kept.
    async fn exchange(
        &mut self,
        head: &[u8],
        body: Option<&Bytes>,
    ) -> Result<(Response, bool), Failure> {
        let unanswered = |e: std::io::Error| Failure {
            error: e.into(),
            answered: false,
        };
        self.buf.clear();
        self.stream.write_all(head).await.map_err(unanswered)?;
        if let Some(body) = body {
            self.stream.write_all(body).await.map_err(unanswered)?;
        }
        self.stream.flush().await.map_err(unanswered)?;
        self.read_response().await
    }

    /// Reads one response (skipping `1xx` interim ones).
    async fn read_response(&mut self) -> Result<(Response, bool), Failure> {
        loop {
            let head = self.read_head().await?;
            let answered = |error: TransportError| Failure {
                error,
                answered: true,
            };
            if (100..200).contains(&head.status) {
                continue;
            }
            let (body, keep_alive) = if head.status == 204 || head.status == 304 {
                (Bytes::new(), head.keep_alive)
            } else if head.chunked {
                let body = self.read_chunked().await.map_err(answered)?;
                (body, head.keep_alive)
            } else if let Some(len) = head.content_length {
                let body = self.read_exact_body(len).await.map_err(answered)?;
                (body, head.keep_alive)
            } else {
                self.read_to_end().await.map_err(answered)?;
                (self.buf.split().freeze(), false)
            };
            let body = decode(head.coding, body, MAX_BODY).map_err(answered)?;
            return Ok((
                Response {
                    status: head.status,
                    body,
                },
                keep_alive,
            ));
        }
    }

    /// Reads into the buffer; `Ok(false)` at the end of the stream.
    async fn fill(&mut self) -> Result<bool, TransportError> {
        if self.buf.capacity() - self.buf.len() < 1024 {
            self.buf.reserve(8192);
        }
        Ok(self.stream.read_buf(&mut self.buf).await? > 0)
    }

    async fn read_head(&mut self) -> Result<Head, Failure> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let raw = self.buf.split_to(end + 4);
                return parse_head(&raw).ok_or(Failure {
                    error: TransportError::InvalidResponse("malformed http response"),
                    answered: true,
                });
            }
            if self.buf.len() > MAX_HEAD {
                return Err(Failure {
                    error: TransportError::InvalidResponse("http response head too large"),
                    answered: true,
                });
            }
            let answered = !self.buf.is_empty();
            match self.fill().await {
                Ok(true) => {}
                Ok(false) => {
                    return Err(Failure {
                        error: std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into(),
                        answered,
                    });
                }
                Err(error) => return Err(Failure { error, answered }),
            }
        }
    }

    async fn read_exact_body(&mut self, len: usize) -> Result<Bytes, TransportError> {
        if len > MAX_BODY {
            return Err(TransportError::InvalidResponse(
                "http response body too large",
            ));
        }
        while self.buf.len() < len {
            if !self.fill().await? {
                return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
            }
        }
        Ok(self.buf.split_to(len).freeze())
    }

    async fn read_to_end(&mut self) -> Result<(), TransportError> {
        while self.fill().await? {
            if self.buf.len() > MAX_BODY {
                return Err(TransportError::InvalidResponse(
                    "http response body too large",
                ));
            }
        }
        Ok(())
    }

    async fn read_line(&mut self) -> Result<BytesMut, TransportError> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n") {
                let mut line = self.buf.split_to(end + 2);
                line.truncate(end);
                return Ok(line);
            }
            if self.buf.len() > MAX_HEAD {
                return Err(TransportError::InvalidResponse("http chunk line too long"));
            }
            if !self.fill().await? {
                return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
            }
        }
    }

    async fn read_chunked(&mut self) -> Result<Bytes, TransportError> {
        let mut body = BytesMut::new();
        loop {
            let line = self.read_line().await?;
            let size = std::str::from_utf8(&line)
                .ok()
                .and_then(|l| usize::from_str_radix(l.split(';').next()?.trim(), 16).ok())
                .ok_or(TransportError::InvalidResponse("bad chunk size"))?;
            if size == 0 {
                // Trailers, up to the empty line.
                while !self.read_line().await?.is_empty() {}
                return Ok(body.freeze());
            }
            if body.len() + size > MAX_BODY {
                return Err(TransportError::InvalidResponse(
                    "http response body too large",
                ));
            }
            let chunk = self.read_exact_body(size + 2).await?;
            body.extend_from_slice(&chunk[..size]);
        }
    }
}

/// What the response head says about the body and the connection.
#[derive(Debug, PartialEq, Eq)]
struct Head {
    status: u16,
    content_length: Option<usize>,
    chunked: bool,
    keep_alive: bool,
    coding: Coding,
}

/// The content coding of a response body (its `Content-Encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Identity,
    Gzip,
    /// A zlib stream, or a raw deflate stream (what some servers send).
    Deflate,
    /// A coding this client did not ask for and cannot read.
    Unknown,
}

impl Coding {
    fn parse(value: &str) -> Self {
        let mut coding = Self::Identity;
        for name in value.split(',').map(str::trim) {
            let next = if name.is_empty() || name.eq_ignore_ascii_case("identity") {
                continue;
            } else if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
                Self::Gzip
            } else if name.eq_ignore_ascii_case("deflate") {
                Self::Deflate
            } else {
                Self::Unknown
            };
            // One coding at most: a body coded twice is not read.
            coding = if coding == Self::Identity {
                next
            } else {
                Self::Unknown
            };
        }
        coding
    }
}

/// A response body with its content coding undone, inflated a chunk at a
/// time into a buffer that never holds (nor reserves) more than `limit`
/// bytes: a small body that inflates past it is refused there.
fn decode(coding: Coding, body: Bytes, limit: usize) -> Result<Bytes, TransportError> {
    match coding {
        Coding::Identity => Ok(body),
        Coding::Gzip => inflate(MultiGzDecoder::new(&body[..]), limit),
        Coding::Deflate if has_zlib_header(&body) => inflate(ZlibDecoder::new(&body[..]), limit),
        Coding::Deflate => inflate(DeflateDecoder::new(&body[..]), limit),
        Coding::Unknown => Err(TransportError::InvalidResponse(
            "unsupported http content-encoding",
        )),
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

fn inflate(mut reader: impl Read, limit: usize) -> Result<Bytes, TransportError> {
    let mut out = Vec::new();
    let mut chunk = [0; 16 * 1024];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => return Ok(Bytes::from(out)),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => {
                return Err(TransportError::InvalidResponse(
                    "corrupt compressed http response body",
                ));
            }
        };
        let len = out.len() + n;
        if len > limit {
            return Err(TransportError::InvalidResponse(
                "http response body too large",
            ));
        }
        if len > out.capacity() {
            // Doubling, as a Vec does, but never past the bound.
            let capacity = out.capacity().saturating_mul(2).clamp(len, limit);
            out.reserve_exact(capacity - out.len());
        }
        out.extend_from_slice(&chunk[..n]);
    }
}

fn parse_head(raw: &[u8]) -> Option<Head> {
    let text = std::str::from_utf8(raw).ok()?;
    let mut lines = text.split("\r\n");
    let mut status_line = lines.next()?.split(' ');
    let version = status_line.next()?;
    let status: u16 = status_line.next()?.parse().ok()?;
    let mut head = Head {
        status,
        content_length: None,
        chunked: false,
        keep_alive: version == "HTTP/1.1",
        coding: Coding::Identity,
    };
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            head.content_length = Some(value.parse().ok()?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            head.chunked = value
                .rsplit(',')
                .next()
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("chunked"));
        } else if name.eq_ignore_ascii_case("content-encoding") {
            head.coding = Coding::parse(value);
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    head.keep_alive = false;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    head.keep_alive = true;
                }
            }
        }
    }
    Some(head)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use tokio::net::TcpListener;

    use super::*;
    use crate::url::ParsedUrl;

    #[test]
    fn parses_heads() {
        let head =
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\n");
        assert_eq!(
            head,
            Some(Head {
                status: 200,
                content_length: Some(5),
                chunked: false,
                keep_alive: true,
                coding: Coding::Identity,
            })
        );
        let head = parse_head(
            b"HTTP/1.1 400 Bad Request\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
        )
        .unwrap();
        assert!(head.chunked && !head.keep_alive);
        assert!(!parse_head(b"HTTP/1.0 200 OK\r\n\r\n").unwrap().keep_alive);
        assert_eq!(parse_head(b"garbage\r\n\r\n"), None);
        assert_eq!(
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"),
            None
        );
    }

    fn compressed(coding: Coding, bytes: &[u8]) -> Vec<u8> {
        use flate2::{Compression, write};
        use std::io::Write;
        match coding {
            Coding::Gzip => {
                let mut encoder = write::GzEncoder::new(Vec::new(), Compression::best());
                encoder.write_all(bytes).unwrap();
                encoder.finish().unwrap()
            }
            Coding::Deflate => {
                let mut encoder = write::ZlibEncoder::new(Vec::new(), Compression::best());
                encoder.write_all(bytes).unwrap();
                encoder.finish().unwrap()
            }
            _ => bytes.to_vec(),
        }
    }

    #[test]
    fn content_codings_are_read_and_bounded() {
        assert_eq!(Coding::parse("gzip"), Coding::Gzip);
        assert_eq!(Coding::parse("Deflate"), Coding::Deflate);
        assert_eq!(Coding::parse("identity"), Coding::Identity);
        assert_eq!(Coding::parse("br"), Coding::Unknown);
        assert_eq!(Coding::parse("gzip, gzip"), Coding::Unknown);
        let text = "4hello\x1e".repeat(300);
        for coding in [Coding::Gzip, Coding::Deflate] {
            let body = Bytes::from(compressed(coding, text.as_bytes()));
            assert_eq!(decode(coding, body.clone(), text.len()).unwrap(), text);
            assert!(decode(coding, body, text.len() - 1).is_err(), "{coding:?}");
        }
        // A bomb stops at the bound.
        let bomb = Bytes::from(compressed(Coding::Gzip, &vec![0; 4_000_000]));
        assert!(bomb.len() < 10_000);
        assert!(matches!(
            decode(Coding::Gzip, bomb, 1_000_000),
            Err(TransportError::InvalidResponse(
                "http response body too large"
            ))
        ));
        assert!(decode(Coding::Gzip, Bytes::from_static(b"junk"), 100).is_err());
        assert!(decode(Coding::Unknown, Bytes::from_static(b"x"), 100).is_err());
    }

    #[test]
    fn polls_ask_for_compressed_bodies() {
        let endpoint = ParsedUrl::parse("http://127.0.0.1:1").unwrap().endpoint;
        let get = Request {
            method: "GET",
            target: "/".into(),
            body: None,
        };
        let head = String::from_utf8(encode_head(&endpoint, &[], &get)).unwrap();
        assert!(
            head.contains("\r\nAccept-Encoding: gzip, deflate\r\n"),
            "{head}"
        );
        let own = [(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        )];
        let head = String::from_utf8(encode_head(&endpoint, &own, &get)).unwrap();
        assert_eq!(head.matches("accept-encoding").count(), 1, "{head}");
        assert!(!head.contains("gzip"), "{head}");
        let post = Request {
            method: "POST",
            target: "/".into(),
            body: Some(Bytes::from_static(b"4x")),
        };
        let head = String::from_utf8(encode_head(&endpoint, &[], &post)).unwrap();
        assert!(!head.contains("Accept-Encoding"), "{head}");
    }

    #[test]
    fn errors_carry_the_engine_message() {
        let response = Response {
            status: 400,
            body: Bytes::from_static(br#"{"code":1,"message":"Session ID unknown"}"#),
        };
        match response.ok_body() {
            Err(TransportError::Http { status, message }) => {
                assert_eq!((status, message.as_str()), (400, "Session ID unknown"));
            }
            other => panic!("{other:?}"),
        }
    }

    /// A server answering each request with the next canned response.
    async fn serve(responses: Vec<&'static [u8]>) -> Endpoint {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut buf = vec![0; 4096];
            for response in responses {
                let _ = stream.read(&mut buf).await;
                stream.write_all(response).await.unwrap();
            }
        });
        ParsedUrl::parse(&format!("http://127.0.0.1:{port}"))
            .unwrap()
            .endpoint
    }

    /// A 200 response with a gzip body, kept for the test's duration.
    fn gzipped_response() -> &'static [u8] {
        let body = compressed(Coding::Gzip, "4compressed".repeat(200).as_bytes());
        let mut response = format!(
            "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        response.extend_from_slice(&body);
        response.leak()
    }

    #[tokio::test]
    async fn reads_length_chunked_and_compressed_bodies_on_one_connection() {
        let endpoint = serve(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n3;x=y\r\nfgh\r\n0\r\n\r\n",
            gzipped_response(),
            b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nrest",
        ])
        .await;
        let get = Request {
            method: "GET",
            target: "/".into(),
            body: None,
        };
        let (conn, res) = send(None, &endpoint, &[], &get).await;
        assert_eq!(res.unwrap().body, "abc");
        let post = Request {
            method: "POST",
            target: "/".into(),
            body: Some(Bytes::from_static(b"4x")),
        };
        let (conn, res) = send(conn, &endpoint, &[], &post).await;
        assert_eq!(res.unwrap().body, "defgh");
        assert!(conn.is_some());
        let (conn, res) = send(conn, &endpoint, &[], &get).await;
        assert_eq!(res.unwrap().body, "4compressed".repeat(200));
        let (conn, res) = send(conn, &endpoint, &[], &get).await;
        assert_eq!(res.unwrap().body, "rest");
        assert!(conn.is_none());
    }
}
