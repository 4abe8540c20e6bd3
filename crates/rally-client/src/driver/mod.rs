//! The manager's task: one per manager, for the life of the manager. It owns
//! the Engine.IO connection and every namespace's state, runs the
//! reconnection policy, and calls the handlers.

mod commands;
mod connection;
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
    engine::Frame,
    socket::{Assembler, BinaryPacket, Decoder, Parser, msgpack},
};
use tokio::{
    sync::{mpsc, oneshot},
    time::Instant,
};

use crate::{
    Error, Socket, Transport, TransportError,
    ack::AckTx,
    config::Config,
    engine::{Engine, EngineEvent},
    manager::{ManagerShared, lock},
    nsp::Nsp,
    reconnect::Backoff,
    socket::SocketShared,
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
    /// Where the answer goes, for an emit that wants it.
    pub(crate) ack: Option<AckTx>,
    /// The emit's own time limit on the answer.
    pub(crate) timeout: Option<Duration>,
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
            .or_insert_with(|| Nsp::new(shared.clone(), self.config.retries))
    }

    fn engine(&mut self) -> Option<&mut Engine> {
        match &mut self.conn {
            Conn::Open(engine) => Some(engine),
            _ => None,
        }
    }

    /// Sends `packet` in the form of the manager's parser: for the default
    /// parser its text frame and its attachments, for MessagePack one
    /// binary frame (a packet nested too deeply for it is dropped, and
    /// logged).
    fn send_packet(&mut self, packet: &BinaryPacket) {
        let frames = match self.config.parser {
            Parser::MsgPack => {
                match msgpack::encode(&packet.packet, &packet.attachments, msgpack::Layout::Client)
                {
                    Ok(bytes) => vec![Frame::Binary(bytes)],
                    Err(error) => {
                        tracing::warn!(%error, "a packet the MessagePack parser cannot write: dropped");
                        return;
                    }
                }
            }
            _ => packet.to_engine_frames(),
        };
        if let Some(engine) = self.engine() {
            engine.send_all(frames);
        }
    }

    /// Sends an EVENT packet of `socket`, shown first to its outgoing
    /// listeners (a flag tells when it has none).
    fn send_event(&mut self, socket: &Arc<SocketShared>, packet: &BinaryPacket) {
        if socket.has_outgoing() {
            if let Some(handle) = self.socket(socket) {
                incoming::notify_outgoing(handle, packet);
            }
        }
        self.send_packet(packet);
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
