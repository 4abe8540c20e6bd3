//! The compression scenario: pages of a chat history (JSON, 1 to 4 KB,
//! every page different) broadcast to a room, WebSocket permessage-deflate
//! on or off.
//!
//! A broadcast is where compression costs most: a server that compresses
//! per connection (Node's `ws` keeps a zlib stream per socket) pays for
//! every recipient, one that compresses a broadcast once (Rally, with no
//! context takeover) pays once per room. The clients offer
//! permessage-deflate with no context takeover either way when the cell is
//! "on" (and fail if the server does not agree), and count the bytes of
//! each message's frame as it came off the wire. They inflate the head of
//! every compressed message to read its send timestamp, and one message in
//! [`CHECK_EVERY`] whole (bounded by [`MAX_MESSAGE`]), checking that it is
//! the page sent: inflating every byte of every message would make this
//! one-core load generator, not the server, the bottleneck. The sender
//! compresses what it sends too, as a client with the extension does, so
//! the server also inflates.

use std::{
    cell::Cell,
    io,
    rc::Rc,
    time::{Duration, Instant},
};

use flate2::{Decompress, FlushDecompress};
use rally_proto::ws::deflate;
use tokio::sync::Notify;

use crate::{
    peer::rss_bytes,
    scenario::{Sample, Shared, Target, Tasks, connect_all, measure},
    ws::{
        CLOSE, RSV1, TEXT, Ws, compressed_text_frame, parse_num, sio_connect_offering, text_frame,
    },
};

/// The most a received message may inflate to.
const MAX_MESSAGE: usize = 1 << 20;

/// One received message in this many is inflated whole and checked.
const CHECK_EVERY: u64 = 64;

/// How much of a message's head is inflated: the timestamp is in it.
const HEAD: usize = 64;

/// How the sender's packets start: the timestamp's digits follow.
const PREFIX: &str = r#"42["bcast","r",{"ts":"#;

/// How a delivered broadcast starts.
const RECEIVED: &[u8] = br#"42["bcast","#;

/// The timestamp's key: its digits follow. The pages have it first, and
/// Rally and Node relay them as they are; socketioxide (which parses the
/// page into a `serde_json::Value`) sends the keys sorted, the timestamp
/// last.
const TS: &[u8] = br#""ts":"#;

/// The send timestamp of a delivered broadcast, from the start of the
/// message (or the whole message).
fn timestamp(m: &[u8]) -> Option<u64> {
    let rest = m.strip_prefix(RECEIVED)?;
    let at = crate::ws::find(rest, TS)?;
    parse_num(&rest[at + TS.len()..])?.checked_sub(TS_BASE)
}

/// Added to the nanoseconds of a timestamp so that its 20 digits never
/// start with a zero (which JSON does not allow in a number).
const TS_BASE: u64 = 10_000_000_000_000_000_000;

/// How many different pages the sender cycles through.
const PAGES: usize = 64;

/// A small deterministic generator (xorshift64): the same pages every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
}

const NAMES: &[&str] = &[
    "amelia", "bruno", "chen", "dagny", "emeka", "farah", "goran", "hana", "ines", "jonas",
    "keiko", "lars", "mirela", "nadia", "oscar", "priya", "quentin", "rosa", "sami", "tomas",
];

const WORDS: &[&str] = &[
    "the",
    "deploy",
    "is",
    "green",
    "again",
    "who",
    "broke",
    "staging",
    "yesterday",
    "I",
    "think",
    "it",
    "was",
    "cache",
    "invalidation",
    "let's",
    "ship",
    "on",
    "Friday",
    "no",
    "please",
    "review",
    "my",
    "pull",
    "request",
    "lunch",
    "at",
    "noon",
    "coffee",
    "meeting",
    "moved",
    "to",
    "3pm",
    "latency",
    "went",
    "up",
    "after",
    "the",
    "migration",
    "rollback",
    "done",
    "thanks",
    "nice",
    "work",
    "can",
    "someone",
    "look",
    "at",
    "ticket",
    "flaky",
    "test",
    "in",
    "CI",
    "metrics",
    "dashboard",
    "looks",
    "weird",
    "database",
    "index",
    "missing",
    "fixed",
    "merged",
    "tomorrow",
    "weekend",
    "plans",
    "release",
    "notes",
    "draft",
    "ready",
    "for",
    "feedback",
    "ok",
    "sure",
];

