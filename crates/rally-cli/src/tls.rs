//! `rally serve --tls-cert --tls-key`: the certificate, read again on
//! SIGHUP, and the plain HTTP port that redirects to HTTPS.

use std::{
    convert::Infallible,
    future::{Ready, ready},
    path::Path,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::Full;
use rally::tls::{ReloadableCert, Tls};
use tower_service::Service;

/// The TLS settings of `cert` and `key`, and the certificate, which
/// [`reload_on_hangup`] reads again.
///
/// # Errors
///
/// A file that cannot be read, holds no certificate or key, or a key that
/// does not match the certificate, said with the file's name.
pub(crate) fn load(cert: &Path, key: &Path) -> Result<(Tls, Arc<ReloadableCert>), String> {
    let reloadable = ReloadableCert::from_pem_files(cert, key)
        .map_err(|e| format!("--tls-cert/--tls-key: {e}"))?;
    Ok((Tls::from_resolver(reloadable.clone()), reloadable))
}

/// Reads the certificate and key again on each SIGHUP (on the current
/// runtime, from now on): the next handshakes present the new ones, the
/// connections already open keep theirs. A pair that does not load is
/// logged, and the one before stays.
pub(crate) fn reload_on_hangup(cert: Arc<ReloadableCert>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(hangups) => hangups,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP: the certificate will not be reloaded");
                return;
            }
        };
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                match cert.reload() {
                    Ok(()) => tracing::info!("SIGHUP: tls certificate reloaded"),
                    Err(e) => {
                        tracing::error!(error = %e, "SIGHUP: tls certificate not reloaded; the previous one stays");
                    }
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = cert;
}

/// The plain HTTP service of `--redirect-http`: every request is answered
/// with a permanent redirect (308, which keeps the method) to the same host,
/// path and query over https, on `https_port`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Redirect {
    pub(crate) https_port: u16,
}

impl<B> Service<Request<B>> for Redirect {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        ready(Ok(redirect(&req, self.https_port)))
    }
}

/// The redirect for `req`, or a 400 when it names no usable host.
fn redirect<B>(req: &Request<B>, https_port: u16) -> Response<Full<Bytes>> {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().host())
        .map(strip_port)
        .filter(|h| !h.is_empty() && !h.contains(['/', '@', '?', '#', ' ']));
    let Some(host) = host else {
        let mut reply = Response::new(Full::new(Bytes::from_static(
            b"no Host header: use an https:// URL\n",
        )));
        *reply.status_mut() = StatusCode::BAD_REQUEST;
        return reply;
    };
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let location = if https_port == 443 {
        format!("https://{host}{path}")
    } else {
        format!("https://{host}:{https_port}{path}")
    };
    let mut reply = Response::new(Full::new(Bytes::from(format!("moved to {location}\n"))));
    *reply.status_mut() = StatusCode::PERMANENT_REDIRECT;
    if let Ok(value) = HeaderValue::from_str(&location) {
        reply.headers_mut().insert(header::LOCATION, value);
    }
    reply
}

/// `host` without its `:port` (an IPv6 literal keeps its brackets).
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    host.split(':').next().unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(host: Option<&str>, uri: &str, port: u16) -> (StatusCode, Option<String>) {
        let mut req = Request::get(uri);
        if let Some(host) = host {
            req = req.header("host", host);
        }
        let reply = redirect(&req.body(()).unwrap(), port);
        let location = reply
            .headers()
            .get(header::LOCATION)
            .map(|l| l.to_str().unwrap().to_owned());
        (reply.status(), location)
    }

    #[test]
    fn redirects_keep_the_host_path_and_query() {
        assert_eq!(
            location(Some("example.com:8080"), "/chat?room=1", 8443),
            (
                StatusCode::PERMANENT_REDIRECT,
                Some("https://example.com:8443/chat?room=1".into())
            )
        );
        assert_eq!(
            location(Some("example.com"), "/", 443).1.as_deref(),
            Some("https://example.com/")
        );
        assert_eq!(
            location(Some("[::1]:80"), "/x", 3443).1.as_deref(),
            Some("https://[::1]:3443/x")
        );
    }

    #[test]
    fn a_request_without_a_usable_host_is_refused() {
        assert_eq!(location(None, "/", 443), (StatusCode::BAD_REQUEST, None));
        assert_eq!(
            location(Some("evil.com/x"), "/", 443),
            (StatusCode::BAD_REQUEST, None)
        );
    }
}
