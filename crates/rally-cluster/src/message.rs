//! What the adapter sends and what answers come back, before a transport
//! writes them in its engine's format.

use rally::{
    AckReply, Room,
    adapter::{BroadcastOptions, BroadcastPacket, SocketInfo},
};
use rally_proto::msgpack::Value as Mp;
use serde_json::Value;

use crate::{
    Fallback,
    wire::{self, cluster_kind as kind},
};

/// A message for every other node.
#[non_exhaustive]
pub enum Message<'a> {
    /// A broadcast; with `request_id`, one whose answers are wanted.
    Broadcast {
        /// The packet.
        packet: &'a BroadcastPacket,
        /// Whom it reaches.
        opts: &'a BroadcastOptions,
        /// The request its answers go to (a broadcast with acks).
        request_id: Option<&'a str>,
        /// What to do instead when it cannot be sent, for a transport that
        /// [echoes broadcasts](crate::Transport::echoes_broadcasts).
        fallback: Option<Fallback>,
    },
    /// The sockets `opts` reaches join `rooms`.
    SocketsJoin {
        /// Whose sockets.
        opts: &'a BroadcastOptions,
        /// The rooms.
        rooms: &'a [Room],
    },
    /// The sockets `opts` reaches leave `rooms`.
    SocketsLeave {
        /// Whose sockets.
        opts: &'a BroadcastOptions,
        /// The rooms.
        rooms: &'a [Room],
    },
    /// The sockets `opts` reaches are disconnected.
    DisconnectSockets {
        /// Whose sockets.
        opts: &'a BroadcastOptions,
        /// Whether their connections close too.
        close: bool,
    },
    /// Request `request_id`: describe the sockets `opts` reaches.
    FetchSockets {
        /// Whose sockets.
        opts: &'a BroadcastOptions,
        /// The request.
        request_id: &'a str,
    },
    /// A server-side event (its name, then its arguments); with
    /// `request_id`, every node answers.
    ServerSideEmit {
        /// The event and its arguments.
        data: &'a [Value],
        /// The request, when answers are wanted.
        request_id: Option<&'a str>,
    },
    /// A node announces itself (heartbeat transports).
    InitialHeartbeat,
    /// A node is still there (heartbeat transports).
    Heartbeat,
    /// A node leaves (heartbeat transports).
    AdapterClose,
}

impl Message<'_> {
    /// Its type in the cluster protocol.
    #[must_use]
    pub fn kind(&self) -> i64 {
        match self {
            Message::Broadcast { .. } => kind::BROADCAST,
            Message::SocketsJoin { .. } => kind::SOCKETS_JOIN,
            Message::SocketsLeave { .. } => kind::SOCKETS_LEAVE,
            Message::DisconnectSockets { .. } => kind::DISCONNECT_SOCKETS,
            Message::FetchSockets { .. } => kind::FETCH_SOCKETS,
            Message::ServerSideEmit { .. } => kind::SERVER_SIDE_EMIT,
            Message::InitialHeartbeat => kind::INITIAL_HEARTBEAT,
            Message::Heartbeat => kind::HEARTBEAT,
            Message::AdapterClose => kind::ADAPTER_CLOSE,
        }
    }

    /// Its `data` in the cluster protocol, in the reference's key order;
    /// `None` for the messages without (heartbeats).
    #[must_use]
    pub fn data(&self) -> Option<Mp> {
        let rooms = |rooms: &[Room]| Mp::Array(rooms.iter().map(|r| Mp::from(&**r)).collect());
        Some(match self {
            Message::Broadcast {
                packet,
                opts,
                request_id,
                ..
            } => {
                let mut data = vec![("packet".to_owned(), wire::packet_value(packet, false))];
                if let Some(id) = request_id {
                    data.push(("requestId".to_owned(), Mp::from(*id)));
                }
                data.push(("opts".to_owned(), wire::opts_value(opts, true)));
                Mp::Map(data)
            }
            Message::SocketsJoin { opts, rooms: r } | Message::SocketsLeave { opts, rooms: r } => {
                Mp::map([("opts", wire::opts_value(opts, true)), ("rooms", rooms(r))])
            }
            Message::DisconnectSockets { opts, close } => Mp::map([
                ("opts", wire::opts_value(opts, true)),
                ("close", Mp::Bool(*close)),
            ]),
            Message::FetchSockets { opts, request_id } => Mp::map([
                ("opts", wire::opts_value(opts, true)),
                ("requestId", Mp::from(*request_id)),
            ]),
            Message::ServerSideEmit { data, request_id } => {
                let packet = wire::mp(&Value::Array(data.to_vec()));
                match request_id {
                    Some(id) => Mp::map([("requestId", Mp::from(*id)), ("packet", packet)]),
                    None => Mp::map([("packet", packet)]),
                }
            }
            Message::InitialHeartbeat | Message::Heartbeat | Message::AdapterClose => return None,
        })
    }
}

