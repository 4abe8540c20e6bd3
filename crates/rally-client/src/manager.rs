//! The manager: one Engine.IO connection shared by the sockets of every
//! namespace, and the reconnection policy.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex, MutexGuard},
};

use tokio::sync::{mpsc, oneshot};

use crate::{
    Error, ManagerBuilder, Socket, Transport,
    config::Config,
    driver::{Command, Driver},
    socket::SocketShared,
};

/// A connection to a Socket.IO server, shared by the sockets of every
/// namespace (multiplexing), which reconnects when it is lost.
///
/// Cloning it is cheap: clones share the connection. The connection opens
/// when a socket connects, and closes when the last socket disconnects, when
/// [`close`](Self::close) is called, or when every handle (managers and
/// sockets) is dropped.
///
/// ```no_run
/// use rally_client::Manager;
///
/// # async fn run() -> Result<(), rally_client::Error> {
/// let manager = Manager::new("http://127.0.0.1:3000")?;
/// let chat = manager.socket("/");
/// let admin = manager.socket("/admin");
/// chat.connect().await?;
/// admin.connect().await?; // same connection, another namespace
/// manager.close().await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Manager {
    pub(crate) shared: Arc<ManagerShared>,
}

/// What the handles share with the manager's task.
pub(crate) struct ManagerShared {
    pub(crate) commands: mpsc::UnboundedSender<Command>,
    /// The task's end of the command channel, until the task starts.
    unstarted: Mutex<Option<mpsc::UnboundedReceiver<Command>>>,
    config: Arc<Config>,
    sockets: Mutex<HashMap<String, Arc<SocketShared>>>,
    pub(crate) status: Mutex<Status>,
    pub(crate) hooks: Mutex<Hooks>,
}

/// The connection as the handles see it.
#[derive(Debug, Default, Clone)]
pub(crate) struct Status {
    pub(crate) transport: Option<Transport>,
    pub(crate) engine_id: Option<String>,
}

type CountHook = Arc<dyn Fn(u32) + Send + Sync>;

/// The manager's event handlers.
#[derive(Default)]
pub(crate) struct Hooks {
    pub(crate) reconnect_attempt: Vec<CountHook>,
    pub(crate) reconnect: Vec<CountHook>,
    pub(crate) reconnect_failed: Vec<Arc<dyn Fn() + Send + Sync>>,
    pub(crate) upgrade: Vec<Arc<dyn Fn(Transport) + Send + Sync>>,
}

