//! The node-to-node bus of session forwarding over Postgres: a NOTIFY
//! channel every node listens on (`<prefix>-forward#`) and one per node
//! (`<prefix>-forward#<tag>#`). Payloads travel as base64 text; one too big
//! for a notification goes into the attachments table, and the notification
//! names its row (as the adapter's big messages do). Node.js nodes never
//! listen on these channels.

use std::sync::{Arc, OnceLock};

use base64::{Engine as _, engine::general_purpose::STANDARD};
use bytes::Bytes;
use rally::{Bus, Inbox, NodeTag};

use crate::client::{Client, Outgoing};

/// The Postgres end of [`Bus`]: see
/// [`PostgresAdapter::bus`](crate::PostgresAdapter::bus).
pub(crate) struct PostgresBus {
    client: Arc<Client>,
    /// The channel of every node.
    all: String,
    started: OnceLock<()>,
}

impl PostgresBus {
    pub(crate) fn new(client: Arc<Client>) -> Self {
        let all = format!("{}-forward#", client.config.channel_prefix);
        Self {
            client,
            all,
            started: OnceLock::new(),
        }
    }

    fn channel(&self, tag: NodeTag) -> String {
        format!("{}{tag}#", self.all)
    }
}

/// The bytes a bus notification carries, when it carries them itself
/// (`None` for an attachment's header, read by the caller).
pub(crate) fn decode(payload: &str) -> Option<Bytes> {
    STANDARD.decode(payload).ok().map(Bytes::from)
}

impl Bus for PostgresBus {
    fn start(&self, me: NodeTag, inbox: Inbox) {
        if self.started.set(()).is_err() {
            tracing::warn!("the postgres bus serves one server only");
            return;
        }
        self.client.add_bus_route(self.all.clone(), inbox.clone());
        self.client.add_bus_route(self.channel(me), inbox);
    }

    fn send(&self, to: Option<NodeTag>, payload: Bytes) {
        let channel = match to {
            Some(tag) => self.channel(tag),
            None => self.all.clone(),
        };
        let text = STANDARD.encode(&payload);
        if text.len() < self.client.config.payload_threshold {
            self.client.send(Outgoing::Notify {
                channel,
                payload: text,
            });
        } else {
            self.client.send(Outgoing::Attachment {
                channel,
                uid: String::new(),
                kind: -1,
                body: payload.to_vec(),
            });
        }
    }
}
