//! The optional handshake rate limit per IP address.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

/// How many handshakes one IP address may make per window (fixed windows
/// that start at its first handshake).
#[derive(Debug)]
pub(crate) struct HandshakeRate {
    max: u32,
    window: Duration,
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

/// Past this many addresses, those whose window has ended are forgotten.
const PRUNE_AT: usize = 4096;

impl HandshakeRate {
    pub(crate) fn new(max: u32, window: Duration) -> Self {
        Self {
            max,
            window,
            seen: Mutex::default(),
        }
    }

    /// Counts a handshake from `ip`; false when it is over the limit.
    pub(crate) fn allow(&self, ip: IpAddr, now: Instant) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= PRUNE_AT && !seen.contains_key(&ip) {
            let window = self.window;
            seen.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = seen.entry(ip).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.max {
            return false;
        }
        entry.1 += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_gets_max_per_window() {
        let rate = HandshakeRate::new(2, Duration::from_secs(10));
        let (a, b) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
        let t = Instant::now();
        assert!(rate.allow(a, t));
        assert!(rate.allow(a, t + Duration::from_secs(1)));
        assert!(!rate.allow(a, t + Duration::from_secs(2)));
        assert!(rate.allow(b, t + Duration::from_secs(2)));
        assert!(rate.allow(a, t + Duration::from_secs(10)));
    }

    #[test]
    fn addresses_whose_window_ended_are_forgotten() {
        let rate = HandshakeRate::new(1, Duration::from_secs(1));
        let t = Instant::now();
        for i in 0..PRUNE_AT as u32 {
            assert!(rate.allow(IpAddr::from(i.to_be_bytes()), t));
        }
        let later = t + Duration::from_secs(2);
        assert!(rate.allow([255, 255, 255, 255].into(), later));
        assert_eq!(rate.seen.lock().unwrap().len(), 1);
    }
}