/// Locks `mutex`, taking the data back from a poisoned lock (a panicking
/// handler cannot have left it half-written: no handler runs under a lock).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Manager {
    /// A manager for the server at `url` (`http://host:port`, or `ws://`;
    /// `https://` or `wss://` for TLS, see
    /// [`ca_certificates`](ManagerBuilder::ca_certificates)), with the
    /// default options. The URL's query goes with every request;
    /// its path is not used (namespaces are named in
    /// [`socket`](Self::socket)).
    ///
    /// ```
    /// let manager = rally_client::Manager::new("http://127.0.0.1:3000")?;
    /// # Ok::<(), rally_client::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`] when the URL cannot be used.
    pub fn new(url: &str) -> Result<Self, Error> {
        ManagerBuilder::new(url).build()
    }

    /// Options for a manager of the server at `url` (see [`ManagerBuilder`]).
    ///
    /// ```
    /// let manager = rally_client::Manager::builder("http://127.0.0.1:3000")
    ///     .reconnection_attempts(5)
    ///     .build()?;
    /// # Ok::<(), rally_client::Error>(())
    /// ```
    pub fn builder(url: &str) -> ManagerBuilder {
        ManagerBuilder::new(url)
    }

    pub(crate) fn with_config(config: Config) -> Self {
        let (commands, rx) = mpsc::unbounded_channel();
        Self {
            shared: Arc::new(ManagerShared {
                commands,
                unstarted: Mutex::new(Some(rx)),
                config: Arc::new(config),
                sockets: Mutex::new(HashMap::new()),
                status: Mutex::new(Status::default()),
                hooks: Mutex::new(Hooks::default()),
            }),
        }
    }

    /// The socket for namespace `nsp` (`/`, `/admin`...), not connected yet:
    /// set its handlers, then [`connect`](Socket::connect) it. Asking twice
    /// for one namespace gives the same socket.
    ///
    /// ```
    /// let manager = rally_client::Manager::new("http://127.0.0.1:3000")?;
    /// let admin = manager.socket("/admin");
    /// assert_eq!(admin.nsp(), "/admin");
    /// assert!(!admin.connected());
    /// # Ok::<(), rally_client::Error>(())
    /// ```
    pub fn socket(&self, nsp: &str) -> Socket {
        let nsp = if nsp.starts_with('/') {
            nsp.to_owned()
        } else {
            format!("/{nsp}")
        };
        let inner = lock(&self.shared.sockets)
            .entry(nsp.clone())
            .or_insert_with(|| Arc::new(SocketShared::new(nsp)))
            .clone();
        Socket {
            manager: self.shared.clone(),
            inner,
        }
    }

    /// The transport in use, or `None` while not connected.
    ///
    /// ```
    /// let manager = rally_client::Manager::new("http://127.0.0.1:3000")?;
    /// assert_eq!(manager.transport(), None);
    /// # Ok::<(), rally_client::Error>(())
    /// ```
    #[must_use]
    pub fn transport(&self) -> Option<Transport> {
        lock(&self.shared.status).transport
    }

    /// The Engine.IO session id, or `None` while not connected. It is not
    /// any socket's id, and it stays the same through the upgrade.
    ///
    /// ```
    /// # let manager = rally_client::Manager::new("http://127.0.0.1:3000")?;
    /// assert_eq!(manager.engine_id(), None); // not connected
    /// # Ok::<(), rally_client::Error>(())
    /// ```
    #[must_use]
    pub fn engine_id(&self) -> Option<String> {
        lock(&self.shared.status).engine_id.clone()
    }

    /// Calls `hook` before each reconnection attempt, with its number (from 1).
    ///
    /// ```
    /// # let manager = rally_client::Manager::new("http://127.0.0.1:3000")?;
    /// manager.on_reconnect_attempt(|attempt| eprintln!("reconnecting, attempt {attempt}"));
    /// # Ok::<(), rally_client::Error>(())
    /// ```
    #[doc(alias = "reconnect_attempt")]
    pub fn on_reconnect_attempt(&self, hook: impl Fn(u32) + Send + Sync + 'static) {
        lock(&self.shared.hooks)
            .reconnect_attempt
            .push(Arc::new(hook));
    }

    /// Calls `hook` after a successful reconnection, with the number of
    /// attempts it took.
    ///
    /// ```
    /// # let manager = rally_client::Manager::new("http://127.0.0.1:3000")?;
    /// manager.on_reconnect(|attempts| eprintln!("reconnected after {attempts} attempts"));
    /// # Ok::<(), rally_client::Error>(())
    /// ```
    #[doc(alias = "reconnect")]
    pub fn on_reconnect(&self, hook: impl Fn(u32) + Send + Sync + 'static) {
        lock(&self.shared.hooks).reconnect.push(Arc::new(hook));
    }

    /// Calls `hook` when the manager gives up reconnecting (after
    /// [`reconnection_attempts`](ManagerBuilder::reconnection_attempts)).
    ///
    /// ```
    /// # let manager = rally_client::Manager::new("http://127.0.0.1:3000")?;
    /// manager.on_reconnect_failed(|| eprintln!("giving up"));
    /// # Ok::<(), rally_client::Error>(())
    /// ```
    #[doc(alias = "reconnect_failed")]
    pub fn on_reconnect_failed(&self, hook: impl Fn() + Send + Sync + 'static) {
        lock(&self.shared.hooks)
            .reconnect_failed
            .push(Arc::new(hook));
    }

    /// Calls `hook` when the connection moves to another transport (the
    /// upgrade from polling to WebSocket).
    ///
    /// ```
    /// # let manager = rally_client::Manager::new("http://127.0.0.1:3000")?;
    /// manager.on_upgrade(|transport| eprintln!("now on {transport}"));
    /// # Ok::<(), rally_client::Error>(())
    /// ```
    pub fn on_upgrade(&self, hook: impl Fn(Transport) + Send + Sync + 'static) {
        lock(&self.shared.hooks).upgrade.push(Arc::new(hook));
    }

    /// Disconnects every socket (each sees `io client disconnect`) and
    /// closes the connection, flushing what is queued first. Sockets can
    /// connect again afterwards.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), rally_client::Error> {
    /// let socket = rally_client::io("http://127.0.0.1:3000")?;
    /// socket.connect().await?;
    /// socket.emit("bye", ()).ok();
    /// socket.manager().close().await; // "bye" is flushed first
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// The close happens even if this future is dropped; awaiting it waits
    /// until the server was told (at most about a second).
    #[doc(alias = "disconnect")]
    pub async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.shared.commands.send(Command::Close(done)).is_ok() {
            self.shared.start();
            let _ = closed.await;
        }
    }
}

impl ManagerShared {
    /// Starts the manager's task, once. Must run within a Tokio runtime.
    pub(crate) fn start(self: &Arc<Self>) {
        let Some(commands) = lock(&self.unstarted).take() else {
            return;
        };
        let driver = Driver::new(Arc::downgrade(self), self.config.clone());
        tokio::spawn(driver.run(commands));
    }
}

impl fmt::Debug for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = lock(&self.shared.status).clone();
        f.debug_struct("Manager")
            .field("endpoint", &self.shared.config.engine.endpoint.authority)
            .field("transport", &status.transport)
            .field("engine_id", &status.engine_id)
            .finish()
    }
}
