use std::{fmt, sync::Arc, time::Duration};

use rally_engine::Sid;

use crate::{
    AckError, AckReply, Args, EmitError, IntoRooms, Namespace, RemoteSocket, Socket,
    adapter::{AckEvent, AdapterError, BroadcastOptions, BroadcastPacket, DEFAULT_ACK_TIMEOUT},
    socket::check,
};

/// A selection of sockets and flags for one operation, as the reference's
/// `io.to(...).except(...).volatile.emit(...)` chains.
///
/// ```
/// # fn f(io: &rally::Server) -> Result<(), rally::EmitError> {
/// io.to("room1").to("room2").except("banned").volatile().emit("news", &"hello")?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
#[must_use]
pub struct BroadcastOperator {
    ns: Arc<Namespace>,
    opts: BroadcastOptions,
}

impl BroadcastOperator {
    pub(crate) fn new(ns: Arc<Namespace>) -> Self {
        Self {
            ns,
            opts: BroadcastOptions::default(),
        }
    }

    /// Also targets the sockets in `rooms`.
    pub fn to(mut self, rooms: impl IntoRooms) -> Self {
        for room in rooms.into_rooms() {
            if !self.opts.rooms.contains(&room) {
                self.opts.rooms.push(room);
            }
        }
        self
    }

    /// Same as [`to`](Self::to) (the reference's `in`).
    pub fn within(self, rooms: impl IntoRooms) -> Self {
        self.to(rooms)
    }

    /// Leaves out the sockets in `rooms`.
    pub fn except(mut self, rooms: impl IntoRooms) -> Self {
        self.opts.except.extend(rooms.into_rooms());
        self
    }

    pub(crate) fn except_socket(self, id: Sid) -> Self {
        self.except(id)
    }

    /// Only this node's sockets.
    pub fn local(mut self) -> Self {
        self.opts.local = true;
        self
    }

    /// The packet may be dropped for clients that cannot take it now.
    pub fn volatile(mut self) -> Self {
        self.opts.volatile = true;
        self
    }

    /// Sets the compress flag.
    pub fn compress(mut self, compress: bool) -> Self {
        self.opts.compress = compress;
        self
    }

