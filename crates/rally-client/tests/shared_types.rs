//! The wire-level types the server (`rally`) and the client share: one
//! definition in `rally-proto`, so the two APIs cannot drift apart.

use std::ops::Deref;

use rally_proto::RawArgs;
use serde_json::json;

/// Compiles only when `A` dereferences to `B`.
fn derefs_to<A, B>()
where
    A: Deref<Target = B>,
{
}

/// Reads a sum the way server and client code alike would.
fn sum(args: &RawArgs) -> i64 {
    (0..args.len())
        .filter_map(|i| args.arg::<i64>(i).ok())
        .sum()
}

#[test]
fn transport_is_one_type() {
    let client = rally_client::Transport::WebSocket;
    let server: rally::Transport = client;
    assert_eq!(server, rally_proto::engine::Transport::WebSocket);
    assert_eq!(
        rally::Transport::from_name("polling"),
        Some(rally_client::Transport::Polling)
    );
}

#[test]
fn events_and_replies_read_through_raw_args() {
    derefs_to::<rally::Event, RawArgs>();
    derefs_to::<rally::AckReply, RawArgs>();
    derefs_to::<rally_client::Event, RawArgs>();
    derefs_to::<rally_client::AckReply, RawArgs>();

    let values = [json!(1), json!(2), json!("x")];
    let server = rally::AckReply::from_values(&values, Vec::new());
    let client = rally_client::AckReply::from_values(&values, Vec::new());
    assert_eq!(*server, *client);
    assert_eq!(sum(&server), 3);
    assert_eq!(sum(&client), 3);
    assert_eq!(server.to_args().json(), client.to_args().json());
}

#[test]
fn ack_errors_share_their_variants_and_messages() {
    fn common<E>(timeout: rally_proto::AckError<E>, gone: rally_proto::AckError<E>) -> [String; 2]
    where
        E: std::error::Error + 'static,
    {
        [timeout.to_string(), gone.to_string()]
    }
    let server = common(rally::AckError::Timeout, rally::AckError::Disconnected);
    let client = common(
        rally_client::AckError::Timeout,
        rally_client::AckError::Disconnected,
    );
    assert_eq!(server, client);
    assert_eq!(
        server,
        ["operation has timed out", "socket has been disconnected"]
    );
    assert!(matches!(
        rally_client::AckError::from(rally_client::EmitError::Closed),
        rally_client::AckError::Emit(rally_client::EmitError::Closed)
    ));
}
