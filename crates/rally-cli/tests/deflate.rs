//! `rally serve --per-message-deflate` with Debian's Chromium, which always
//! offers permessage-deflate: the 101 reply to its exact offer, and a page
//! that exchanges a chat message of 2000 characters (over the 1024-byte
//! threshold both ways) over WebSocket (interop/deflate-browser.mjs).

mod support;

use rally_testkit::{node, within};
use support::Rally;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// What Chromium puts in `Sec-WebSocket-Extensions`.
const CHROMIUM_OFFER: &str = "permessage-deflate; client_max_window_bits";

/// The `Sec-WebSocket-Extensions` of the 101 reply to a WebSocket request
/// with Chromium's offer, if there is one.
async fn extensions_for_chromiums_offer(rally: &Rally) -> Option<String> {
    let mut tcp = TcpStream::connect(("127.0.0.1", rally.port))
        .await
        .expect("connect");
    let request = format!(
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\
         Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Extensions: {CHROMIUM_OFFER}\r\n\r\n",
        rally.port
    );
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut head = Vec::new();
    within("the 101 reply", async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = tcp.read_buf(&mut head).await.expect("read");
            assert!(n > 0, "the server closed the connection");
        }
    })
    .await;
    let head = String::from_utf8_lossy(&head).into_owned();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("sec-websocket-extensions")
            .then(|| value.trim().to_owned())
    })
}

#[tokio::test]
async fn chromiums_offer_gets_the_extension_only_when_on() {
    let on = Rally::start(&["--per-message-deflate"]);
    assert_eq!(
        extensions_for_chromiums_offer(&on).await.as_deref(),
        Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
    );
    let off = Rally::start(&[]);
    assert_eq!(extensions_for_chromiums_offer(&off).await, None);
}

#[tokio::test]
async fn a_browser_exchanges_long_messages_compressed() {
    let rally = Rally::start(&["--per-message-deflate"]);
    let url = format!("http://127.0.0.1:{}", rally.port);
    let out = node::run("deflate-browser.mjs", &[&url, "on"]).await;
    print!("{out}");
}

#[tokio::test]
async fn a_browser_exchanges_long_messages_uncompressed_when_off() {
    let rally = Rally::start(&[]);
    let url = format!("http://127.0.0.1:{}", rally.port);
    node::run("deflate-browser.mjs", &[&url, "off"]).await;
}
