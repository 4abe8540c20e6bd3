//! A TCP proxy a test controls: it can cut every connection it carries,
//! stall them (both ends see a silent network), refuse new ones, and send
//! new ones to another server (a client that drops on one node comes back
//! on another).

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::watch,
    task::AbortHandle,
};

/// Each carried connection's forwarding task, and the switch that stalls it.
type Conns = Arc<Mutex<Vec<(AbortHandle, watch::Sender<bool>)>>>;

/// A TCP proxy on 127.0.0.1; stops (every connection cut) when dropped.
#[derive(Debug)]
pub struct Proxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    target: Arc<Mutex<SocketAddr>>,
    down: Arc<AtomicBool>,
    conns: Conns,
    accept: AbortHandle,
}

impl Proxy {
    /// A proxy to `target`, on a free port.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("a local address");
        let target = Arc::new(Mutex::new(target));
        let down = Arc::new(AtomicBool::new(false));
        let conns: Conns = Arc::default();
        let (t, d, c) = (target.clone(), down.clone(), conns.clone());
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if d.load(Ordering::SeqCst) {
                    // Down: the connection is refused at once.
                    drop(client);
                    continue;
                }
                let to = *t.lock().expect("the target lock");
                let Ok(server) = TcpStream::connect(to).await else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (stall_tx, stall_rx) = watch::channel(false);
                let task = tokio::spawn(forward(client, server, stall_rx));
                c.lock()
                    .expect("the connections lock")
                    .push((task.abort_handle(), stall_tx));
            }
        })
        .abort_handle();
        Self {
            addr,
            target,
            down,
            conns,
            accept,
        }
    }

    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Refuses new connections (or takes them again).
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// New connections go to `target`.
    pub fn switch(&self, target: SocketAddr) {
        *self.target.lock().expect("the target lock") = target;
    }

    /// Closes every connection it carries, both ways.
    pub fn kill(&self) {
        for (task, _) in self.conns.lock().expect("the connections lock").drain(..) {
            task.abort();
        }
    }

    /// Stops forwarding on every connection it carries, keeping them open:
    /// to both ends, the network went silent.
    pub fn stall(&self) {
        for (_, stall) in self.conns.lock().expect("the connections lock").iter() {
            let _ = stall.send(true);
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.kill();
    }
}

async fn forward(client: TcpStream, server: TcpStream, mut stall: watch::Receiver<bool>) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let mut up = [0u8; 16 * 1024];
    let mut down = [0u8; 16 * 1024];
    loop {
        if *stall.borrow() {
            // Hold both sockets open and silent until killed.
            std::future::pending::<()>().await;
        }
        tokio::select! {
            n = cr.read(&mut up) => match n {
                Ok(0) | Err(_) => return,
                Ok(n) => if sw.write_all(&up[..n]).await.is_err() { return },
            },
            n = sr.read(&mut down) => match n {
                Ok(0) | Err(_) => return,
                Ok(n) => if cw.write_all(&down[..n]).await.is_err() { return },
            },
            _ = stall.changed() => {}
        }
    }
}
