//! Retry backoff: how long to wait before trying again. One rule, exponential
//! with a cap and jitter, so storage retries (ingest) and webhook retries
//! (alerts) behave alike; each caller picks its own base and cap.

use std::time::Duration;

/// Exponential backoff with jitter: before retry `attempt` (counted from 0),
/// wait `base·2^attempt`, capped at `cap`, times a random factor in [0.5, 1] so
/// many instances failing together do not retry in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failure (before the jitter).
    pub base: Duration,
    /// The longest wait (before the jitter).
    pub cap: Duration,
}

impl Backoff {
    pub const fn new(base: Duration, cap: Duration) -> Self {
        Backoff { base, cap }
    }

    /// The wait before retry `attempt`, without jitter: `base·2^attempt`, at most `cap`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        self.base
            .saturating_mul(1u32 << attempt.min(20))
            .min(self.cap)
    }

    /// The wait before retry `attempt`: [`Backoff::ceiling`] times a random
    /// factor in [0.5, 1].
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        let jitter: f64 = rand::random_range(0.5..=1.0);
        Duration::try_from_secs_f64(ceiling.as_secs_f64() * jitter).unwrap_or(ceiling)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_base_up_to_the_cap_with_jitter_in_half_to_one() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
        assert_eq!(b.ceiling(0), Duration::from_millis(100));
        assert_eq!(b.ceiling(3), Duration::from_millis(800));
        assert_eq!(b.ceiling(7), Duration::from_secs(10));
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(10));
        for attempt in [0, 1, 5, 8, 40] {
            for _ in 0..100 {
                let d = b.delay(attempt);
                let c = b.ceiling(attempt);
                assert!(d >= c / 2 && d <= c, "attempt {attempt}: {d:?} of {c:?}");
            }
        }
    }

    #[test]
    fn an_unbounded_cap_does_not_overflow() {
        let b = Backoff::new(Duration::MAX, Duration::MAX);
        assert_eq!(b.ceiling(30), Duration::MAX);
        assert!(b.delay(30) >= Duration::MAX / 2);
    }
}
