//! Idle density at the machine's limit (`idle-max`) and for long-polling
//! clients (`idle-polling-N`): the server's resident memory per client, and
//! the kernel's own TCP memory beside it.

use std::{
    cell::Cell,
    io,
    net::{IpAddr, Ipv4Addr},
    rc::Rc,
    time::{Duration, Instant},
};

use tokio::time::sleep;

use crate::{
    http::{Http, parse_sid},
    peer::rss_bytes,
    scenario::{Sample, Target, Tasks, connect_all, poll_until_connected},
    ws::{TEXT, other, text_frame},
};

/// The kernel's TCP memory in bytes: the `mem` pages of the `TCP:` line of
/// `/proc/net/sockstat` (socket buffers of every TCP socket on the machine).
pub(crate) fn kernel_tcp_bytes() -> u64 {
    let stat = std::fs::read_to_string("/proc/net/sockstat").unwrap_or_default();
    let pages = stat
        .lines()
        .find(|l| l.starts_with("TCP:"))
        .and_then(|l| {
            let mut it = l.split_whitespace();
            it.position(|w| w == "mem")?;
            it.next()?.parse::<u64>().ok()
        })
        .unwrap_or(0);
    #[allow(unsafe_code)]
    // SAFETY: sysconf(3) reads a configuration value; it takes no pointer.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * u64::try_from(page).unwrap_or(4096)
}

/// The kernel's unreclaimable slab memory in bytes (`SUnreclaim` in
/// `/proc/meminfo`), where socket structures live.
fn kernel_slab_bytes() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("SUnreclaim:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kb| kb * 1024)
}

/// The memory figures read before and after connecting.
#[derive(Clone, Copy, Debug)]
struct Memory {
    rss: u64,
    tcp: u64,
    slab: u64,
}

impl Memory {
    fn read(pid: u32) -> Self {
        Self {
            rss: rss_bytes(pid),
            tcp: kernel_tcp_bytes(),
            slab: kernel_slab_bytes(),
        }
    }

    /// Read once the kernel has let go of the previous cell's sockets (its
    /// TCP memory no longer falling), waiting a few seconds at most.
    async fn settled(pid: u32) -> Self {
        let mut m = Self::read(pid);
        for _ in 0..10 {
            sleep(Duration::from_millis(300)).await;
            let next = Self::read(pid);
            let still = next.tcp >= m.tcp;
            m = next;
            if still {
                break;
            }
        }
        m
    }
}

/// Memory before and after, per client.
fn density(clients: usize, m0: Memory, m1: Memory) -> Sample {
    let per_client = |a: u64, b: u64| b.saturating_sub(a) as f64 / clients as f64;
    let (per, tcp, slab) = (
        per_client(m0.rss, m1.rss),
        per_client(m0.tcp, m1.tcp),
        per_client(m0.slab, m1.slab),
    );
    eprintln!(
        "    {clients} clients: server RSS {:.1} MB -> {:.1} MB: {per:.0} B per client \
         (1,000,000 clients: {:.2} GB); kernel TCP buffers {:.1} MB -> {:.1} MB: {tcp:.0} B per client; \
         kernel slab {:.1} MB -> {:.1} MB: {slab:.0} B per client",
        m0.rss as f64 / 1e6,
        m1.rss as f64 / 1e6,
        per * 1e6 / 1e9,
        m0.tcp as f64 / 1e6,
        m1.tcp as f64 / 1e6,
        m0.slab as f64 / 1e6,
        m1.slab as f64 / 1e6,
    );
    Sample {
        bytes_per_client: Some(per),
        clients: Some(clients),
        kernel_bytes_per_client: Some(tcp),
        kernel_slab_per_client: Some(slab),
        ..Sample::default()
    }
}

