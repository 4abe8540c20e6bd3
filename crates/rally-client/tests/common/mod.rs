//! Test servers (Rally in-process, the official Node.js server as a child)
//! speaking the interop test protocol, and a recording client.

#![allow(dead_code, unreachable_pub, unused_imports)]

pub mod fake;

use std::{collections::VecDeque, time::Duration};

use rally_client::{DisconnectReason, Error, Manager, ManagerBuilder, Socket, Transport};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

pub use rally_testkit::{
    interop::{InteropServer as TestServer, Kind},
    within,
};

/// The transports a client uses, as the interop scripts name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Polling,
    WebSocket,
    Upgrade,
}

impl Mode {
    pub fn apply(self, builder: ManagerBuilder) -> ManagerBuilder {
        match self {
            Self::Polling => builder.transports([Transport::Polling]),
            Self::WebSocket => builder.transports([Transport::WebSocket]),
            Self::Upgrade => builder,
        }
    }

    /// The transport a settled connection uses.
    pub fn settled_transport(self) -> Transport {
        match self {
            Self::Polling => Transport::Polling,
            Self::WebSocket | Self::Upgrade => Transport::WebSocket,
        }
    }
}

/// A manager for a test: fast reconnection, upgrades counted.
pub struct Client {
    pub manager: Manager,
    pub mode: Mode,
    upgrades: watch::Receiver<u32>,
    reconnects: watch::Receiver<u32>,
}

impl Client {
    pub fn new(url: &str, mode: Mode) -> Self {
        Self::with(url, mode, |b| b)
    }

    pub fn with(url: &str, mode: Mode, f: impl FnOnce(ManagerBuilder) -> ManagerBuilder) -> Self {
        let builder = Manager::builder(url)
            .reconnection_delay(Duration::from_millis(100))
            .reconnection_delay_max(Duration::from_millis(200));
        let manager = f(mode.apply(builder)).build().expect("a manager");
        let (upgraded, upgrades) = watch::channel(0u32);
        manager.on_upgrade(move |_| upgraded.send_modify(|n| *n += 1));
        let (reconnected, reconnects) = watch::channel(0u32);
        manager.on_reconnect(move |_| reconnected.send_modify(|n| *n += 1));
        Self {
            manager,
            mode,
            upgrades,
            reconnects,
        }
    }

    /// A socket of this manager, with a recorder attached before it connects.
    pub fn socket(&self, nsp: &str) -> (Socket, Recorder) {
        let socket = self.manager.socket(nsp);
        let recorder = Recorder::attach(&socket);
        (socket, recorder)
    }

    /// Waits until the connection uses its final transport (the upgrade
    /// done, in upgrade mode).
    pub async fn settle(&mut self) {
        let want = self.mode.settled_transport();
        let upgrades = &mut self.upgrades;
        let manager = &self.manager;
        within("the transport to settle", async {
            while manager.transport() != Some(want) {
                let _ = upgrades.changed().await;
            }
        })
        .await;
    }

    /// Checks the transport in use is the mode's final one.
    pub fn assert_settled(&self) {
        assert_eq!(
            self.manager.transport(),
            Some(self.mode.settled_transport())
        );
    }

    /// Waits for the next successful reconnection.
    pub async fn reconnected(&mut self) {
        let reconnects = &mut self.reconnects;
        within("a reconnection", async {
            let _ = reconnects.changed().await;
        })
        .await;
    }
}

/// What a socket went through, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Rec {
    Event(String, Vec<Value>),
    Connect,
    Disconnect(DisconnectReason),
    ConnectError(String, Option<Value>),
}

/// Binary data as the recorder shows it.
pub fn bytes(b: &[u8]) -> Value {
    json!({ "$bytes": b })
}

/// Records a socket's events and lifecycle.
pub struct Recorder {
    rx: mpsc::UnboundedReceiver<Rec>,
    seen: VecDeque<Rec>,
}

impl Recorder {
    pub fn attach(socket: &Socket) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let t = tx.clone();
        socket.on_any(move |_, event| {
            let values = event.to_values(|b| bytes(b));
            let _ = t.send(Rec::Event(event.name().to_owned(), values));
            async {}
        });
        let t = tx.clone();
        socket.on_connect(move |_| {
            let _ = t.send(Rec::Connect);
            async {}
        });
        let t = tx.clone();
        socket.on_disconnect(move |_, reason| {
            let _ = t.send(Rec::Disconnect(reason));
            async {}
        });
        socket.on_connect_error(move |_, error| {
            let rec = match error {
                Error::Refused { message, data } => Rec::ConnectError(message, data),
                other => Rec::ConnectError(other.to_string(), None),
            };
            let _ = tx.send(rec);
            async {}
        });
        Self {
            rx,
            seen: VecDeque::new(),
        }
    }

    /// Waits for the first record matching `pred`; the others stay, in order.
    pub async fn wait(&mut self, what: &str, pred: impl Fn(&Rec) -> bool) -> Rec {
        if let Some(i) = self.seen.iter().position(&pred) {
            return self.seen.remove(i).expect("an index in range");
        }
        let rx = &mut self.rx;
        let seen = &mut self.seen;
        within(what, async {
            loop {
                let rec = rx.recv().await.expect("the socket lives");
                if pred(&rec) {
                    return rec;
                }
                seen.push_back(rec);
            }
        })
        .await
    }

    /// The arguments of the first event named `name`.
    pub async fn event(&mut self, name: &str) -> Vec<Value> {
        match self
            .wait(
                &format!("event {name}"),
                |r| matches!(r, Rec::Event(n, _) if n == name),
            )
            .await
        {
            Rec::Event(_, args) => args,
            _ => unreachable!(),
        }
    }

    pub async fn connected(&mut self) {
        self.wait("a connection", |r| *r == Rec::Connect).await;
    }

    pub async fn disconnected(&mut self) -> DisconnectReason {
        match self
            .wait("a disconnection", |r| matches!(r, Rec::Disconnect(_)))
            .await
        {
            Rec::Disconnect(reason) => reason,
            _ => unreachable!(),
        }
    }

    /// Everything recorded so far and not yet taken.
    pub fn take_all(&mut self) -> Vec<Rec> {
        while let Ok(rec) = self.rx.try_recv() {
            self.seen.push_back(rec);
        }
        self.seen.drain(..).collect()
    }
}

/// Generates one test per server kind and transport mode.
#[macro_export]
macro_rules! each_server_and_mode {
    ($($test:ident),* $(,)?) => {
        mod rally_polling { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $test() { super::$test($crate::common::Kind::Rally, $crate::common::Mode::Polling).await } )* }
        mod rally_websocket { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $test() { super::$test($crate::common::Kind::Rally, $crate::common::Mode::WebSocket).await } )* }
        mod rally_upgrade { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $test() { super::$test($crate::common::Kind::Rally, $crate::common::Mode::Upgrade).await } )* }
        mod node_polling { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $test() { super::$test($crate::common::Kind::Node, $crate::common::Mode::Polling).await } )* }
        mod node_websocket { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $test() { super::$test($crate::common::Kind::Node, $crate::common::Mode::WebSocket).await } )* }
        mod node_upgrade { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $test() { super::$test($crate::common::Kind::Node, $crate::common::Mode::Upgrade).await } )* }
    };
}
