//! Helpers of the Engine.IO integration tests: an in-process server whose
//! handler echoes and records what happens, on top of `rally-testkit`'s raw
//! HTTP/1.1 and WebSocket clients (re-exported here under the names the
//! tests use).

#![allow(dead_code, unused_imports)]

use std::{net::SocketAddr, ops::Deref, sync::Arc, time::Duration};

use rally_engine::{CloseReason, Config, EngineIo, Handler, Message, Session, Sid};
use tokio::{net::TcpListener, sync::mpsc, task::JoinHandle};

pub(crate) use rally_testkit::{
    DEADLINE, field,
    http::{Http, RawConn, RawResponse, WS_ACCEPT, WS_KEY, finish},
    is_reference_sid, lossy, settle, within,
    ws::{
        Ws, close_after_pings as ws_close_after_pings, expect_binary as ws_expect_binary,
        expect_close as ws_expect_close, expect_text as ws_expect_text, next as ws_next,
        send_binary as ws_send_binary, send_text as ws_send_text,
    },
};

/// The target of a polling handshake under the default path.
pub(crate) const HANDSHAKE: &str = "/engine.io/?EIO=4&transport=polling";

/// A configuration whose heartbeat stays out of the way of a test.
pub(crate) fn quiet_config() -> Config {
    Config::default()
        .ping_interval(Duration::from_secs(20))
        .ping_timeout(Duration::from_secs(20))
}

/// The heartbeat the reference was probed with: pingInterval 300, pingTimeout 200.
pub(crate) fn probed_config() -> Config {
    Config::default()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
}

// ---------------------------------------------------------------------------
// The server and its recording handler

/// What the handler saw after a session opened.
#[derive(Debug)]
pub(crate) enum Event {
    Message(Sid, Message),
    Close(Sid, CloseReason),
}

/// Echoes every message back (when `echo`) and records every callback.
///
/// Opens are recorded apart from the other events, so that a test about
/// messages or closes does not depend on `on_open` (one test checks it).
pub(crate) struct Recorder {
    opens: mpsc::UnboundedSender<Arc<Session>>,
    events: mpsc::UnboundedSender<Event>,
    echo: bool,
}

impl Handler for Recorder {
    fn on_open(&self, session: &Arc<Session>) {
        let _ = self.opens.send(session.clone());
    }

    fn on_message(&self, session: &Arc<Session>, message: Message) {
        // Echo first: once the test sees the message, its echo is queued.
        if self.echo {
            let _ = session.send(message.clone());
        }
        let _ = self.events.send(Event::Message(session.sid(), message));
    }

    fn on_close(&self, session: &Arc<Session>, reason: CloseReason) {
        let _ = self.events.send(Event::Close(session.sid(), reason));
    }
}

/// An engine served on 127.0.0.1 on a port of its own, stopped when dropped.
pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    pub(crate) engine: EngineIo<Recorder>,
    opens: mpsc::UnboundedReceiver<Arc<Session>>,
    events: mpsc::UnboundedReceiver<Event>,
    task: JoinHandle<std::io::Result<()>>,
}

impl TestServer {
    /// A server whose handler echoes every message.
    pub(crate) async fn start(config: Config) -> Self {
        Self::start_with(config, true).await
    }

    /// A server whose handler only records.
    pub(crate) async fn start_silent(config: Config) -> Self {
        Self::start_with(config, false).await
    }

    async fn start_with(config: Config, echo: bool) -> Self {
        let (opens_tx, opens) = mpsc::unbounded_channel();
        let (events_tx, events) = mpsc::unbounded_channel();
        let recorder = Recorder {
            opens: opens_tx,
            events: events_tx,
            echo,
        };
        let engine = EngineIo::new(config, recorder);
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("listener address");
        let task = tokio::spawn(rally_engine::serve(listener, engine.clone()));
        Self {
            addr,
            engine,
            opens,
            events,
            task,
        }
    }

    pub(crate) fn http(&self) -> Http {
        Http::new(self.addr)
    }

