//! Shared application state, set on the builder and read by type.

use std::{
    any::{Any, TypeId},
    collections::HashMap,
    fmt,
    sync::Arc,
};

/// Values of distinct types, one of each type, shared by every socket.
#[derive(Clone, Default)]
pub(crate) struct States(HashMap<TypeId, Arc<dyn Any + Send + Sync>>);

impl States {
    /// Keeps `value`, in place of an earlier value of its type.
    pub(crate) fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        self.0.insert(TypeId::of::<T>(), Arc::new(value));
    }

    /// The value of type `T`, when one was kept.
    pub(crate) fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.0.get(&TypeId::of::<T>())?.downcast_ref()
    }
}

impl fmt::Debug for States {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} states", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::States;

    #[test]
    fn keeps_one_value_per_type() {
        let mut states = States::default();
        states.insert(1_u32);
        states.insert(String::from("a"));
        states.insert(2_u32);
        assert_eq!(states.get::<u32>(), Some(&2));
        assert_eq!(states.get::<String>().map(String::as_str), Some("a"));
        assert_eq!(states.get::<u64>(), None);
    }
}
