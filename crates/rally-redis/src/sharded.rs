use crate::connection::Connection;
use rally::{Namespace, adapter::Adapter};
use std::sync::{Arc, Weak};
use std::time::Duration;
/// Sharded mode (to come).
pub(crate) struct ShardedAdapter;
impl ShardedAdapter {
    pub(crate) fn new(
        ns: Weak<Namespace>,
        conn: Arc<Connection>,
        key: &str,
        timeout: Duration,
    ) -> Arc<dyn Adapter> {
        crate::classic::ClassicAdapter::new(ns, conn, key, timeout)
    }
}
