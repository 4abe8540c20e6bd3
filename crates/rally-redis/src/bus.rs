//! The node-to-node bus of session forwarding over Redis: a channel every
//! node reads (`<key>-forward#`) and one per node (`<key>-forward#<tag>#`),
//! on the node's one connection. Sharded mode uses sharded pub/sub for
//! them, the other modes plain pub/sub. Node.js nodes never use them.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use rally::{Bus, Inbox, NodeTag};

use crate::connection::{Connection, Route, Sub};

/// The Redis end of [`Bus`]: see [`RedisAdapter::bus`](crate::RedisAdapter::bus).
pub(crate) struct RedisBus {
    conn: Arc<Connection>,
    sharded: bool,
    route: Arc<BusRoute>,
}

/// Where the bus's messages go, once started.
struct BusRoute {
    /// The channel of every node.
    all: String,
    /// The channel of this node, and where its messages go.
    mine: OnceLock<(String, Inbox)>,
}

impl RedisBus {
    pub(crate) fn new(conn: Arc<Connection>, key: &str, sharded: bool) -> Self {
        Self {
            conn,
            sharded,
            route: Arc::new(BusRoute {
                all: format!("{key}-forward#"),
                mine: OnceLock::new(),
            }),
        }
    }

    fn channel(&self, tag: NodeTag) -> String {
        format!("{}{tag}#", self.route.all)
    }

    fn sub(&self, channel: String) -> Sub {
        if self.sharded {
            Sub::Shard(channel)
        } else {
            Sub::Channel(channel)
        }
    }
}

impl Route for BusRoute {
    fn owns(&self, channel: &str) -> bool {
        channel == self.all || self.mine.get().is_some_and(|(mine, _)| channel == mine)
    }

    fn on_message(&self, _channel: &str, payload: Bytes) {
        if let Some((_, inbox)) = self.mine.get() {
            inbox(payload);
        }
    }
}

impl Bus for RedisBus {
    fn start(&self, me: NodeTag, inbox: Inbox) {
        let mine = self.channel(me);
        if self.route.mine.set((mine.clone(), inbox)).is_err() {
            tracing::warn!("the redis bus serves one server only");
            return;
        }
        let route: Arc<dyn Route> = self.route.clone();
        self.conn.add_route(Arc::downgrade(&route));
        let subs = vec![self.sub(self.route.all.clone()), self.sub(mine)];
        self.conn.subscribe(subs);
    }

    fn send(&self, to: Option<NodeTag>, payload: Bytes) {
        let channel = match to {
            Some(tag) => self.channel(tag),
            None => self.route.all.clone(),
        };
        self.conn.publish(self.sharded, channel, payload.to_vec());
    }
}
