//! The manager's task: one per manager, for the life of the manager. It owns
//! the Engine.IO connection and every namespace's state, runs the
//! reconnection policy, and calls the handlers.

mod incoming;

use std::{
    collections::HashMap,
    future::{Future, poll_fn},
    pin::Pin,
    sync::{Arc, Weak},
    task::{Context, Poll},
    time::Duration,
};

use rally_proto::{
    Str,
    engine::Message,
    socket::{Assembler, BinaryPacket, Decoder, Packet, PacketType},
};
use tokio::{
    sync::{mpsc, oneshot},
    time::Instant,
};

use crate::{
    AckError, DisconnectReason, Error, Socket, Transport, TransportError,
    ack::AckTx,
    config::Config,
    engine::{Closed, Engine, EngineEvent},
    manager::{ManagerShared, lock},
    nsp::Nsp,
    reconnect::Backoff,
    socket::{Auth, SocketShared},
};

/// What the handles ask of the task.
pub(crate) enum Command {
    /// Connect a socket; tell the outcome.
    Connect(
        Arc<SocketShared>,
        Option<oneshot::Sender<Result<(), Error>>>,
    ),
    /// Leave a namespace.
    Disconnect(Arc<SocketShared>),
    /// Emit an event.
    Emit(Emit),
    /// Answer the server's acknowledgement request.
    Ack(BinaryPacket),
    /// Leave every namespace and close the connection; tell when done.
    Close(oneshot::Sender<()>),
}

/// An event to emit.
pub(crate) struct Emit {
    pub(crate) socket: Arc<SocketShared>,
    pub(crate) packet: BinaryPacket,
    pub(crate) ack: Option<(AckTx, Option<Duration>)>,
    pub(crate) volatile: bool,
}

/// An auth function's result, for the connection it was computed for.
struct AuthReady {
    nsp: Str,
    epoch: u64,
    auth: serde_json::Value,
}

type Opening = Pin<Box<dyn Future<Output = Result<Box<Engine>, TransportError>> + Send>>;

/// The Engine.IO connection.
enum Conn {
    /// None, and none wanted.
    Idle,
    /// Being opened, until the deadline.
    Opening(Opening, Instant),
    /// Open.
    Open(Box<Engine>),
    /// Lost; the next attempt starts at the instant.
    Waiting(Instant),
}

/// What the connection yields.
enum ConnEvent {
    Opened(Result<Box<Engine>, Error>),
    Engine(EngineEvent),
}

impl Conn {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<ConnEvent> {
        match self {
            Self::Opening(opening, _) => opening
                .as_mut()
                .poll(cx)
                .map(|r| ConnEvent::Opened(r.map_err(Error::Transport))),
            Self::Open(engine) => engine.poll_event(cx).map(ConnEvent::Engine),
            Self::Idle | Self::Waiting(_) => Poll::Pending,
        }
    }

    fn deadline(&self) -> Option<Instant> {
        match self {
            Self::Opening(_, at) | Self::Waiting(at) => Some(*at),
            Self::Idle | Self::Open(_) => None,
        }
    }
}

/// The manager's task state.
pub(crate) struct Driver {
    manager: Weak<ManagerShared>,
    config: Arc<Config>,
    conn: Conn,
    backoff: Backoff,
    reconnecting: bool,
    nsps: HashMap<Str, Nsp>,
    decoder: Decoder,
    assembler: Assembler,
    /// Counts the connections opened, so a late auth result is not used on
    /// a newer one.
    epoch: u64,
    auth_tx: mpsc::UnboundedSender<AuthReady>,
    auth_rx: mpsc::UnboundedReceiver<AuthReady>,
}