impl std::fmt::Debug for Message<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("kind", &self.kind())
            .finish_non_exhaustive()
    }
}

/// An answer to another node's request.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Response {
    /// The sockets of this node that a fetch reaches (as the reference
    /// describes them).
    FetchSockets {
        /// The request.
        request_id: String,
        /// `[{id, handshake, rooms, data}, ...]`.
        sockets: Mp,
    },
    /// A server-side event handler's answer.
    ServerSideEmit {
        /// The request.
        request_id: String,
        /// The answer.
        packet: Mp,
    },
    /// How many clients a broadcast with acks reached here.
    BroadcastClientCount {
        /// The request.
        request_id: String,
        /// How many.
        count: usize,
    },
    /// One client's answer to a broadcast with acks.
    BroadcastAck {
        /// The request.
        request_id: String,
        /// The answer's first argument.
        packet: Mp,
    },
}

impl Response {
    /// Its type in the cluster protocol.
    #[must_use]
    pub fn kind(&self) -> i64 {
        match self {
            Response::FetchSockets { .. } => kind::FETCH_SOCKETS_RESPONSE,
            Response::ServerSideEmit { .. } => kind::SERVER_SIDE_EMIT_RESPONSE,
            Response::BroadcastClientCount { .. } => kind::BROADCAST_CLIENT_COUNT,
            Response::BroadcastAck { .. } => kind::BROADCAST_ACK,
        }
    }

    /// The request it answers.
    #[must_use]
    pub fn request_id(&self) -> &str {
        match self {
            Response::FetchSockets { request_id, .. }
            | Response::ServerSideEmit { request_id, .. }
            | Response::BroadcastClientCount { request_id, .. }
            | Response::BroadcastAck { request_id, .. } => request_id,
        }
    }

    /// Its `data` in the cluster protocol, in the reference's key order.
    #[must_use]
    pub fn into_data(self) -> Mp {
        let id = Mp::from(self.request_id());
        match self {
            Response::FetchSockets { sockets, .. } => {
                Mp::map([("requestId", id), ("sockets", sockets)])
            }
            Response::ServerSideEmit { packet, .. } | Response::BroadcastAck { packet, .. } => {
                Mp::map([("requestId", id), ("packet", packet)])
            }
            Response::BroadcastClientCount { count, .. } => Mp::map([
                ("requestId", id),
                (
                    "clientCount",
                    Mp::Int(i64::try_from(count).unwrap_or(i64::MAX)),
                ),
            ]),
        }
    }
}

/// An answer to one of this node's requests, as a transport read it.
#[derive(Debug)]
#[non_exhaustive]
pub enum Answer {
    /// Another node's sockets.
    Sockets(Vec<SocketInfo>),
    /// A server-side event handler's answer.
    Value(Value),
    /// How many clients a broadcast with acks reached on a node.
    ClientCount(usize),
    /// One client's answer to a broadcast with acks.
    Ack(AckReply),
    /// Another node's rooms (a transport with an "all rooms" request).
    Rooms(Vec<Room>),
}
