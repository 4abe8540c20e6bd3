//! What the cluster tests share beyond `rally-testkit`: Rally nodes in
//! streams mode with connection state recovery, and the checks of a
//! recovered client ([`recovery`]).

#![allow(dead_code, unreachable_pub, unused_imports)]

pub mod recovery;

pub use rally_testkit::{
    DEADLINE,
    cluster::{Driver, RallyNode},
    eventually,
    redis::{RedisServer, int_reply},
    within,
};
