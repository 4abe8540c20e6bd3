//! Joining a namespace: the CONNECT, its middlewares, connection state
//! recovery, and the admission of the socket.

use std::sync::{Arc, atomic::Ordering};

use rally_proto::{
    Str,
    socket::{Packet, PacketType},
};

use super::Client;
use crate::socket::Flags;
use crate::{ConnectError, Socket, adapter::RestoredSession, encode::Encoded, server::Lookup};

impl Client {
    pub(super) fn on_connect(self: &Arc<Self>, packet: Packet) -> Result<(), &'static str> {
        let name = packet.nsp.as_str().to_owned();
        if self
            .lock(&self.sockets)
            .iter()
            .any(|s| s.ns().name() == name)
        {
            return Err("second CONNECT to a joined namespace");
        }
        let joined = self.lock(&self.sockets).len() + self.connecting.load(Ordering::Acquire);
        if joined >= self.server.config.max_namespaces {
            tracing::debug!(sid = %self.sid, nsp = name, "too many namespaces");
            let refusal = ConnectError::new("Too many namespaces");
            let _ = self.send(
                &Encoded::control(
                    PacketType::ConnectError,
                    &name,
                    Some(&refusal.payload(self.is_v2())),
                ),
                Flags::DEFAULT,
            );
            return Ok(());
        }
        let lookup = match self.server.namespace_for(&name, packet.data.as_ref()) {
            Lookup::Missing => {
                self.refuse_invalid_namespace(&name);
                return Ok(());
            }
            lookup => lookup,
        };
        // Copied out of the message: the socket keeps it for its life, and
        // a small message's bytes share a block with other messages that
        // would stay with it.
        let auth = packet.data.map_or_else(
            || Str::from_static("{}"),
            |auth| Str::from(auth.as_str().to_owned()),
        );
        let client = self.clone();
        self.connecting.fetch_add(1, Ordering::AcqRel);
        crate::run::run_detached(Box::pin(async move {
            let ns = match lookup {
                Lookup::Found(ns) => ns,
                Lookup::Pending(found) => match found.await {
                    Some(ns) => ns,
                    None => {
                        client.refuse_invalid_namespace(&name);
                        client.connecting.fetch_sub(1, Ordering::AcqRel);
                        return;
                    }
                },
                Lookup::Missing => unreachable!("answered above"),
            };
            let restored = client.restore(&ns, &auth).await;
            // A v2 client's socket in `/` has its session's id, as in the
            // reference (the client computes it so).
            let id = (client.is_v2() && name == "/").then_some(client.sid);
            let socket = Socket::new(
                ns.clone(),
                client.clone(),
                auth,
                restored.as_ref().map(|r| &r.session),
                id,
            );
            let skip = restored.is_some()
                && client
                    .server
                    .config
                    .recovery
                    .as_ref()
                    .is_some_and(|r| r.skip_middlewares);
            let allowed = if skip {
                Ok(())
            } else {
                ns.run_middlewares(&socket).await
            };
            match allowed {
                Ok(()) => client.admit(&ns, socket, &name, restored),
                Err(refusal) => {
                    socket.mark_refused();
                    let _ = client.send(
                        &Encoded::control(
                            PacketType::ConnectError,
                            &name,
                            Some(&refusal.payload(client.is_v2())),
                        ),
                        Flags::DEFAULT,
                    );
                }
            }
            client.connecting.fetch_sub(1, Ordering::AcqRel);
        }));
        Ok(())
    }

    /// Refuses a CONNECT to a namespace that does not exist.
    fn refuse_invalid_namespace(&self, name: &str) {
        // The reference answers this one with an object for v2 clients too.
        let refusal = ConnectError::new("Invalid namespace");
        let _ = self.send(
            &Encoded::control(
                PacketType::ConnectError,
                name,
                Some(&refusal.payload(false)),
            )
            .invalid_namespace(),
            Flags::DEFAULT,
        );
    }

    /// Whether the server has connection state recovery on.
    pub(crate) fn recovery_enabled(&self) -> bool {
        self.server.config.recovery.is_some()
    }

    /// The session a CONNECT asks to recover (auth `{pid, offset}`, both
    /// strings, as the reference requires), when the adapter has it.
    async fn restore(&self, ns: &crate::Namespace, auth: &str) -> Option<RestoredSession> {
        if !self.recovery_enabled() {
            return None;
        }
        #[derive(serde::Deserialize)]
        struct Resume {
            pid: Option<serde_json::Value>,
            offset: Option<serde_json::Value>,
        }
        let resume: Resume = serde_json::from_str(auth).ok()?;
        let serde_json::Value::String(pid) = resume.pid? else {
            return None;
        };
        let restored = match resume.offset {
            Some(serde_json::Value::String(offset)) => {
                ns.adapter().restore_session(&pid, &offset).await
            }
            _ => None,
        };
        self.server.recoveries.count(restored.is_some());
        restored
    }

    fn admit(
        &self,
        ns: &Arc<crate::Namespace>,
        socket: Arc<Socket>,
        name: &str,
        restored: Option<RestoredSession>,
    ) {
        let Some(session) = self.session().filter(|s| !s.is_closed()) else {
            socket.mark_refused();
            return;
        };
        // Joined: the connect timeout no longer applies.
        session.cancel_expiry();
        self.lock(&self.sockets).push(socket.clone());
        socket.mark_connected();
        // As the reference: the missed packets go out before the CONNECT
        // reply (the official client holds them until it is connected).
        let rooms = restored.map(|restored| {
            for missed in &restored.missed {
                let _ = self.send(&missed.0, Flags::DEFAULT);
            }
            restored.session.rooms
        });
        let reply = match socket.pid() {
            // Socket.IO protocol 4: no payload.
            _ if self.is_v2() => None,
            Some(pid) => Some([r#"{"sid":""#, &socket.id(), r#"","pid":""#, pid, r#""}"#].concat()),
            None => Some([r#"{"sid":""#, &socket.id(), r#""}"#].concat()),
        };
        let _ = self.send(
            &Encoded::control(PacketType::Connect, name, reply.as_deref()),
            Flags::DEFAULT,
        );
        ns.connect(&socket, rooms.as_deref().unwrap_or_default());
    }
}
