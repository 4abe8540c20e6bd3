//! `rally serve`: the standalone server.

use std::{
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    pin::Pin,
    process::ExitCode,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use rally::Server;
use rally_postgres::{PostgresAdapter, PostgresConfig};
use rally_redis::{RedisAdapter, RedisConfig};
use tokio::net::TcpListener;
use tower_service::Service;
use tracing_subscriber::EnvFilter;

use crate::{
    chat,
    config::{LogFormat, ServeConfig},
    files,
    metrics::{ClusterLink, Metrics},
    tls,
};

/// Runs the server `config` describes until SIGINT or SIGTERM, with its
/// logs on stderr.
pub(crate) fn main(config: ServeConfig) -> ExitCode {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("rally serve: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rally serve: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The Socket.IO server that `config` describes, with the chat demo, on
/// the cluster of `link` when there is one.
fn server(config: &ServeConfig, link: Option<&ClusterLink>) -> Server {
    let mut builder = Server::builder()
        .path(config.path.clone())
        .ping_interval(config.ping_interval)
        .ping_timeout(config.ping_timeout)
        .max_http_buffer_size(config.max_payload)
        .http_compression(
            config
                .http_compression
                .then(rally::HttpCompression::default),
        )
        .transports(config.transports.iter().copied())
        .parser(config.parser)
        .allow_eio3(config.allow_eio3)
        .per_message_deflate(config.per_message_deflate())
        .add_trailing_slash(config.add_trailing_slash);
    let limits = &config.limits;
    if let Some(n) = limits.max_sessions {
        builder = builder.max_sessions(n);
    }
    if let Some(n) = limits.max_namespaces {
        builder = builder.max_namespaces(n);
    }
    if let Some(n) = limits.max_pending_acks {
        builder = builder.max_pending_acks(n);
    }
    if let Some(n) = limits.max_rooms {
        builder = builder.max_rooms(n);
    }
    if let Some(n) = limits.max_buffered_frames {
        builder = builder.max_buffered_frames(n);
    }
    if let Some(n) = limits.max_handshakes_per_minute {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        builder = builder.max_handshakes_per_ip(n, std::time::Duration::from_secs(60));
    }
    if let Some(cors) = config.cors() {
        builder = builder.cors(cors);
    }
    if let Some(cookie) = config.cookie() {
        builder = builder.cookie(cookie);
    }
    match link {
        Some(ClusterLink::Redis(redis)) => {
            builder = builder.adapter(redis.factory());
            if config.forward_sessions {
                builder = builder.bus(redis.bus()).forward_sessions(true);
            }
        }
        Some(ClusterLink::Postgres(pg)) => {
            builder = builder.adapter(pg.factory());
            if config.forward_sessions {
                builder = builder.bus(pg.bus()).forward_sessions(true);
            }
        }
        None => {}
    }
    if let Some(recovery) = config.recovery() {
        builder = builder.connection_state_recovery(recovery);
    }
    let io = builder.build();
    if config.static_dir.is_none() {
        chat::install(&io.of("/"));
    }
    io
}

/// A listener on `config.host`, port `port`.
async fn bind(config: &ServeConfig, port: u16) -> Result<TcpListener, String> {
    let host = config.host.trim_start_matches('[').trim_end_matches(']');
    let addr: SocketAddr = format!("[{host}]:{port}")
        .parse()
        .or_else(|_| format!("{host}:{port}").parse())
        .map_err(|_| format!("--host: not an IP address: `{}`", config.host))?;
    match TcpListener::bind(addr).await {
        Ok(listener) => Ok(listener),
        // No IPv6 here: all IPv4 addresses instead.
        Err(_) if host == "::" => {
            let v4 = SocketAddr::from(([0, 0, 0, 0], port));
            TcpListener::bind(v4)
                .await
                .map_err(|e| format!("cannot listen on {v4}: {e}"))
        }
        Err(e) => Err(format!("cannot listen on {addr}: {e}")),
    }
}

async fn run(config: ServeConfig) -> Result<(), String> {
    if let Some(dir) = &config.static_dir {
        if !dir.is_dir() {
            return Err(format!("--static-dir: not a directory: {}", dir.display()));
        }
    }
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Some(tls::load(cert, key)?),
        _ => None,
    };
    let listener = bind(&config, config.port).await?;
    let redirects = match config.redirect_http {
        Some(port) => Some(bind(&config, port).await?),
        None => None,
    };
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let link = match &config.redis {
        Some(url) => {
            // In streams mode, the adapter follows the server's recovery
            // settings: sessions kept in Redis, recovery across nodes.
            let mut redis_config = RedisConfig::new().mode(config.redis_mode);
            if let Some(ca) = &config.redis_ca {
                let pem =
                    std::fs::read(ca).map_err(|e| format!("--redis-ca {}: {e}", ca.display()))?;
                redis_config = redis_config.ca_certificates(pem);
            }
            let redis = RedisAdapter::connect(url, redis_config)
                .await
                .map_err(|e| format!("--redis: {e}"))?;
            tracing::info!(%url, mode = ?config.redis_mode, "joined the cluster through redis");
            Some(ClusterLink::Redis(redis))
        }
        None => match &config.postgres {
            Some(url) => {
                let pg = PostgresAdapter::connect(url, PostgresConfig::new())
                    .await
                    .map_err(|e| format!("--postgres: {e}"))?;
                tracing::info!("joined the cluster through postgres");
                Some(ClusterLink::Postgres(pg))
            }
            None => None,
        },
    };
    let io = server(&config, link.as_ref());
    if config.admin.enabled {
        rally::admin::instrument(&io, config.admin.admin_ui()?);
        if !files::has_admin_ui() {
            tracing::warn!(
                "the Admin UI is not built in (run `bash scripts/run.sh`): /admin/ answers 404; the hosted UI can still connect to /admin"
            );
        }
        tracing::info!(
            mode = config.admin.mode.as_str(),
            "Admin UI on http://localhost:{}/admin/",
            addr.port()
        );
    }
    let cluster = link.clone();
    let app = App {
        io: io.clone(),
        config: Arc::new(config.clone()),
        metrics: Metrics::new(io.clone(), link, tls.as_ref().map(|(tls, _)| tls.clone())),
    };
    if !files::has_client() {
        tracing::warn!(
            "the browser client is not built in (run `bash scripts/run.sh`): /socket.io/socket.io.js answers 404"
        );
    }
    let stop = shutdown_signal();
    // Listened for before the server says it listens, as the signals to stop.
    let tls = tls.map(|(tls, cert)| {
        tls::reload_on_hangup(cert);
        tls
    });
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(%addr, path = %config.path, "rally listening; chat demo on {scheme}://localhost:{}/", addr.port());
    println!(
        "rally listening on {scheme}://localhost:{}/ ({addr})",
        addr.port()
    );

    let (stopped_tx, stopped_rx) = tokio::sync::watch::channel(());
    let stopped = move || {
        let mut stopped_rx = stopped_rx.clone();
        async move {
            let _ = stopped_rx.changed().await;
        }
    };
    if let Some(redirects) = redirects {
        let redirect = tls::Redirect {
            https_port: addr.port(),
        };
        tracing::info!(
            port = config.redirect_http,
            "plain http redirected to https"
        );
        tokio::spawn(rally::serve_with_shutdown(redirects, redirect, stopped()));
    }
    let served = match tls {
        Some(tls) => tokio::spawn(rally::serve_tls_with_shutdown(
            listener,
            tls,
            app,
            stopped(),
        )),
        None => tokio::spawn(rally::serve_with_shutdown(listener, app, stopped())),
    };
    stop.await;
    tracing::info!(connections = io.connection_count(), "shutting down");
    // Sockets leave (`server shutting down`), what that queued for the
    // cluster goes out, then the connections close (see `Server::close`).
    let closing = tokio::spawn({
        let io = io.clone();
        async move { io.close().await }
    });
    let _ = stopped_tx.send(());
    drop(stopped_tx);
    let drained = tokio::time::timeout(config.shutdown_timeout, async {
        let _ = served.await;
        let _ = closing.await;
    })
    .await;
    match drained {
        Ok(()) => tracing::info!("shut down cleanly"),
        Err(_) => tracing::warn!(
            left = io.connection_count(),
            "shutdown timeout reached; exiting anyway"
        ),
    }
    // The last disconnections' messages (and, in streams mode, the records
    // that let another node recover those sessions) reach the cluster
    // before the process ends.
    if let Some(cluster) = cluster {
        if tokio::time::timeout(FLUSH_TIMEOUT, cluster.flush())
            .await
            .is_err()
        {
            tracing::warn!("messages for the cluster still queued at exit");
        }
    }
    Ok(())
}

/// How long a stopping node waits for its last messages to reach the
/// cluster.
const FLUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Resolves on SIGINT or SIGTERM, listened for from this call on (so that
/// a signal sent as soon as the server says it listens is not missed).
fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{Signal, SignalKind, signal};
        async fn recv(signal: Option<Signal>) {
            match signal {
                Some(mut signal) => {
                    signal.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        let interrupt = recv(signal(SignalKind::interrupt()).ok());
        let terminate = recv(signal(SignalKind::terminate()).ok());
        async move {
            tokio::select! {
                () = interrupt => {}
                () = terminate => {}
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Every route of the standalone server.
#[derive(Clone)]
struct App {
    io: Server,
    config: Arc<ServeConfig>,
    metrics: Metrics,
}

type AppFuture = Pin<Box<dyn Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send>>;

impl<B> Service<Request<B>> for App
where
    Server: Service<Request<B>, Response = Response<Full<Bytes>>, Error = Infallible>,
    <Server as Service<Request<B>>>::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = AppFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let path = req.uri().path().to_owned();
        // The browser client first: it lives under the Socket.IO path.
        if let Some(name) = path.strip_prefix(self.config.path.as_str()) {
            if let Some(reply) = files::client(name, req.headers()) {
                return Box::pin(async move { Ok(reply) });
            }
            return Box::pin(self.io.call(req));
        }
        // Without the trailing slash, `/socket.io?EIO=4...` is the server's too.
        if !self.config.add_trailing_slash && path.starts_with(self.config.path_prefix()) {
            return Box::pin(self.io.call(req));
        }
        let app = self.clone();
        Box::pin(async move {
            let reply = match (req.method(), path.as_str()) {
                (&Method::GET | &Method::HEAD, _)
                    if app.config.admin.enabled
                        && (path == "/admin" || path.starts_with("/admin/")) =>
                {
                    files::admin_ui(&path, &app.config.path)
                        .unwrap_or_else(|| files::status(StatusCode::NOT_FOUND, "not found"))
                }
                (&Method::GET, "/healthz") => files::status(StatusCode::OK, "ok"),
                (&Method::GET, "/metrics") => {
                    let mut reply =
                        Response::new(Full::new(Bytes::from(app.metrics.render().await)));
                    reply.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                    );
                    reply
                }
                (&Method::GET | &Method::HEAD, _) => match &app.config.static_dir {
                    Some(dir) => files::from_dir(dir, &path).await,
                    None if path == "/" || path == "/index.html" => files::chat_page(),
                    None => files::status(StatusCode::NOT_FOUND, "not found"),
                },
                _ => files::status(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
            };
            Ok(reply)
        })
    }
}