/// One page of a chat history as a JSON object, its timestamp (`ts`, 20
/// digits) first: `{"ts":10000000000000000000,"room":...,"messages":[...]}`.
fn page(rng: &mut Rng, number: usize) -> String {
    let count = 5 + rng.below(9);
    let mut messages = Vec::with_capacity(count);
    for i in 0..count {
        let user = rng.below(NAMES.len());
        let words = 4 + rng.below(28);
        let text: Vec<&str> = (0..words).map(|_| rng.pick(WORDS)).collect();
        let (h, m, s, ms) = (rng.below(24), rng.below(60), rng.below(60), rng.below(1000));
        messages.push(format!(
            r#"{{"id":"m{:06}{:04x}","user":{{"id":"u{user:03}","name":"{}","avatar":"/avatars/{:016x}.png"}},"text":"{}","sentAt":"2026-12-07T{h:02}:{m:02}:{s:02}.{ms:03}Z","edited":{},"reactions":{{"like":{},"laugh":{}}}}}"#,
            number * 100 + i,
            rng.next() & 0xffff,
            NAMES[user],
            rng.next(),
            text.join(" "),
            rng.below(5) == 0,
            rng.below(12),
            rng.below(4),
        ));
    }
    format!(
        r#"{{"ts":{TS_BASE},"room":"general","page":{number},"hasMore":true,"messages":[{}]}}"#,
        messages.join(",")
    )
}