    /// How long [`emit_with_ack`](Self::emit_with_ack) waits for answers.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.opts.timeout = Some(timeout);
        self
    }

    /// The options built so far.
    #[must_use]
    pub fn options(&self) -> &BroadcastOptions {
        &self.opts
    }

    /// Sends an event to every targeted socket, encoded once for all.
    ///
    /// # Errors
    ///
    /// [`EmitError::Reserved`] or [`EmitError::Serialize`]; delivery to
    /// each socket is best effort.
    pub fn emit(&self, event: &str, args: impl Into<Args>) -> Result<(), EmitError> {
        let args = check(event, args.into())?;
        for ns in self.namespaces() {
            let packet = BroadcastPacket::new(ns.name(), event, args.clone(), None);
            ns.adapter().broadcast(&packet, &self.opts);
        }
        Ok(())
    }

    /// Sends an event to every targeted socket, on every node, and gathers
    /// every answer, waiting at most the [`timeout`](Self::timeout) (5 s
    /// when unset).
    ///
    /// # Errors
    ///
    /// [`AckError::Emit`] when the emit itself fails.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future forgets the answers still due.
    #[doc(alias = "emitWithAck")]
    pub async fn emit_with_ack(
        &self,
        event: &str,
        args: impl Into<Args>,
    ) -> Result<AckResponses, AckError> {
        let args = check(event, args.into())?;
        let mut opts = self.opts.clone();
        let timeout = *opts.timeout.get_or_insert(DEFAULT_ACK_TIMEOUT);
        // Every node stops waiting at the timeout; this is a safety net
        // for a stream that never ends.
        let deadline = tokio::time::Instant::now() + timeout + Duration::from_secs(1);
        let mut responses = AckResponses {
            replies: Vec::new(),
            remote: Vec::new(),
            missing_remote: 0,
        };
        // Send everywhere first, then gather.
        let mut streams = Vec::new();
        for ns in self.namespaces() {
            let id = ns.next_ack_id();
            let packet = BroadcastPacket::new(ns.name(), event, args.clone(), Some(id));
            streams.push((ns.adapter().broadcast_with_ack(&packet, &opts), ns));
        }
        for (mut stream, ns) in streams {
            let servers = if opts.local {
                1
            } else {
                ns.adapter().server_count().await.max(1)
            };
            let (mut reported, mut expected, mut received) = (0, 0, 0);
            while reported < servers || received < expected {
                match tokio::time::timeout_at(deadline, stream.recv()).await {
                    Ok(Some(AckEvent::Targeted(n))) => {
                        reported += 1;
                        expected += n;
                    }
                    Ok(Some(AckEvent::Reply(id, reply))) => {
                        received += 1;
                        match id {
                            Some(id) => responses.replies.push((id, reply)),
                            None => responses.remote.extend(reply.ok()),
                        }
                    }
                    Ok(None) | Err(_) => break,
                }
            }
            responses.missing_remote += expected.saturating_sub(received);
        }
        Ok(responses)
    }

    /// The targeted sockets, on every node, with handles that can emit to
    /// them, make them join or leave rooms, or disconnect them.
    ///
    /// # Errors
    ///
    /// With a cluster adapter, [`AdapterError::Timeout`] when a node does
    /// not answer in time.
    #[doc(alias = "fetchSockets")]
    pub async fn fetch_sockets(&self) -> Result<Vec<RemoteSocket>, AdapterError> {
        let mut all = Vec::new();
        for ns in self.namespaces() {
            let infos = ns.adapter().fetch_sockets(self.opts.clone()).await?;
            all.extend(
                infos
                    .into_iter()
                    .map(|info| RemoteSocket::new(info, ns.clone())),
            );
        }
        Ok(all)
    }

    /// The targeted sockets of this node, as handles.
    #[must_use]
    pub fn sockets(&self) -> Vec<Arc<Socket>> {
        self.namespaces()
            .into_iter()
            .flat_map(|ns| ns.sockets_by_id(&ns.adapter().targets(&self.opts)))
            .collect()
    }

    /// Makes the targeted sockets join `rooms`.
    #[doc(alias = "socketsJoin")]
    pub fn sockets_join(&self, rooms: impl IntoRooms) {
        let rooms = rooms.into_rooms();
        for ns in self.namespaces() {
            ns.adapter().add_sockets(&self.opts, &rooms);
        }
    }

    /// Makes the targeted sockets leave `rooms`.
    #[doc(alias = "socketsLeave")]
    pub fn sockets_leave(&self, rooms: impl IntoRooms) {
        let rooms = rooms.into_rooms();
        for ns in self.namespaces() {
            ns.adapter().del_sockets(&self.opts, &rooms);
        }
    }

    /// Disconnects the targeted sockets; with `close`, their whole
    /// connections.
    #[doc(alias = "disconnectSockets")]
    pub fn disconnect_sockets(&self, close: bool) {
        for ns in self.namespaces() {
            ns.adapter().disconnect_sockets(&self.opts, close);
        }
    }

    /// This namespace and the dynamic ones created from it.
    fn namespaces(&self) -> Vec<Arc<Namespace>> {
        let mut all = vec![self.ns.clone()];
        all.extend(self.ns.children());
        all
    }
}

impl fmt::Debug for BroadcastOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BroadcastOperator")
            .field("ns", &self.ns.name())
            .field("opts", &self.opts)
            .finish()
    }
}

/// Every answer to a broadcast with acks.
#[derive(Debug)]
#[non_exhaustive]
pub struct AckResponses {
    /// Each targeted socket of this node: its answer, or why there is none.
    pub replies: Vec<(Sid, Result<AckReply, AckError>)>,
    /// The answers of targeted sockets on other nodes.
    pub remote: Vec<AckReply>,
    /// How many targeted sockets on other nodes did not answer in time.
    pub missing_remote: usize,
}

impl AckResponses {
    /// Whether every targeted socket answered in time.
    #[must_use]
    pub fn all_answered(&self) -> bool {
        self.missing_remote == 0 && self.replies.iter().all(|(_, r)| r.is_ok())
    }

    /// The answers that came, from this node's sockets and then the
    /// others'.
    pub fn answers(&self) -> impl Iterator<Item = &AckReply> {
        self.replies
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok())
            .chain(&self.remote)
    }
}

/// A socket's handshake as JSON, in the reference's shape.
pub(crate) fn handshake_json(socket: &Socket) -> serde_json::Value {
    let h = socket.handshake();
    let headers: serde_json::Map<String, serde_json::Value> = h
        .headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.into())))
        .collect();
    let query: serde_json::Map<String, serde_json::Value> =
        h.query.into_iter().map(|(k, v)| (k, v.into())).collect();
    let issued = h
        .issued
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    serde_json::json!({
        "headers": headers,
        "time": httpdate(h.issued),
        "address": h.address.map(|a| a.ip().to_string()).unwrap_or_default(),
        "xdomain": h.xdomain,
        "secure": h.secure,
        "issued": issued,
        "url": h.url,
        "query": query,
        "auth": h.auth,
    })
}

/// A timestamp as the reference's `new Date().toString()`-like text; a
/// plain RFC 3339 UTC time here.
pub(crate) fn httpdate(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}Z")
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_dates() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        assert_eq!(super::httpdate(t), "2023-11-14T22:13:20Z");
    }
}
