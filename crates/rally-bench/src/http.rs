//! A minimal HTTP/1.1 keep-alive client for Engine.IO long-polling.

use std::{
    io,
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::ws::{find, other, tcp_connect};

/// One keep-alive HTTP connection.
pub(crate) struct Http {
    stream: TcpStream,
    host: String,
    buf: Vec<u8>,
    end: usize,
}

impl Http {
    pub(crate) async fn connect(addr: SocketAddr, src: Option<IpAddr>) -> io::Result<Self> {
        Ok(Self {
            stream: tcp_connect(addr, src).await?,
            host: addr.to_string(),
            buf: vec![0; 8192],
            end: 0,
        })
    }

    /// Sends one request and reads its response: status and body.
    pub(crate) async fn request(
        &mut self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> io::Result<(u16, Vec<u8>)> {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.host).into_bytes();
        if method == "POST" {
            req.extend_from_slice(
                format!(
                    "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n",
                    body.len()
                )
                .as_bytes(),
            );
        }
        req.extend_from_slice(b"\r\n");
        req.extend_from_slice(body);
        self.stream.write_all(&req).await?;
        self.read_response().await
    }

    async fn fill(&mut self) -> io::Result<()> {
        if self.end == self.buf.len() {
            let len = self.buf.len() * 2;
            self.buf.resize(len, 0);
        }
        let n = self.stream.read(&mut self.buf[self.end..]).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.end += n;
        Ok(())
    }

    fn consume(&mut self, n: usize) {
        self.buf.copy_within(n..self.end, 0);
        self.end -= n;
    }

    async fn read_response(&mut self) -> io::Result<(u16, Vec<u8>)> {
        let head_end = loop {
            if let Some(p) = find(&self.buf[..self.end], b"\r\n\r\n") {
                break p;
            }
            self.fill().await?;
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).to_ascii_lowercase();
        let status: u16 = head
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| other("bad status line"))?;
        let mut length = None;
        let mut chunked = false;
        for line in head.split("\r\n").skip(1) {
            if let Some(v) = line.strip_prefix("content-length:") {
                length = v.trim().parse::<usize>().ok();
            } else if let Some(v) = line.strip_prefix("transfer-encoding:") {
                chunked = v.contains("chunked");
            }
        }
        self.consume(head_end + 4);
        let mut body = Vec::new();
        if chunked {
            loop {
                let line_end = loop {
                    if let Some(p) = find(&self.buf[..self.end], b"\r\n") {
                        break p;
                    }
                    self.fill().await?;
                };
                let size_text = String::from_utf8_lossy(&self.buf[..line_end]).into_owned();
                let size =
                    usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                        .map_err(|_| other("bad chunk size"))?;
                self.consume(line_end + 2);
                while self.end < size + 2 {
                    self.fill().await?;
                }
                body.extend_from_slice(&self.buf[..size]);
                self.consume(size + 2);
                if size == 0 {
                    break;
                }
            }
        } else {
            let len = length.unwrap_or(0);
            while self.end < len {
                self.fill().await?;
            }
            body.extend_from_slice(&self.buf[..len]);
            self.consume(len);
        }
        Ok((status, body))
    }

    /// Closes with a reset (SO_LINGER 0).
    pub(crate) fn reset(self) {
        // A zero linger resets at once: it never blocks the thread on drop.
        #[allow(deprecated)]
        let _ = self.stream.set_linger(Some(Duration::ZERO));
    }
}

/// The `sid` in an Engine.IO open packet (`0{"sid":"..."...}`).
pub(crate) fn parse_sid(open: &[u8]) -> Option<String> {
    let at = find(open, b"\"sid\":\"")? + 7;
    let len = open[at..].iter().position(|&c| c == b'"')?;
    Some(String::from_utf8_lossy(&open[at..at + len]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sid() {
        assert_eq!(
            parse_sid(br#"0{"sid":"abc-_","upgrades":[]}"#).as_deref(),
            Some("abc-_")
        );
    }
}
