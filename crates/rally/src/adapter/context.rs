use std::sync::Weak;

use rally_proto::socket::Parser;

use crate::{ConnectionStateRecovery, Namespace};

/// What the factory given to
/// [`ServerBuilder::adapter`](crate::ServerBuilder::adapter) gets for each
/// new namespace: the namespace, and the server's settings an adapter must
/// agree with (connection state recovery, the parser), so they are set once,
/// on the server.
///
/// ```
/// use std::sync::Arc;
/// use rally::adapter::{Adapter, AdapterContext, LocalAdapter};
///
/// let io = rally::Server::builder()
///     .adapter(|ctx: AdapterContext| {
///         let local = match ctx.connection_state_recovery() {
///             Some(recovery) => LocalAdapter::with_recovery(ctx.namespace(), recovery.clone()),
///             None => LocalAdapter::new(ctx.namespace()),
///         };
///         Arc::new(local) as Arc<dyn Adapter>
///     })
///     .build();
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AdapterContext {
    ns: Weak<Namespace>,
    name: String,
    recovery: Option<ConnectionStateRecovery>,
    parser: Parser,
}

impl AdapterContext {
    pub(crate) fn new(
        ns: Weak<Namespace>,
        recovery: Option<ConnectionStateRecovery>,
        parser: Parser,
    ) -> Self {
        let name = ns
            .upgrade()
            .map_or_else(|| "/".to_owned(), |ns| ns.name().to_owned());
        Self {
            ns,
            name,
            recovery,
            parser,
        }
    }

    /// The namespace the adapter serves (a weak handle: the namespace owns
    /// its adapter).
    #[must_use]
    pub fn namespace(&self) -> Weak<Namespace> {
        self.ns.clone()
    }

    /// The namespace's name, such as `/` or `/admin`.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The server's connection state recovery settings, when it is on
    /// ([`ServerBuilder::connection_state_recovery`](crate::ServerBuilder::connection_state_recovery)).
    #[must_use]
    pub fn connection_state_recovery(&self) -> Option<&ConnectionStateRecovery> {
        self.recovery.as_ref()
    }

    /// The server's parser ([`ServerBuilder::parser`](crate::ServerBuilder::parser)).
    #[must_use]
    pub fn parser(&self) -> Parser {
        self.parser
    }
}
