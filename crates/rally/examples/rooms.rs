//! Rooms: a socket joins and leaves rooms on request, and messages go to a
//! room, to a room but the sender, or to everyone but a room.
//!
//! ```text
//! cargo run --example rooms
//! # two terminals, each joining "lobby", then one says something:
//! cargo run -p rally-cli -- connect http://127.0.0.1:3000   # then type: join ["lobby"]
//! cargo run -p rally-cli -- connect http://127.0.0.1:3000   # then: join ["lobby"], say ["lobby", "hi"]
//! ```

use rally::Server;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let io = Server::new();
    io.of("/").on_connection(|socket| async move {
        // Node: socket.on("join", (room, ack) => { socket.join(room); ack(...) })
        socket.on("join", |socket, mut event| async move {
            let room: String = event.arg(0).unwrap_or_default();
            socket.join(room.as_str());
            let rooms: Vec<String> = socket.rooms().iter().map(ToString::to_string).collect();
            let _ = event.ack(&rooms);
            let _ = socket
                .to(room.as_str())
                .emit("joined", socket.id().as_str());
        });
        socket.on("leave", |socket, event| async move {
            let room: String = event.arg(0).unwrap_or_default();
            socket.leave(room.as_str());
        });
        // To the room's members but the sender (socket.to(room).emit).
        socket.on("say", |socket, event| async move {
            let room: String = event.arg(0).unwrap_or_default();
            let text: String = event.arg(1).unwrap_or_default();
            let _ = socket.to(room.as_str()).emit("said", &text);
        });
        // To everyone but a room's members (io.except(room).emit).
        socket.on("announce", |socket, event| async move {
            let except: String = event.arg(0).unwrap_or_default();
            let text: String = event.arg(1).unwrap_or_default();
            let _ = socket
                .ns()
                .except(except.as_str())
                .emit("announcement", &text);
        });
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://127.0.0.1:3000");
    rally::serve(listener, io).await
}