/// `clients` idle WebSocket clients that answer pings: the server's memory
/// per client once they are all connected and (for a Socket.IO server,
/// which pings every 25 s by default) each has answered one heartbeat.
pub(crate) async fn idle_max(target: Target, clients: usize) -> Result<Vec<Sample>, String> {
    let before = Memory::settled(target.pid).await;
    let wss = connect_all(&target, clients, false, 512, Duration::from_secs(300)).await?;
    let answered = Rc::new(Cell::new(0usize));
    let tasks = Tasks(
        wss.into_iter()
            .map(|mut ws| {
                let answered = answered.clone();
                tokio::task::spawn_local(async move {
                    let pong = text_frame(b"3");
                    let mut first = true;
                    while let Ok((op, r)) = ws.next().await {
                        if op == TEXT && ws.data(r) == b"2" {
                            if ws.send(&pong).await.is_err() {
                                return;
                            }
                            if std::mem::take(&mut first) {
                                answered.set(answered.get() + 1);
                            }
                        }
                    }
                })
            })
            .collect(),
    );
    if target.socketio {
        // The last client connected gets its first ping one interval
        // (25 s) after it connected; wait for it with room to spare.
        let until = Instant::now() + Duration::from_secs(40);
        while answered.get() < clients && Instant::now() < until {
            sleep(Duration::from_millis(200)).await;
        }
        eprintln!(
            "    {} of {clients} clients answered a heartbeat",
            answered.get()
        );
    }
    sleep(target.timing.warmup.max(Duration::from_secs(1))).await;
    let after = Memory::read(target.pid);
    drop(tasks);
    Ok(vec![density(clients, before, after)])
}

/// `clients` idle long-polling clients, each with one GET held by the
/// server (a new one sent when a held one returns, a ping answered).
pub(crate) async fn idle_polling(target: Target, clients: usize) -> Result<Vec<Sample>, String> {
    let before = Memory::settled(target.pid).await;
    let started = Instant::now();
    let holding = Rc::new(Cell::new(0usize));
    let failed: Rc<Cell<Option<usize>>> = Rc::default();
    // Aborted when dropped, on an early return too.
    let mut tasks = Tasks(Vec::with_capacity(clients));
    for i in 0..clients {
        let (held, fail) = (holding.clone(), failed.clone());
        tasks.0.push(tokio::task::spawn_local(async move {
            // Source addresses of their own (127.0.3.x, 4,000 clients each):
            // the ports of 127.0.0.1 may still be in TIME_WAIT from the
            // cells run before this one.
            let src = IpAddr::V4(Ipv4Addr::new(127, 0, 3, 1 + (i / 4000 % 250) as u8));
            if hold_poll(target, src, &held).await.is_err() && fail.get().is_none() {
                fail.set(Some(i));
            }
        }));
        // Connect at most 256 at a time.
        while i + 1 - holding.get() >= 256 && failed.get().is_none() {
            sleep(Duration::from_millis(5)).await;
            if started.elapsed() > Duration::from_secs(180) {
                return Err(format!(
                    "only {} of {clients} connected in 180 s",
                    holding.get()
                ));
            }
        }
        if let Some(i) = failed.get() {
            return Err(format!("polling client {i} failed"));
        }
    }
    let until = Instant::now() + Duration::from_secs(60);
    while holding.get() < clients && Instant::now() < until {
        sleep(Duration::from_millis(100)).await;
    }
    if holding.get() < clients {
        return Err(format!("only {} of {clients} connected", holding.get()));
    }
    eprintln!(
        "    {clients} polling clients in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    sleep(target.timing.warmup.max(Duration::from_secs(1))).await;
    let after = Memory::read(target.pid);
    drop(tasks);
    Ok(vec![density(clients, before, after)])
}

/// Handshake and namespace connect over one keep-alive connection, then a
/// GET held, again and again (a ping answered with a POST in between).
async fn hold_poll(target: Target, src: IpAddr, holding: &Cell<usize>) -> io::Result<()> {
    let mut http = Http::connect(target.addr, Some(src)).await?;
    let (status, open) = http
        .request("GET", "/socket.io/?EIO=4&transport=polling", b"")
        .await?;
    if status != 200 {
        return Err(other(format!("handshake: {status}")));
    }
    let sid = parse_sid(&open).ok_or_else(|| other("no sid"))?;
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    http.request("POST", &path, b"40").await?;
    poll_until_connected(&mut http, &path).await?;
    holding.set(holding.get() + 1);
    loop {
        let (status, body) = http.request("GET", &path, b"").await?;
        if status != 200 {
            return Err(other(format!("get: {status}")));
        }
        if body.split(|&b| b == 0x1e).any(|p| p == b"2") {
            http.request("POST", &path, b"3").await?;
        }
    }
}
