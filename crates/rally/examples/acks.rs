//! Acknowledgements with timeouts, both ways: the client asks and the
//! server answers (`event.ack`), the server asks one client and waits at
//! most a second (`socket.timeout(d).emit_with_ack`), and asks every
//! client at once (`io.timeout(d).emit_with_ack`), as in Node.
//!
//! ```text
//! cargo run --example acks
//! cargo run -p rally-cli -- connect http://127.0.0.1:3000 --emit add '[2, 3]' --ack
//! ```

use std::time::Duration;

use rally::Server;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let io = Server::new();
    io.of("/").on_connection(|socket| async move {
        // Client asks, server answers: socket.on("add", (a, b, ack) => ack(a + b)).
        socket.on("add", |_socket, mut event| async move {
            let (a, b): (i64, i64) = (event.arg(0).unwrap_or(0), event.arg(1).unwrap_or(0));
            let _ = event.ack(&(a + b));
        });
        // Server asks, with a timeout: socket.timeout(1000).emitWithAck("ping").
        match socket
            .timeout(Duration::from_secs(1))
            .emit_with_ack("ping", ())
            .await
        {
            Ok(reply) => println!("{} answered {:?}", socket.id(), reply.raw_arg(0)),
            Err(e) => println!("{} did not answer: {e}", socket.id()),
        }
    });
    // Every client at once, every ten seconds: io.timeout(2000).emitWithAck("survey").
    let survey = io.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(10)).await;
            let answers = survey
                .broadcast()
                .timeout(Duration::from_secs(2))
                .emit_with_ack("survey", ())
                .await;
            match answers {
                Ok(answers) => println!("survey: {answers:?}"),
                Err(e) => println!("survey failed: {e}"),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://127.0.0.1:3000");
    rally::serve(listener, io).await
}
