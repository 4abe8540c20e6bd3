//! Files over HTTP: the browser client bundle, the chat demo, a static directory.

use std::path::{Component, Path, PathBuf};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use http_body_util::Full;

include!(concat!(env!("OUT_DIR"), "/client_files.rs"));

/// The chat demo page.
const CHAT_PAGE: &str = include_str!("../assets/index.html");

/// The version of the embedded client, its ETag.
const CLIENT_ETAG: &str = "\"4.8.4\"";

pub(crate) type Reply = Response<Full<Bytes>>;

/// Whether the browser client was embedded at build time.
pub(crate) fn has_client() -> bool {
    CLIENT_FILES.iter().any(|(_, file)| file.is_some())
}

/// The browser client file `name` (such as `socket.io.min.js`), as the
/// reference's `serveClient` answers it; `None` when it is not a client file.
pub(crate) fn client(name: &str, request: &HeaderMap) -> Option<Reply> {
    let (_, file) = CLIENT_FILES.iter().find(|(n, _)| *n == name)?;
    let Some(bytes) = file else {
        return Some(status(
            StatusCode::NOT_FOUND,
            "the browser client was not built in: run `bash scripts/run.sh`",
        ));
    };
    if request
        .get(header::IF_NONE_MATCH)
        .is_some_and(|tag| tag == CLIENT_ETAG)
    {
        return Some(status(StatusCode::NOT_MODIFIED, ""));
    }
    let content_type = if name.ends_with(".map") {
        "application/json"
    } else {
        "application/javascript; charset=utf-8"
    };
    let mut reply = with_type(Bytes::from_static(bytes), content_type);
    reply
        .headers_mut()
        .insert(header::ETAG, HeaderValue::from_static(CLIENT_ETAG));
    reply.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=0"),
    );
    Some(reply)
}

/// Whether the Admin UI was embedded at build time.
pub(crate) fn has_admin_ui() -> bool {
    !ADMIN_FILES.is_empty()
}

/// The Admin UI's file for the request path `path` (`/admin/...`; `/admin`
/// itself redirects to `/admin/`); `None` when the path is not the UI's.
/// The page is told the server's Socket.IO `path`, so that it offers to
/// connect to this server at once.
pub(crate) fn admin_ui(path: &str, socket_io_path: &str) -> Option<Reply> {
    if path == "/admin" {
        let mut reply = status(StatusCode::MOVED_PERMANENTLY, "");
        reply
            .headers_mut()
            .insert(header::LOCATION, HeaderValue::from_static("/admin/"));
        return Some(reply);
    }
    let name = path.strip_prefix("/admin/")?;
    let name = if name.is_empty() { "index.html" } else { name };
    let Some((_, bytes)) = ADMIN_FILES.iter().find(|(n, _)| *n == name) else {
        return Some(status(
            StatusCode::NOT_FOUND,
            "not found (the Admin UI is built in from interop/node_modules: run `bash scripts/run.sh`)",
        ));
    };
    let file = Path::new(name);
    if name != "index.html" {
        return Some(with_type(Bytes::from_static(bytes), content_type(file)));
    }
    // Before the app reads its settings: this server, unless the operator
    // chose another one already.
    let path = socket_io_path.trim_end_matches('/');
    let preset = format!(
        "<head><script>if(!localStorage.getItem(\"server_url\")){{localStorage.setItem(\"server_url\",location.origin);localStorage.setItem(\"path\",{})}}</script>",
        serde_json::Value::from(path)
    );
    let page = String::from_utf8_lossy(bytes).replacen("<head>", &preset, 1);
    Some(with_type(Bytes::from(page), "text/html; charset=utf-8"))
}

/// The chat demo page.
pub(crate) fn chat_page() -> Reply {
    with_type(
        Bytes::from_static(CHAT_PAGE.as_bytes()),
        "text/html; charset=utf-8",
    )
}

/// A file of `root` for the request path `path` (`/` is `index.html`).
pub(crate) async fn from_dir(root: &Path, path: &str) -> Reply {
    let Some(relative) = safe_relative(path) else {
        return status(StatusCode::NOT_FOUND, "not found");
    };
    let mut file = root.join(relative);
    if file.is_dir() {
        file.push("index.html");
    }
    match tokio::fs::read(&file).await {
        Ok(bytes) => with_type(Bytes::from(bytes), content_type(&file)),
        Err(_) => status(StatusCode::NOT_FOUND, "not found"),
    }
}

/// The request path as a relative path with no way out of the root.
fn safe_relative(path: &str) -> Option<PathBuf> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let decoded = percent_decode(path)?;
    let mut out = PathBuf::new();
    for component in Path::new(decoded.trim_start_matches('/')).components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let decoded = String::from_utf8(out).ok()?;
    (!decoded.contains('\0')).then_some(decoded)
}

fn content_type(file: &Path) -> &'static str {
    match file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
    {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "application/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "ico" => "image/x-icon",
        "wasm" => "application/wasm",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn with_type(body: Bytes, content_type: &'static str) -> Reply {
    let mut reply = Response::new(Full::new(body));
    reply
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    reply
}

/// A plain-text reply.
pub(crate) fn status(status: StatusCode, text: &'static str) -> Reply {
    let mut reply = with_type(
        Bytes::from_static(text.as_bytes()),
        "text/plain; charset=utf-8",
    );
    *reply.status_mut() = status;
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_cannot_escape_the_root() {
        assert_eq!(safe_relative("/a/b.js"), Some(PathBuf::from("a/b.js")));
        assert_eq!(safe_relative("/"), Some(PathBuf::new()));
        assert_eq!(safe_relative("/./x?y=1"), Some(PathBuf::from("x")));
        assert_eq!(safe_relative("/../etc/passwd"), None);
        assert_eq!(safe_relative("/a/%2e%2e/%2e%2e/etc"), None);
        assert_eq!(safe_relative("/a%00b"), None);
        assert_eq!(safe_relative("/%zz"), None);
    }
}
