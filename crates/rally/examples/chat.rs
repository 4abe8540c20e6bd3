//! The socket.io chat tutorial ("Get started"), ported statement by
//! statement: a page with a form, every `chat message` sent to everyone.
//!
//! ```text
//! bash scripts/test.sh   # once: installs the official browser client under interop/
//! cargo run --example chat
//! ```
//!
//! Then open <http://localhost:3000> in two tabs. The Node.js original:
//!
//! ```js
//! const app = express();
//! const server = createServer(app);
//! const io = new Server(server);
//! app.get("/", (req, res) => res.sendFile(join(__dirname, "index.html")));
//! io.on("connection", (socket) => {
//!   socket.on("chat message", (msg) => io.emit("chat message", msg));
//! });
//! server.listen(3000);
//! ```

use axum::{Router, http::header, response::IntoResponse, routing::get};
use rally::Server;

/// The tutorial's page. It loads the official browser client from
/// `/client.js` (the library does not serve it: `rally serve` does).
const INDEX: &str = r#"<!DOCTYPE html>
<html>
  <head><meta charset="utf-8"><title>Socket.IO chat</title></head>
  <body>
    <ul id="messages"></ul>
    <form id="form" action=""><input id="input" autocomplete="off" /><button>Send</button></form>
    <script src="/client.js"></script>
    <script>
      const socket = io();
      const form = document.getElementById("form");
      const input = document.getElementById("input");
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        if (input.value) {
          socket.emit("chat message", input.value);
          input.value = "";
        }
      });
      socket.on("chat message", (msg) => {
        const item = document.createElement("li");
        item.textContent = msg;
        document.getElementById("messages").appendChild(item);
        window.scrollTo(0, document.body.scrollHeight);
      });
    </script>
  </body>
</html>
"#;

/// The official browser client, as `scripts/test.sh` installs it.
async fn client_js() -> impl IntoResponse {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../interop/node_modules/socket.io-client/dist/socket.io.min.js"
    );
    let body = std::fs::read(path).unwrap_or_else(|_| {
        b"alert('the browser client is missing: run bash scripts/test.sh once')".to_vec()
    });
    ([(header::CONTENT_TYPE, "application/javascript")], body)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let io = Server::new();
    let everyone = io.clone();
    io.of("/").on_connection(move |socket| {
        let io = everyone.clone();
        async move {
            socket.on("chat message", move |_socket, event| {
                let io = io.clone();
                async move {
                    let msg: String = event.arg(0).unwrap_or_default();
                    let _ = io.emit("chat message", &msg);
                }
            });
        }
    });

    let app = Router::new()
        .route("/", get(|| async { axum::response::Html(INDEX) }))
        .route("/client.js", get(client_js))
        .layer(io.layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://localhost:3000");
    axum::serve(listener, app).await
}
