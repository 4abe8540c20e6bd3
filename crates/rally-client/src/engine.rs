//! The Engine.IO connection: the handshake, the active transport, the
//! server-driven heartbeat, and the upgrade from polling to WebSocket.
//!
//! An [`Engine`] is polled by the manager's task like a stream: every I/O in
//! flight lives in the struct, so dropping a poll (the task's `select!`
//! moving on to a command) loses nothing.

use std::{
    collections::VecDeque,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use http::{HeaderName, HeaderValue};
use rally_proto::engine::{Frame, Message, Packet};
use serde::Deserialize;
use tokio::time::{Instant, Sleep};

use crate::{
    Transport, TransportError,
    transport::{
        polling::{self, Polling},
        websocket::WebSocket,
    },
    upgrade::{Probe, ProbeStep},
    url::Endpoint,
};

/// What the manager tells the engine layer: where, how, with what headers.
#[derive(Debug, Clone)]
pub(crate) struct EngineConfig {
    pub(crate) endpoint: Arc<Endpoint>,
    pub(crate) headers: Arc<[(HeaderName, HeaderValue)]>,
    pub(crate) transports: Vec<Transport>,
    pub(crate) upgrade: bool,
    /// Whether the WebSocket offers permessage-deflate.
    pub(crate) per_message_deflate: bool,
}

/// The server's handshake (`0{...}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Handshake {
    pub(crate) sid: String,
    #[serde(default)]
    pub(crate) upgrades: Vec<String>,
    pub(crate) ping_interval: u64,
    pub(crate) ping_timeout: u64,
    #[serde(default)]
    pub(crate) max_payload: u64,
}

/// Why the engine connection ended.
#[derive(Debug, Clone)]
pub(crate) enum Closed {
    /// No ping within `pingInterval + pingTimeout`.
    PingTimeout,
    /// The server closed the connection.
    TransportClose,
    /// The transport failed.
    TransportError(TransportError),
}

/// What polling the engine yields.
#[derive(Debug)]
pub(crate) enum EngineEvent {
    /// A message from the server.
    Message(Message),
    /// The connection moved to the WebSocket.
    Upgraded,
    /// The connection is over; drop the engine.
    Closed(Closed),
}

/// The transport carrying the session.
#[derive(Debug)]
enum Active {
    Polling(Polling),
    WebSocket(WebSocket),
}

/// An open Engine.IO connection.
#[derive(Debug)]
pub(crate) struct Engine {
    sid: String,
    heartbeat_period: Duration,
    active: Active,
    probe: Option<Probe>,
    out: VecDeque<Frame>,
    inbox: VecDeque<Packet>,
    heartbeat: Pin<Box<Sleep>>,
}

impl Engine {
    /// Opens a connection on the first of the configured transports.
    pub(crate) async fn open(config: &EngineConfig) -> Result<Self, TransportError> {
        let first = config
            .transports
            .first()
            .copied()
            .unwrap_or(Transport::Polling);
        let (handshake, mut inbox, active) = match first {
            Transport::WebSocket => {
                let mut ws = WebSocket::connect(
                    &config.endpoint,
                    &config.headers,
                    None,
                    config.per_message_deflate,
                )
                .await?;
                let first = std::future::poll_fn(|cx| ws.poll_read(cx))
                    .await
                    .transpose()?;
                let handshake = parse_handshake(first)?;
                (handshake, VecDeque::new(), Active::WebSocket(ws))
            }
            // Transport is non-exhaustive: polling stands for any other.
            _ => {
                let (packets, conn) = polling::handshake(&config.endpoint, &config.headers).await?;
                let mut packets: VecDeque<Packet> = packets.into();
                let handshake = parse_handshake(packets.pop_front())?;
                let polling = Polling::new(
                    config.endpoint.clone(),
                    config.headers.clone(),
                    &handshake.sid,
                    usize::try_from(handshake.max_payload).unwrap_or(usize::MAX),
                    conn,
                );
                (handshake, packets, Active::Polling(polling))
            }
        };
        let heartbeat_period = Duration::from_millis(
            handshake
                .ping_interval
                .saturating_add(handshake.ping_timeout),
        );
        let can_upgrade = config.upgrade
            && matches!(active, Active::Polling(_))
            && config.transports.contains(&Transport::WebSocket)
            && handshake.upgrades.iter().any(|u| u == "websocket");
        let probe = can_upgrade.then(|| Probe::start(config, &handshake.sid));
        inbox.retain(|p| !matches!(p, Packet::Open(_)));
        tracing::debug!(sid = %handshake.sid, transport = %first, "engine open");
        Ok(Self {
            sid: handshake.sid,
            heartbeat_period,
            active,
            probe,
            out: VecDeque::new(),
            inbox,
            heartbeat: Box::pin(tokio::time::sleep(heartbeat_period)),
        })
    }

    /// The session id the server gave.
    pub(crate) fn sid(&self) -> &str {
        &self.sid
    }

    /// The transport in use.
    pub(crate) fn transport(&self) -> Transport {
        match self.active {
            Active::Polling(_) => Transport::Polling,
            Active::WebSocket(_) => Transport::WebSocket,
        }
    }

