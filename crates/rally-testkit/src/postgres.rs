//! A Postgres server of the test's own (Debian's `postgresql` package, which
//! `scripts/test.sh` installs): `initdb` and `pg_ctl` in a temporary folder,
//! a free port on 127.0.0.1, the unix socket in that folder, run as the
//! unprivileged `postgres` user when the tests run as root (the server
//! refuses root), stopped and removed on drop.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use tokio::net::TcpStream;

use crate::{free_port, within};

/// A running Postgres server, user `postgres` with no password (trust).
#[derive(Debug)]
pub struct PostgresServer {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
}

/// The folder of `pg_ctl` and `initdb`: on the `PATH`, or Debian's
/// `/usr/lib/postgresql/<version>/bin` (the newest).
fn bin_dir() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .find(|dir| dir.join("pg_ctl").exists() && dir.join("initdb").exists())
    });
    if let Some(dir) = on_path {
        return dir;
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("pg_ctl").exists())
        .collect();
    versions.sort_by_key(|bin| {
        bin.parent()
            .and_then(Path::file_name)
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    versions
        .pop()
        .expect("Postgres is installed (apt-get install postgresql; scripts/test.sh does it)")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.starts_with(b"0\n"))
}

impl PostgresServer {
    /// Makes a cluster in a temporary folder and starts it, waiting until
    /// it takes connections.
    pub async fn start() -> Self {
        let port = free_port().await;
        let dir = std::env::temp_dir().join(format!("rally-pg-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a folder for postgres");
        let server = Self {
            port,
            dir,
            bin: bin_dir(),
        };
        if is_root() {
            let owned = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&server.dir)
                .status()
                .is_ok_and(|s| s.success());
            assert!(owned, "chown the folder to the postgres user");
        }
        let data = server.dir.join("data");
        let made = server
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .output()
            .expect("initdb runs");
        assert!(
            made.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&made.stderr)
        );
        server.start_again().await;
        server
    }

    /// A command of Postgres's, as the `postgres` user when this is root.
    fn command(&self, name: &str) -> Command {
        let program = self.bin.join(name);
        if is_root() {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(program);
            cmd
        } else {
            Command::new(program)
        }
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts it (again, on the same port and data).
    pub async fn start_again(&self) {
        let options = format!(
            "-p {} -h 127.0.0.1 -k {} -c fsync=off -c full_page_writes=off",
            self.port,
            self.dir.display()
        );
        let started = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-o")
            .arg(options)
            .arg("-l")
            .arg(self.dir.join("log"))
            .args(["-w", "start"])
            .output()
            .expect("pg_ctl runs");
        assert!(
            started.status.success(),
            "pg_ctl start: {}{}",
            String::from_utf8_lossy(&started.stdout),
            std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
        );
        let port = self.port;
        within("postgres to take connections", async move {
            while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
    }

    /// Stops it at once (connections drop).
    pub fn stop(&self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Rally node on a Postgres cluster, as [`RallyNode`](crate::cluster::RallyNode)
/// on Redis: a free port, namespaces `/` and `/admin`, the same handlers.
#[derive(Debug)]
pub struct PostgresNode {
    /// The server.
    pub io: rally::Server,
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    /// Its adapter.
    pub pg: rally_postgres::PostgresAdapter,
}

impl PostgresNode {
    /// A node on the Postgres at `url` with the adapter configuration
    /// `config`.
    pub async fn start(url: &str, config: rally_postgres::PostgresConfig) -> Self {
        let pg = rally_postgres::PostgresAdapter::connect(url, config)
            .await
            .expect("the adapter connects");
        let (io, addr) = crate::cluster::serve_node(pg.factory(), rally::Parser::Json).await;
        Self { io, addr, pg }
    }

    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The `name`s of the sockets of the whole cluster in `room` (see
    /// [`names`](crate::cluster::names)).
    pub async fn names(&self, room: Option<&str>) -> Vec<String> {
        crate::cluster::names(&self.io, room).await
    }

    /// Waits until the adapter counts `n` nodes on the main namespace.
    pub async fn wait_for_nodes(&self, n: usize) {
        crate::cluster::wait_for_nodes(&self.io, n).await;
    }
}