    pub(crate) async fn next_event(&mut self) -> Event {
        within("a handler event", self.events.recv())
            .await
            .expect("the engine dropped its handler")
    }

    /// The next handler event, however long it takes (for a test that
    /// watches events while something else sets the pace).
    pub(crate) async fn recv_event(&mut self) -> Option<Event> {
        self.events.recv().await
    }

    /// Fails if the handler has recorded anything not yet taken.
    pub(crate) fn assert_no_event(&mut self) {
        if let Ok(event) = self.events.try_recv() {
            panic!("unexpected handler event {event:?}");
        }
    }

    /// Waits for the handler's `on_open`.
    pub(crate) async fn expect_open(&mut self) -> Arc<Session> {
        within("on_open", self.opens.recv())
            .await
            .expect("the engine dropped its handler")
    }

    /// The open session `sid`, asked of the engine (not of the handler).
    pub(crate) fn session(&self, sid: &str) -> Arc<Session> {
        let parsed = Sid::parse(sid).unwrap_or_else(|| panic!("{sid:?} is not a sid"));
        self.engine
            .session(&parsed)
            .unwrap_or_else(|| panic!("the engine has no session {sid}"))
    }

    pub(crate) async fn expect_message(&mut self) -> Message {
        match self.next_event().await {
            Event::Message(_, message) => message,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    pub(crate) async fn expect_text(&mut self, text: &str) {
        match self.expect_message().await {
            Message::Text(got) => assert_eq!(got.as_str(), text, "text message"),
            other => panic!("expected text message {text:?}, got {other:?}"),
        }
    }

    pub(crate) async fn expect_binary(&mut self, bytes: &[u8]) {
        match self.expect_message().await {
            Message::Binary(got) => assert_eq!(&got[..], bytes, "binary message"),
            other => panic!("expected binary message {bytes:?}, got {other:?}"),
        }
    }

    pub(crate) async fn expect_close(&mut self) -> CloseReason {
        match self.next_event().await {
            Event::Close(_, reason) => reason,
            other => panic!("expected the session to close, got {other:?}"),
        }
    }

    /// Opens a polling session; its `Session` is looked up in the engine.
    pub(crate) async fn open_polling(&mut self) -> Polling {
        let inner = self.http().open_polling("/engine.io/").await;
        let session = self.session(&inner.sid);
        Polling { inner, session }
    }

    /// Opens a session directly over WebSocket, returning the open packet's text.
    pub(crate) async fn open_websocket(&mut self) -> (Ws, Arc<Session>, String) {
        let mut ws = ws_connect(self.addr, "EIO=4&transport=websocket").await;
        let open = ws_expect_text(&mut ws).await;
        let session = self.session(&open_sid(&open));
        (ws, session, open)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A polling session opened by [`TestServer::open_polling`], with the
/// engine's `Session` for it.
pub(crate) struct Polling {
    pub(crate) inner: rally_testkit::http::Polling,
    pub(crate) session: Arc<Session>,
}

impl Deref for Polling {
    type Target = rally_testkit::http::Polling;

    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

/// The target of a polling request for `sid`.
pub(crate) fn polling_target(sid: &str) -> String {
    format!("/engine.io/?EIO=4&transport=polling&sid={sid}")
}

/// The open packet the reference sends, byte for byte.
pub(crate) fn expected_open(
    sid: &str,
    upgrades: &str,
    interval: u64,
    timeout: u64,
    max: u64,
) -> String {
    format!(
        r#"0{{"sid":"{sid}","upgrades":{upgrades},"pingInterval":{interval},"pingTimeout":{timeout},"maxPayload":{max}}}"#
    )
}

/// The `sid` of an open packet (`0{"sid":"...",...}`).
pub(crate) fn open_sid(open: &str) -> String {
    field(open, "sid")
}

/// Opens a WebSocket to `/engine.io/?{query}`.
pub(crate) async fn ws_connect(addr: SocketAddr, query: &str) -> Ws {
    rally_testkit::ws::connect(&format!("ws://{addr}/engine.io/?{query}"), &[]).await
}