    /// Queues frames; they go out on the next poll.
    pub(crate) fn send_all(&mut self, frames: impl IntoIterator<Item = Frame>) {
        self.out.extend(frames);
    }

    /// Drives the connection: writes what is queued, reads, answers pings,
    /// moves the upgrade on. Cancel-safe.
    pub(crate) fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<EngineEvent> {
        loop {
            if self.heartbeat.as_mut().poll(cx).is_ready() {
                return Poll::Ready(EngineEvent::Closed(Closed::PingTimeout));
            }
            if let Some(packet) = self.inbox.pop_front() {
                match packet {
                    Packet::Ping(data) => {
                        let deadline = Instant::now() + self.heartbeat_period;
                        self.heartbeat.as_mut().reset(deadline);
                        self.out.push_back(Frame::packet(Packet::Pong(data)));
                    }
                    Packet::Message(message) => {
                        return Poll::Ready(EngineEvent::Message(message));
                    }
                    Packet::Close => {
                        return Poll::Ready(EngineEvent::Closed(Closed::TransportClose));
                    }
                    Packet::Open(_) | Packet::Pong(_) | Packet::Upgrade | Packet::Noop => {}
                }
                continue;
            }
            if self.poll_upgrade(cx) {
                return Poll::Ready(EngineEvent::Upgraded);
            }
            let pausing = self.probe.as_ref().is_some_and(Probe::is_pausing);
            let written = match &mut self.active {
                Active::Polling(p) => p.poll_write(cx, &mut self.out, !pausing),
                Active::WebSocket(ws) => ws.poll_write(cx, &mut self.out),
            };
            if let Poll::Ready(Err(e)) = written {
                return Poll::Ready(EngineEvent::Closed(Closed::TransportError(e)));
            }
            let read = match &mut self.active {
                Active::Polling(p) => match p.poll_read(cx) {
                    Poll::Ready(Ok(packets)) => Poll::Ready(Some(Ok(packets))),
                    Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
                    Poll::Pending => Poll::Pending,
                },
                Active::WebSocket(ws) => ws.poll_read(cx).map(|r| r.map(|p| p.map(|p| vec![p]))),
            };
            match read {
                Poll::Ready(Some(Ok(packets))) => {
                    self.inbox.extend(packets);
                    continue;
                }
                Poll::Ready(Some(Err(e))) => {
                    return Poll::Ready(EngineEvent::Closed(Closed::TransportError(e)));
                }
                Poll::Ready(None) => {
                    return Poll::Ready(EngineEvent::Closed(Closed::TransportClose));
                }
                Poll::Pending => {}
            }
            // A post that just finished may be what an upgrade waited for.
            if self.probe.as_ref().is_some_and(Probe::is_pausing)
                && matches!(&self.active, Active::Polling(p) if !p.is_reading() && !p.is_writing())
            {
                continue;
            }
            return Poll::Pending;
        }
    }

    /// Moves the upgrade on; true once the WebSocket took over.
    fn poll_upgrade(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(probe) = &mut self.probe else {
            return false;
        };
        let Active::Polling(polling) = &mut self.active else {
            self.probe = None;
            return false;
        };
        match probe.poll(cx, polling) {
            ProbeStep::Pending => false,
            ProbeStep::Failed(e) => {
                tracing::debug!(sid = %self.sid, error = %e, "upgrade failed, staying on polling");
                self.probe = None;
                false
            }
            ProbeStep::Ready(ws) => {
                self.probe = None;
                // `5` first: the server takes nothing else on the WebSocket before it.
                self.out.push_front(Frame::packet(Packet::Upgrade));
                self.active = Active::WebSocket(*ws);
                tracing::debug!(sid = %self.sid, "upgraded to websocket");
                true
            }
        }
    }

    /// Closes the connection politely: what is queued goes out, then a close
    /// (a close packet over polling, a close frame over WebSocket).
    pub(crate) async fn close(self) {
        match self.active {
            Active::Polling(polling) => polling.close(self.out).await,
            Active::WebSocket(ws) => ws.close(self.out).await,
        }
    }
}

fn parse_handshake(packet: Option<Packet>) -> Result<Handshake, TransportError> {
    match packet {
        Some(Packet::Open(json)) => serde_json::from_str(&json)
            .map_err(|_| TransportError::InvalidResponse("invalid handshake")),
        _ => Err(TransportError::InvalidResponse("no handshake")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_handshakes() {
        let open = Packet::Open(
            r#"{"sid":"abc","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}"#.into(),
        );
        let h = parse_handshake(Some(open)).unwrap();
        assert_eq!(
            (
                h.sid.as_str(),
                h.ping_interval,
                h.ping_timeout,
                h.max_payload
            ),
            ("abc", 300, 200, 1_000_000)
        );
        assert_eq!(h.upgrades, ["websocket"]);
        assert!(parse_handshake(Some(Packet::Noop)).is_err());
        assert!(parse_handshake(Some(Packet::Open("{}".into()))).is_err());
        assert!(parse_handshake(None).is_err());
    }
}
