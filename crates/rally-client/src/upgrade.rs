//! The upgrade from polling to WebSocket, as the official client does it:
//! open a WebSocket for the session, send `2probe`, wait for `3probe`, let
//! the poll and the post in flight finish (the server ends the poll with a
//! noop), then send `5` and carry on over the WebSocket.

use std::{
    collections::VecDeque,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use rally_proto::{
    Str,
    engine::{Frame, Packet},
};

use crate::{
    TransportError,
    engine::EngineConfig,
    transport::{polling::Polling, websocket::WebSocket},
};

type Connecting = Pin<Box<dyn Future<Output = Result<WebSocket, TransportError>> + Send>>;

/// An upgrade in progress.
pub(crate) enum Probe {
    /// The WebSocket is being opened.
    Connecting(Connecting),
    /// `2probe` is (being) sent; waiting for `3probe`.
    Probing(WebSocket, VecDeque<Frame>),
    /// The probe succeeded; waiting for polling to go quiet.
    Pausing(Option<WebSocket>),
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Connecting(_) => "Probe::Connecting",
            Self::Probing(..) => "Probe::Probing",
            Self::Pausing(_) => "Probe::Pausing",
        })
    }
}

/// Where the upgrade stands after a poll.
#[derive(Debug)]
pub(crate) enum ProbeStep {
    Pending,
    Failed(TransportError),
    Ready(Box<WebSocket>),
}

impl Probe {
    /// Starts opening the WebSocket for session `sid`.
    pub(crate) fn start(config: &EngineConfig, sid: &str) -> Self {
        let endpoint = config.endpoint.clone();
        let headers = config.headers.clone();
        let sid = sid.to_owned();
        let deflate = config.per_message_deflate;
        Self::Connecting(Box::pin(async move {
            WebSocket::connect(&endpoint, &headers, Some(&sid), deflate).await
        }))
    }

    /// Whether the probe succeeded and polling must go quiet: no new GET,
    /// no new POST (what is written meanwhile waits for the WebSocket).
    pub(crate) fn is_pausing(&self) -> bool {
        matches!(self, Self::Pausing(_))
    }

    /// Moves the upgrade on.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>, polling: &mut Polling) -> ProbeStep {
        loop {
            match self {
                Self::Connecting(connecting) => match connecting.as_mut().poll(cx) {
                    Poll::Pending => return ProbeStep::Pending,
                    Poll::Ready(Err(e)) => return ProbeStep::Failed(e),
                    Poll::Ready(Ok(ws)) => {
                        let probe = Frame::packet(Packet::Ping(Str::from_static("probe")));
                        *self = Self::Probing(ws, VecDeque::from([probe]));
                    }
                },
                Self::Probing(ws, out) => {
                    if let Poll::Ready(Err(e)) = ws.poll_write(cx, out) {
                        return ProbeStep::Failed(e);
                    }
                    match ws.poll_read(cx) {
                        Poll::Pending => return ProbeStep::Pending,
                        Poll::Ready(None) => {
                            return ProbeStep::Failed(TransportError::InvalidResponse(
                                "websocket closed during the probe",
                            ));
                        }
                        Poll::Ready(Some(Err(e))) => return ProbeStep::Failed(e),
                        Poll::Ready(Some(Ok(Packet::Pong(data)))) if data == "probe" => {
                            let Self::Probing(ws, _) = std::mem::replace(self, Self::Pausing(None))
                            else {
                                return ProbeStep::Pending;
                            };
                            *self = Self::Pausing(Some(ws));
                            polling.pause();
                        }
                        Poll::Ready(Some(Ok(_))) => {
                            return ProbeStep::Failed(TransportError::InvalidResponse(
                                "probe error",
                            ));
                        }
                    }
                }
                Self::Pausing(ws) => {
                    if polling.is_reading() || polling.is_writing() {
                        return ProbeStep::Pending;
                    }
                    return match ws.take() {
                        Some(ws) => ProbeStep::Ready(Box::new(ws)),
                        None => ProbeStep::Failed(TransportError::InvalidResponse("probe error")),
                    };
                }
            }
        }
    }
}
