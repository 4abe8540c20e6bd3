//! A socket's rooms, and the broadcasts it starts.

use super::{IntoRooms, Socket};
use crate::{BroadcastOperator, Room};

impl Socket {
    /// Joins rooms, up to `max_rooms` besides its own (see
    /// [`ServerBuilder::max_rooms`](crate::ServerBuilder::max_rooms)): rooms
    /// past the limit are not joined.
    pub fn join(&self, rooms: impl IntoRooms) {
        let mut rooms = rooms.into_rooms();
        let max = self.client.config().max_rooms;
        let joined = self.ns.adapter().socket_rooms(self.id);
        rooms.retain(|r| !joined.contains(r));
        // Its own room is in `joined` and does not count.
        let room_left = (max + 1).saturating_sub(joined.len().max(1));
        if rooms.len() > room_left {
            tracing::warn!(socket = %self.id, max, "too many rooms: not joining {}", rooms.len() - room_left);
            rooms.truncate(room_left);
        }
        self.ns.adapter().add_all(self.id, &rooms);
    }

    /// Leaves rooms: one, or several as [`join`](Self::join) takes them.
    ///
    /// ```
    /// # fn f(socket: &rally::Socket) {
    /// socket.join(["a", "b", "c"]);
    /// socket.leave(["a", "b"]);
    /// socket.leave("c");
    /// # }
    /// ```
    pub fn leave(&self, rooms: impl IntoRooms) {
        for room in rooms.into_rooms() {
            self.ns.adapter().del(self.id, &room);
        }
    }

    /// The rooms it is in (its own id's room included).
    #[must_use]
    pub fn rooms(&self) -> Vec<Room> {
        self.ns.adapter().socket_rooms(self.id)
    }

    /// Targets the sockets in `rooms`, except this one.
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().to(rooms)
    }

    /// Same as [`to`](Self::to).
    pub fn within(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.to(rooms)
    }

    /// Targets every socket of the namespace except this one and those in `rooms`.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().except(rooms)
    }

    /// Targets every socket of the namespace except this one.
    pub fn broadcast(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.ns.clone()).except_socket(self.id)
    }
}
