//! Debian's `nginx` (which `scripts/test.sh` installs) as a round-robin
//! load balancer of the test's own: a generated configuration in a
//! temporary prefix, a free port, `daemon off`, one process (no master, so
//! no switch of user), every request to the next upstream in turn (no
//! `ip_hash`, no keep-alive to the upstreams: consecutive requests of one
//! client really move), WebSocket upgrades passed through. Killed on drop.

use std::{path::PathBuf, process::Stdio, time::Duration};

use tokio::{
    net::TcpStream,
    process::{Child, Command},
};

use crate::{free_port, within};

/// A running `nginx` balancing across some local ports.
#[derive(Debug)]
pub struct Nginx {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    dir: PathBuf,
    _child: Child,
}

impl Nginx {
    /// Starts one in front of the servers on `upstreams` (127.0.0.1), and
    /// waits until it accepts connections.
    ///
    /// # Panics
    ///
    /// When nginx is not installed or does not start.
    pub async fn start(upstreams: &[u16]) -> Self {
        let port = free_port().await;
        let dir = std::env::temp_dir().join(format!("rally-nginx-{}-{port}", std::process::id()));
        std::fs::create_dir_all(dir.join("logs")).expect("a folder for nginx");
        let servers: String = upstreams
            .iter()
            .map(|p| format!("        server 127.0.0.1:{p} max_fails=0;\n"))
            .collect();
        let conf = format!(
            r#"daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
    log_format routed '$msec $request $status $upstream_addr $upstream_status $request_time';
    access_log {dir}/logs/access.log routed;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        '' close;
    }}
    upstream rally {{
{servers}    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://rally;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 120s;
            proxy_buffering off;
            # A node that refuses the connection (killed) passes the
            # request on to the next, POSTs included.
            proxy_next_upstream error timeout non_idempotent;
        }}
    }}
}}
"#,
            dir = dir.display()
        );
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("nginx.conf written");
        // Debian keeps it in /usr/sbin, off some users' PATH.
        let program = if std::path::Path::new("/usr/sbin/nginx").exists() {
            "/usr/sbin/nginx"
        } else {
            "nginx"
        };
        let child = Command::new(program)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("nginx runs (apt-get install nginx; scripts/test.sh does it)");
        within("nginx to listen", async move {
            while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        Self {
            port,
            dir,
            _child: child,
        }
    }

    /// `http://127.0.0.1:<port>`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Its error log so far (for a failing test's message).
    #[must_use]
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("logs/error.log")).unwrap_or_default()
    }

    /// The last `n` requests it passed on: time, request line, status,
    /// the nodes tried and their statuses, duration (for a failing test's
    /// message).
    #[must_use]
    pub fn recent_requests(&self, n: usize) -> String {
        let log = std::fs::read_to_string(self.dir.join("logs/access.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
