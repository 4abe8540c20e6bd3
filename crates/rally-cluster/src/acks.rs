//! A broadcast with acks across the cluster: this node's answers and the
//! other nodes', merged into one stream.

use std::time::Duration;

use rally::adapter::{AckEvent, AckStream};
use tokio::sync::mpsc;

use crate::{Answer, Request};

/// One stream of a broadcast with acks: this node's part, and the other
/// nodes' answers to `remote`, until `timeout`.
pub(crate) fn merge(mut local: AckStream, mut remote: Request, timeout: Duration) -> AckStream {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + timeout;
        let (mut local_open, mut remote_open) = (true, true);
        while local_open || remote_open {
            tokio::select! {
                event = local.recv(), if local_open => match event {
                    Some(event) => { let _ = tx.send(event); }
                    None => local_open = false,
                },
                answer = remote.recv(), if remote_open => match answer {
                    Some(Answer::ClientCount(n)) => { let _ = tx.send(AckEvent::Targeted(n)); }
                    Some(Answer::Ack(reply)) => { let _ = tx.send(AckEvent::Reply(None, Ok(reply))); }
                    Some(_) => {}
                    None => remote_open = false,
                },
                () = tokio::time::sleep_until(deadline) => break,
            }
        }
    });
    rx
}
