//! Exponential backoff with jitter between reconnection attempts, as the
//! official client computes it.

use std::time::Duration;

/// The delays between reconnection attempts: `min * 2^attempt`, moved up or
/// down by a random part of itself (the randomization factor), capped at
/// `max`.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    jitter: f64,
    attempts: u32,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration, jitter: f64) -> Self {
        Self {
            min,
            max,
            jitter: jitter.clamp(0.0, 1.0),
            attempts: 0,
        }
    }

    /// How many delays were handed out since the last reset.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The next delay; counts one more attempt.
    pub(crate) fn next_delay(&mut self) -> Duration {
        self.next_delay_with(fastrand::f64())
    }

    /// The next delay for the random number `rand` in `[0, 1)`.
    fn next_delay_with(&mut self, rand: f64) -> Duration {
        let exp = self.attempts.min(62);
        self.attempts = self.attempts.saturating_add(1);
        let mut ms = self.min.as_millis() as f64 * 2f64.powi(exp as i32);
        if self.jitter > 0.0 {
            let deviation = (rand * self.jitter * ms).floor();
            // The reference picks the direction from the same random number.
            ms = if ((rand * 10.0).floor() as u64) & 1 == 0 {
                ms - deviation
            } else {
                ms + deviation
            };
        }
        let max = self.max.as_millis() as f64;
        Duration::from_millis(ms.min(max).max(0.0) as u64)
    }

    /// Starts counting again (after a successful connection).
    pub(crate) fn reset(&mut self) {
        self.attempts = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn doubles_up_to_the_max() {
        let mut b = Backoff::new(ms(1000), ms(5000), 0.0);
        let delays: Vec<_> = (0..5).map(|_| b.next_delay()).collect();
        assert_eq!(delays, [ms(1000), ms(2000), ms(4000), ms(5000), ms(5000)]);
        assert_eq!(b.attempts(), 5);
        b.reset();
        assert_eq!(b.next_delay(), ms(1000));
    }

    #[test]
    fn jitter_like_the_reference() {
        let mut b = Backoff::new(ms(1000), ms(5000), 0.5);
        // rand 0.25: deviation 125, floor(2.5) = 2 is even: down.
        assert_eq!(b.next_delay_with(0.25), ms(875));
        // rand 0.35: deviation 350 of 2000, floor(3.5) = 3 is odd: up.
        assert_eq!(b.next_delay_with(0.35), ms(2350));
        for _ in 0..100 {
            let d = Backoff::new(ms(1000), ms(5000), 0.5).next_delay();
            assert!(d >= ms(500) && d <= ms(1500), "{d:?}");
        }
    }

    #[test]
    fn never_overflows() {
        let mut b = Backoff::new(ms(1000), ms(5000), 0.5);
        for _ in 0..200 {
            assert!(b.next_delay() <= ms(5000));
        }
    }
}