enum Step {
    Command(Command),
    Auth(AuthReady),
    Conn(ConnEvent),
    Timer,
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Driver {
    pub(crate) fn new(manager: Weak<ManagerShared>, config: Arc<Config>) -> Self {
        let (auth_tx, auth_rx) = mpsc::unbounded_channel();
        Self {
            manager,
            backoff: Backoff::new(
                config.reconnection_delay,
                config.reconnection_delay_max,
                config.randomization_factor,
            ),
            config,
            conn: Conn::Idle,
            reconnecting: false,
            nsps: HashMap::new(),
            decoder: Decoder::new(),
            assembler: Assembler::new(),
            epoch: 0,
            auth_tx,
            auth_rx,
        }
    }

    /// Runs until every handle is dropped.
    pub(crate) async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        loop {
            let deadline = self.next_deadline();
            let step = tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => Step::Command(command),
                    None => break,
                },
                Some(auth) = self.auth_rx.recv() => Step::Auth(auth),
                event = poll_fn(|cx| self.conn.poll(cx)) => Step::Conn(event),
                () = sleep_until(deadline) => Step::Timer,
            };
            match step {
                Step::Command(Command::Close(done)) => {
                    self.leave_all();
                    if let Some(engine) = self.stop() {
                        engine.close().await;
                    }
                    let _ = done.send(());
                }
                Step::Command(command) => self.command(command),
                Step::Auth(ready) => self.auth_ready(ready),
                Step::Conn(ConnEvent::Opened(result)) => self.opened(result),
                Step::Conn(ConnEvent::Engine(event)) => self.engine_event(event),
                Step::Timer => self.timer(),
            }
        }
        tracing::debug!("manager dropped, closing");
        if let Some(engine) = self.stop() {
            engine.close().await;
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.nsps
            .values()
            .filter_map(|n| n.acks.next_deadline())
            .chain(self.conn.deadline())
            .min()
    }

    /// A handle on the socket, for its handlers; `None` once the manager is
    /// gone.
    fn socket(&self, shared: &Arc<SocketShared>) -> Option<Socket> {
        Some(Socket {
            manager: self.manager.upgrade()?,
            inner: shared.clone(),
        })
    }

    fn nsp_entry(&mut self, shared: &Arc<SocketShared>) -> &mut Nsp {
        self.nsps
            .entry(shared.nsp.clone())
            .or_insert_with(|| Nsp::new(shared.clone()))
    }

    fn engine(&mut self) -> Option<&mut Engine> {
        match &mut self.conn {
            Conn::Open(engine) => Some(engine),
            _ => None,
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Connect(shared, done) => self.connect(&shared, done),
            Command::Disconnect(shared) => {
                if self.leave(&shared.nsp) {
                    self.close_if_unused();
                }
            }
            Command::Emit(emit) => self.emit(emit),
            Command::Ack(packet) => {
                let connected = self
                    .nsps
                    .get(&packet.packet.nsp)
                    .is_some_and(|n| n.connected);
                if let (true, Some(engine)) = (connected, self.engine()) {
                    engine.send_all(packet.to_engine_frames());
                }
            }
            Command::Close(_) => {}
        }
    }

    fn connect(
        &mut self,
        shared: &Arc<SocketShared>,
        done: Option<oneshot::Sender<Result<(), Error>>>,
    ) {
        let nsp = self.nsp_entry(shared);
        if nsp.connected {
            if let Some(done) = done {
                let _ = done.send(Ok(()));
            }
            return;
        }
        let was_active = nsp.active;
        nsp.set_active(true);
        if let Some(done) = done {
            nsp.add_waiter(done);
        }
        match self.conn {
            Conn::Idle => self.open(),
            Conn::Open(_) if !was_active => self.send_connect(&shared.nsp),
            _ => {}
        }
    }

    /// Makes a socket leave its namespace; true if it was active.
    fn leave(&mut self, name: &Str) -> bool {
        let Some(nsp) = self.nsps.get_mut(name) else {
            return false;
        };
        let (was_active, was_connected) = (nsp.active, nsp.connected);
        nsp.set_active(false);
        nsp.resolve_waiters(&Err(Error::Closed));
        if was_connected {
            nsp.on_closed();
            let packet = Packet::new(PacketType::Disconnect, name.clone());
            let shared = nsp.shared.clone();
            if let Some(engine) = self.engine() {
                engine.send(packet.to_engine_frame());
            }
            self.on_disconnect(&shared, DisconnectReason::IoClientDisconnect);
        }
        was_active
    }

    fn leave_all(&mut self) {
        let names: Vec<Str> = self.nsps.keys().cloned().collect();
        for name in names {
            self.leave(&name);
        }
    }

    /// Closes the connection once no socket wants it.
    fn close_if_unused(&mut self) {
        if self.nsps.values().any(|n| n.active) {
            return;
        }
        if let Some(engine) = self.stop() {
            tokio::spawn(engine.close());
        }
    }

    /// Stops connecting and reconnecting; gives the open engine, if any.
    fn stop(&mut self) -> Option<Box<Engine>> {
        self.reconnecting = false;
        self.backoff.reset();
        self.set_status(None);
        match std::mem::replace(&mut self.conn, Conn::Idle) {
            Conn::Open(engine) => Some(engine),
            _ => None,
        }
    }

    fn emit(&mut self, emit: Emit) {
        let Emit {
            socket,
            mut packet,
            ack,
            volatile,
        } = emit;
        let open = matches!(self.conn, Conn::Open(_));
        let nsp = self.nsp_entry(&socket);
        let connected = open && nsp.connected;
        if volatile && !connected {
            if let Some((tx, _)) = ack {
                let _ = tx.send(Err(AckError::Disconnected));
            }
            return;
        }
        let id = ack.map(|(tx, timeout)| nsp.acks.insert(tx, timeout.map(|t| Instant::now() + t)));
        packet.packet.id = id;
        if !connected {
            nsp.buffer(id, packet);
        } else if let Some(engine) = self.engine() {
            engine.send_all(packet.to_engine_frames());
        }
    }

    fn open(&mut self) {
        let config = self.config.engine.clone();
        let opening: Opening = Box::pin(async move { Engine::open(&config).await.map(Box::new) });
        self.conn = Conn::Opening(opening, Instant::now() + self.config.timeout);
    }

    fn opened(&mut self, result: Result<Box<Engine>, Error>) {
        match result {
            Ok(engine) => {
                self.epoch += 1;
                self.assembler = Assembler::new();
                self.set_status(Some((engine.transport(), engine.sid().to_owned())));
                self.conn = Conn::Open(engine);
                let active: Vec<Str> = self
                    .nsps
                    .iter()
                    .filter(|(_, n)| n.active)
                    .map(|(name, _)| name.clone())
                    .collect();
                for name in active {
                    self.send_connect(&name);
                }
                if self.reconnecting {
                    let attempts = self.backoff.attempts();
                    self.reconnecting = false;
                    self.backoff.reset();
                    self.hooks(|h| h.reconnect.clone(), |hook| hook(attempts));
                }
            }
            Err(error) => {
                tracing::debug!(%error, "connection failed");
                self.conn = Conn::Idle;
                let failed: Vec<Arc<SocketShared>> = self
                    .nsps
                    .values_mut()
                    .filter(|n| n.active && !n.connected)
                    .map(|n| {
                        n.resolve_waiters(&Err(error.clone()));
                        n.shared.clone()
                    })
                    .collect();
                for shared in failed {
                    self.on_connect_error(&shared, &error);
                }
                self.schedule_reconnect();
            }
        }
    }

    fn schedule_reconnect(&mut self) {
        self.conn = Conn::Idle;
        if !self.config.reconnection || !self.nsps.values().any(|n| n.active) {
            self.reconnecting = false;
            return;
        }
        if self
            .config
            .reconnection_attempts
            .is_some_and(|max| self.backoff.attempts() >= max)
        {
            self.backoff.reset();
            self.reconnecting = false;
            self.hooks(|h| h.reconnect_failed.clone(), |hook| hook());
            return;
        }
        let delay = self.backoff.next_delay();
        tracing::debug!(?delay, "reconnecting");
        self.reconnecting = true;
        self.conn = Conn::Waiting(Instant::now() + delay);
    }

    fn timer(&mut self) {
        let now = Instant::now();
        match self.conn {
            Conn::Opening(_, at) if at <= now => self.opened(Err(Error::Timeout)),
            Conn::Waiting(at) if at <= now => {
                let attempt = self.backoff.attempts();
                self.hooks(|h| h.reconnect_attempt.clone(), |hook| hook(attempt));
                self.open();
            }
            _ => {}
        }
        for nsp in self.nsps.values_mut() {
            nsp.expire(now);
        }
    }

    fn send_connect(&mut self, name: &Str) {
        let Some(nsp) = self.nsps.get(name) else {
            return;
        };
        let auth = lock(&nsp.shared.auth).clone();
        match auth {
            Auth::None => self.send_connect_with(name, None),
            Auth::Value(map) => self.send_connect_with(name, Some(map)),
            Auth::With(auth) => {
                let (tx, nsp, epoch) = (self.auth_tx.clone(), name.clone(), self.epoch);
                tokio::spawn(async move {
                    let auth = auth().await;
                    let _ = tx.send(AuthReady { nsp, epoch, auth });
                });
            }
        }
    }

    fn auth_ready(&mut self, ready: AuthReady) {
        if ready.epoch != self.epoch {
            return;
        }
        let auth = match ready.auth {
            serde_json::Value::Object(map) => Some(map),
            _ => None,
        };
        self.send_connect_with(&ready.nsp, auth);
    }

    fn send_connect_with(
        &mut self,
        name: &Str,
        auth: Option<serde_json::Map<String, serde_json::Value>>,
    ) {
        let Some(nsp) = self.nsps.get_mut(name) else {
            return;
        };
        if !nsp.active || nsp.connected {
            return;
        }
        // A new connection: events held for an earlier one are stale.
        drop(nsp.take_held());
        let mut packet = Packet::new(PacketType::Connect, name.clone());
        if let Some(payload) = nsp.connect_payload(auth) {
            packet = packet.with_data(payload.into());
        }
        if let Some(engine) = self.engine() {
            engine.send(packet.to_engine_frame());
        }
    }

    fn engine_event(&mut self, event: EngineEvent) {
        match event {
            EngineEvent::Message(Message::Text(text)) => {
                let packet = self
                    .decoder
                    .decode(text)
                    .and_then(|p| self.assembler.push(p));
                self.decoded(packet);
            }
            EngineEvent::Message(Message::Binary(bytes)) => {
                let packet = self.assembler.push_binary(bytes);
                self.decoded(packet);
            }
            EngineEvent::Upgraded => {
                if let Some(engine) = self.engine() {
                    let status = (engine.transport(), engine.sid().to_owned());
                    self.set_status(Some(status));
                }
                let transport = Transport::WebSocket;
                self.hooks(|h| h.upgrade.clone(), |hook| hook(transport));
            }
            EngineEvent::Closed(closed) => {
                let reason = match closed {
                    Closed::PingTimeout => DisconnectReason::PingTimeout,
                    Closed::TransportClose => DisconnectReason::TransportClose,
                    Closed::TransportError(error) => {
                        tracing::debug!(%error, "transport error");
                        DisconnectReason::TransportError
                    }
                };
                self.lost(reason);
            }
        }
    }

    fn decoded(&mut self, packet: Result<Option<BinaryPacket>, rally_proto::DecodeError>) {
        match packet {
            Ok(Some(packet)) => self.packet(packet),
            Ok(None) => {}
            Err(error) => {
                tracing::debug!(%error, "parse error");
                if let Conn::Open(engine) = std::mem::replace(&mut self.conn, Conn::Idle) {
                    tokio::spawn(engine.close());
                }
                self.lost(DisconnectReason::ParseError);
            }
        }
    }

    /// The connection is gone: every connected socket disconnects, and the
    /// manager reconnects if it should.
    fn lost(&mut self, reason: DisconnectReason) {
        tracing::debug!(%reason, "connection lost");
        self.conn = Conn::Idle;
        self.set_status(None);
        let lost: Vec<Arc<SocketShared>> = self
            .nsps
            .values_mut()
            .filter(|n| n.connected)
            .map(|n| {
                n.on_closed();
                n.shared.clone()
            })
            .collect();
        for shared in lost {
            self.on_disconnect(&shared, reason);
        }
        self.backoff.reset();
        self.schedule_reconnect();
    }

    fn set_status(&self, open: Option<(Transport, String)>) {
        if let Some(manager) = self.manager.upgrade() {
            let mut status = lock(&manager.status);
            status.transport = open.as_ref().map(|(t, _)| *t);
            status.engine_id = open.map(|(_, sid)| sid);
        }
    }

    /// Calls the manager hooks `pick` selects.
    fn hooks<H>(&self, pick: impl FnOnce(&crate::manager::Hooks) -> Vec<H>, call: impl Fn(&H)) {
        if let Some(manager) = self.manager.upgrade() {
            let hooks = pick(&lock(&manager.hooks));
            for hook in &hooks {
                call(hook);
            }
        }
    }
}
