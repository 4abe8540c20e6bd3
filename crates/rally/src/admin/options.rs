//! The options of the Admin UI's server side, named as in
//! `@socket.io/admin-ui`'s `instrument(io, options)`.

use std::{fmt, time::Duration};

/// What the Admin UI is sent: everything, or only aggregated figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mode {
    /// Every socket, room and event, as they happen (the reference's
    /// default outside `NODE_ENV=production`). Each socket of the server
    /// then carries an incoming and an outgoing catch-all while it is
    /// connected.
    #[default]
    Development,
    /// Only the server statistics (counts and aggregated events): nothing
    /// is added to the path of an event.
    Production,
}

impl Mode {
    /// The mode as the reference spells it (`development`, `production`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Production => "production",
        }
    }
}

impl std::str::FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "development" => Ok(Self::Development),
            "production" => Ok(Self::Production),
            _ => Err(format!("expected development or production, got `{s}`")),
        }
    }
}

/// The cost of the hashes [`Auth::from_password`] makes.
const HASH_COST: u32 = 10;

/// A bcrypt hash that does not parse, refused by [`Auth::basic`].
#[derive(Debug, Clone, thiserror::Error)]
#[error("the admin password must be a valid bcrypt hash")]
pub struct InvalidHash;

/// The credentials the Admin UI must give (the reference's
/// `auth: { type: "basic", username, password }`).
///
/// ```
/// let hash = bcrypt::hash("changeit", 4).unwrap();
/// let auth = rally::admin::Auth::basic("admin", &hash).unwrap();
/// # let _ = auth;
/// ```
#[derive(Clone)]
pub struct Auth {
    pub(crate) username: String,
    pub(crate) password_hash: String,
}

impl Auth {
    /// A username and the bcrypt hash of the password (`$2a$`, `$2b$` or
    /// `$2y$`, as `bcrypt` and Node's `bcryptjs` make).
    ///
    /// # Errors
    ///
    /// [`InvalidHash`] when `password_hash` is not a bcrypt hash.
    pub fn basic(username: &str, password_hash: &str) -> Result<Self, InvalidHash> {
        password_hash
            .parse::<bcrypt::HashParts>()
            .map_err(|_| InvalidHash)?;
        Ok(Self {
            username: username.to_owned(),
            password_hash: password_hash.to_owned(),
        })
    }

    /// A username and a plain password, hashed here with bcrypt at cost 10
    /// (`bcryptjs`'s usual cost; it takes a fraction of a second): for a
    /// password read from the environment at start.
    ///
    /// # Errors
    ///
    /// [`InvalidHash`] when bcrypt cannot hash it (it can hash any
    /// password; only its first 72 bytes count).
    pub fn from_password(username: &str, password: &str) -> Result<Self, InvalidHash> {
        let hash = bcrypt::hash(password, HASH_COST).map_err(|_| InvalidHash)?;
        Self::basic(username, &hash)
    }

    /// The username.
    #[must_use]
    pub fn username(&self) -> &str {
        &self.username
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// The options of the Admin UI's server side; the defaults are the
/// reference's (no auth must be asked for explicitly there; here it is the
/// default, and [`instrument`](super::instrument) warns about it).
///
/// ```
/// use std::time::Duration;
/// use rally::admin::{AdminUi, Mode};
///
/// let io = rally::Server::builder()
///     .admin_ui(AdminUi::new().read_only(true).mode(Mode::Production).server_stats_interval(Duration::from_secs(5)))
///     .build();
/// # let _ = io;
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct AdminUi {
    pub(crate) auth: Option<Auth>,
    pub(crate) namespace_name: String,
    pub(crate) read_only: bool,
    pub(crate) server_id: Option<String>,
    pub(crate) mode: Mode,
    pub(crate) server_stats_interval: Duration,
}

impl Default for AdminUi {
    fn default() -> Self {
        Self {
            auth: None,
            namespace_name: "/admin".to_owned(),
            read_only: false,
            server_id: None,
            mode: Mode::Development,
            server_stats_interval: Duration::from_secs(2),
        }
    }
}

impl AdminUi {
    /// The defaults: no auth, `/admin`, commands allowed, development mode,
    /// statistics every 2 s.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requires these credentials (`auth`; default: none, anyone who
    /// reaches the server can watch it and disconnect its sockets).
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// The namespace the UI connects to (`namespaceName`, default `/admin`).
    pub fn namespace_name(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.namespace_name = if name.starts_with('/') {
            name
        } else {
            format!("/{name}")
        };
        self
    }

    /// Refuses the UI's commands (`readonly`, default false): it can watch,
    /// not emit, join, leave nor disconnect.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// The name of this server in the UI (`serverId`, default the host
    /// name).
    pub fn server_id(mut self, id: impl Into<String>) -> Self {
        self.server_id = Some(id.into());
        self
    }

    /// What the UI is sent (`mode`, default [`Mode::Development`]).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// How often `server_stats` is sent (2 s in the reference, which has no
    /// option for it).
    pub fn server_stats_interval(mut self, every: Duration) -> Self {
        self.server_stats_interval = every.max(Duration::from_millis(10));
        self
    }
}