/// The sender's packets (`42["bcast","r",<page>]`), every page different.
fn packets() -> Vec<Vec<u8>> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..PAGES)
        .map(|i| format!(r#"42["bcast","r",{}]"#, page(&mut rng, i)).into_bytes())
        .collect()
}

/// The mean size of the pages broadcast, bytes (for the report).
pub(crate) fn mean_page_size() -> usize {
    let all = packets();
    all.iter()
        // Less `42["bcast","r",` and the closing bracket.
        .map(|p| p.len() - 16)
        .sum::<usize>()
        / all.len()
}

/// A text frame for `payload`, compressed (level 1, as the servers) when
/// `deflate` is set and compressing makes it smaller.
fn client_frame(payload: &[u8], deflate: bool) -> Vec<u8> {
    match deflate.then(|| deflate::compress(payload, 1, 15)).flatten() {
        Some(compressed) => compressed_text_frame(&compressed),
        None => text_frame(payload),
    }
}

/// A received text message: inflated when it was compressed.
fn message(ws: &Ws, first: u8, payload: std::ops::Range<usize>) -> io::Result<Vec<u8>> {
    let data = ws.data(payload);
    if first & RSV1 != 0 {
        deflate::inflate(data, MAX_MESSAGE).map_err(|e| crate::ws::other(e.to_string()))
    } else {
        Ok(data.to_vec())
    }
}

/// Inflates the first [`HEAD`] bytes of compressed messages.
struct HeadInflater {
    inflater: Decompress,
    head: [u8; HEAD],
}

impl HeadInflater {
    fn new() -> Self {
        Self {
            inflater: Decompress::new(false),
            head: [0; HEAD],
        }
    }

    /// The first bytes of a message compressed with no context (or of
    /// `data` itself when it was not compressed).
    fn head<'a>(&'a mut self, data: &'a [u8], compressed: bool) -> io::Result<&'a [u8]> {
        if !compressed {
            return Ok(data);
        }
        self.inflater.reset(false);
        self.inflater
            .decompress(data, &mut self.head, FlushDecompress::Sync)
            .map_err(|e| crate::ws::other(format!("inflate: {e}")))?;
        let n = usize::try_from(self.inflater.total_out()).unwrap_or(HEAD);
        Ok(&self.head[..n.min(HEAD)])
    }
}

/// Waits until `ws` receives a broadcast (answering pings on the way).
async fn first_broadcast(ws: &mut Ws) -> io::Result<()> {
    loop {
        while let Some(f) = ws.next_frame_full() {
            match f.first & 0x0f {
                TEXT => {
                    let m = message(ws, f.first, f.payload)?;
                    if m.starts_with(RECEIVED) {
                        return Ok(());
                    }
                    if m == b"2" {
                        ws.send(&text_frame(b"3")).await?;
                    }
                }
                CLOSE => return Err(crate::ws::other("closed by the server")),
                _ => {}
            }
        }
        ws.fill().await?;
    }
}

/// Chat pages broadcast to a room of `clients`, at most `window` broadcasts
/// not yet delivered to everyone, permessage-deflate as `target.deflate`
/// says. Besides the rate, CPU and latency: bytes on the wire per delivered
/// message, and the server's RSS growth after the first broadcast and
/// under the load.
pub(crate) async fn fanout(
    target: Target,
    clients: usize,
    window: u64,
) -> Result<Vec<Sample>, String> {
    let sh = Shared::new();
    let base = Instant::now();
    let mut wss = connect_all(&target, clients, true, 64 * 1024, Duration::from_secs(120)).await?;
    let mut sender = sio_connect_offering(target.addr, None, true, 16 * 1024, target.deflate)
        .await
        .map_err(|e| format!("sender: {e}"))?;
    let mut packets = packets();
    let at = PREFIX.len();
    // The server's memory with every client connected, then after one
    // broadcast reached them all: the first compressed message brings the
    // per-thread compressor and inflater (or a per-connection one) to life.
    let rss0 = rss_bytes(target.pid);
    sender
        .send(&client_frame(&packets[0], target.deflate))
        .await
        .map_err(|e| format!("sender: {e}"))?;
    let first = async {
        for ws in &mut wss {
            first_broadcast(ws).await?;
        }
        Ok::<_, io::Error>(())
    };
    tokio::time::timeout(Duration::from_secs(30), first)
        .await
        .map_err(|_| "the first broadcast did not reach every client within 30 s".to_owned())?
        .map_err(|e| format!("first broadcast: {e}"))?;
    let rss1 = rss_bytes(target.pid);
    let sent = Rc::new(Cell::new(0u64));
    let notify = Rc::new(Notify::new());
    let n = clients as u64;
    let mut handles = Vec::with_capacity(clients + 1);
    for ws in wss {
        let (sh, sent, notify) = (sh.clone(), sent.clone(), notify.clone());
        handles.push(tokio::task::spawn_local(async move {
            if receive_loop(ws, &sh, base, &sent, &notify, n, window)
                .await
                .is_err()
                && !sh.stop.get()
            {
                sh.errors.set(sh.errors.get() + 1);
            }
        }));
    }
    {
        let (sh, sent, notify) = (sh.clone(), sent.clone(), notify.clone());
        let deflate = target.deflate;
        handles.push(tokio::task::spawn_local(async move {
            let pong = text_frame(b"3");
            let mut wbuf = Vec::new();
            let mut next = 0;
            while !sh.stop.get() {
                let in_flight = sent.get() * n - sh.ops.get();
                if in_flight >= window * n {
                    tokio::select! {
                        () = notify.notified() => {}
                        r = sender.fill() => {
                            if r.is_err() { return; }
                            while let Some((op, r)) = sender.next_frame() {
                                if op == TEXT && sender.data(r) == b"2" {
                                    let _ = sender.send(&pong).await;
                                }
                            }
                        }
                    }
                    continue;
                }
                let count = ((window * n - in_flight) / n).max(1);
                for _ in 0..count {
                    let packet = &mut packets[next % PAGES];
                    next += 1;
                    let ts = (base.elapsed().as_nanos() as u64 + TS_BASE).to_string();
                    packet[at..at + 20].copy_from_slice(ts.as_bytes());
                    wbuf.extend_from_slice(&client_frame(packet, deflate));
                }
                sent.set(sent.get() + count);
                if sender.send(&wbuf).await.is_err() {
                    return;
                }
                wbuf.clear();
            }
        }));
    }
    let tasks = Tasks(handles);
    let mut samples = measure(&sh, &target).await;
    let rss2 = rss_bytes(target.pid);
    drop(tasks);
    let growth = |after: u64| after.saturating_sub(rss0) as f64;
    eprintln!(
        "    server RSS {:.1} MB connected, +{:.0} KiB after the first broadcast, +{:.0} KiB under load",
        rss0 as f64 / 1e6,
        growth(rss1) / 1024.0,
        growth(rss2) / 1024.0
    );
    for s in &mut samples {
        s.rss_first_message = Some(growth(rss1));
        s.rss_under_load = Some(growth(rss2));
    }
    Ok(samples)
}

async fn receive_loop(
    mut ws: Ws,
    sh: &Shared,
    base: Instant,
    sent: &Cell<u64>,
    notify: &Notify,
    n: u64,
    window: u64,
) -> io::Result<()> {
    let pong = text_frame(b"3");
    let mut inflater = HeadInflater::new();
    let mut received = 0u64;
    loop {
        ws.fill().await?;
        let now = base.elapsed().as_nanos() as u64;
        let (mut done, mut wire) = (0, 0);
        let mut ping = false;
        while let Some(f) = ws.next_frame_full() {
            match f.first & 0x0f {
                CLOSE => return Err(io::ErrorKind::ConnectionAborted.into()),
                TEXT => {}
                _ => continue,
            }
            let wire_len = f.wire_len as u64;
            received += 1;
            if received % CHECK_EVERY == 0 {
                check_page(&message(&ws, f.first, f.payload.clone())?)?;
            }
            let compressed = f.first & RSV1 != 0;
            let m = inflater.head(ws.data(f.payload.clone()), compressed)?;
            // A timestamp past the head: inflate the whole message.
            let ts = match timestamp(m) {
                Some(ts) => Some(ts),
                None if compressed && m.starts_with(RECEIVED) => {
                    timestamp(&message(&ws, f.first, f.payload)?)
                }
                None => None,
            };
            if let Some(ts) = ts {
                let _ = sh
                    .hist
                    .borrow_mut()
                    .record((now.saturating_sub(ts) / 1000).max(1));
                done += 1;
                wire += wire_len;
            } else if m == b"2" {
                ping = true;
            }
        }
        sh.ops.set(sh.ops.get() + done);
        sh.wire.set(sh.wire.get() + wire);
        if sent.get() * n - sh.ops.get() < window * n {
            notify.notify_one();
        }
        if ping {
            ws.send(&pong).await?;
        }
    }
}

/// Checks that a whole message is a broadcast chat page: valid JSON, with
/// its messages.
fn check_page(m: &[u8]) -> io::Result<()> {
    let bad = || crate::ws::other("a broadcast that is not a whole chat page");
    if !m.starts_with(RECEIVED) {
        return Ok(());
    }
    let v: serde_json::Value = serde_json::from_slice(&m[2..]).map_err(|_| bad())?;
    if v[1]["messages"].as_array().is_some_and(|m| !m.is_empty()) {
        Ok(())
    } else {
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_json_of_one_to_four_kilobytes() {
        for p in packets() {
            assert!((1000..=4300).contains(&p.len()), "{} bytes", p.len());
            assert!(p.starts_with(PREFIX.as_bytes()));
            let v: serde_json::Value = serde_json::from_slice(&p[2..])
                .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&p)));
            assert_eq!(v[0], "bcast");
            assert!(v[2]["messages"].as_array().is_some_and(|m| !m.is_empty()));
        }
    }

    #[test]
    fn pages_differ_and_compress() {
        let all = packets();
        assert_ne!(all[0], all[1]);
        let c = deflate::compress(&all[0], 1, 15).expect("smaller");
        assert!(
            c.len() < all[0].len() * 3 / 4,
            "{} of {}",
            c.len(),
            all[0].len()
        );
        let back = deflate::inflate(&c, MAX_MESSAGE).expect("inflates");
        assert_eq!(back, all[0]);
        let mut inflater = HeadInflater::new();
        assert_eq!(inflater.head(&c, true).unwrap(), &all[0][..HEAD]);
        // The server's relay of the page is one, its timestamp read from
        // the head, or from the end when the keys came sorted.
        let relayed = [&b"42[\"bcast\","[..], &all[0][15..]].concat();
        check_page(&relayed).unwrap();
        assert_eq!(timestamp(&relayed[..HEAD]), Some(0));
        assert_eq!(
            timestamp(br#"42["bcast",{"page":1,"ts":10000000000000000042}]"#),
            Some(42)
        );
    }
}
