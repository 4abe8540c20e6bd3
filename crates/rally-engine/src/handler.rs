use std::sync::Arc;

use rally_proto::engine::Message;

use crate::{CloseReason, Session};

/// What the application does with sessions.
///
/// The callbacks run on the connection's own task, in order for each
/// session: keep them short and never block in them (spawn a task for slow
/// work). Messages of one session arrive in the order the client sent them.
///
/// ```
/// use std::sync::Arc;
/// use rally_engine::{Handler, Message, Session};
///
/// struct Echo;
///
/// impl Handler for Echo {
///     fn on_open(&self, _session: &Arc<Session>) {}
///     fn on_message(&self, session: &Arc<Session>, message: Message) {
///         let _ = session.send(message);
///     }
/// }
/// ```
pub trait Handler: Send + Sync + 'static {
    /// A session opened. Frames sent from here follow the handshake.
    fn on_open(&self, session: &Arc<Session>);

    /// A message arrived.
    fn on_message(&self, session: &Arc<Session>, message: Message);

    /// The session moved from long-polling to WebSocket (called once, when
    /// the upgrade completes; never for a session that opened on
    /// WebSocket).
    fn on_upgrade(&self, session: &Arc<Session>) {
        let _ = session;
    }

    /// The session ended. It is called once per session.
    fn on_close(&self, session: &Arc<Session>, reason: CloseReason) {
        let _ = (session, reason);
    }
}
