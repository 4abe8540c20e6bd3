//! Dynamic namespaces: the children a parent namespace creates, and their
//! removal once empty.

use std::sync::{Arc, Weak};

use super::{AdapterFactory, Namespace};

impl Namespace {
    /// A child of a dynamic namespace: its own sockets and rooms, the
    /// parent's handlers (registered before or after it was created).
    pub(crate) fn child(
        name: String,
        adapter: &AdapterFactory,
        parent: &Arc<Namespace>,
    ) -> Arc<Self> {
        let child = Self::with_handlers(name, adapter, parent.handlers.clone());
        parent
            .children
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::downgrade(&child));
        child
    }

    /// The dynamic namespaces created from this one that are still alive.
    pub(crate) fn children(&self) -> Vec<Arc<Namespace>> {
        let mut children = self.children.write().unwrap_or_else(|e| e.into_inner());
        children.retain(|c| c.strong_count() > 0);
        children.iter().filter_map(Weak::upgrade).collect()
    }

    /// Asks to be told when this (dynamic child) namespace becomes empty.
    pub(crate) fn when_empty(&self, f: impl Fn(&str) + Send + Sync + 'static) {
        let _ = self.on_empty.set(Box::new(f));
    }

    pub(crate) fn remove_if_empty_child(&self) {
        if let Some(on_empty) = self.on_empty.get() {
            if self.is_empty() {
                on_empty(&self.name);
            }
        }
    }
}
