//! [`ProcessClock`]: the engine's [`Clock`] over the process's monotonic clock.

use crate::time::{Clock, Instant};

/// Nanoseconds since the clock was created (at process start), from `std::time::Instant`, so
/// it never goes backwards.
#[derive(Clone, Copy, Debug)]
pub struct ProcessClock {
    start: std::time::Instant,
}

impl ProcessClock {
    /// A clock whose epoch is now.
    pub fn new() -> Self {
        ProcessClock {
            start: std::time::Instant::now(),
        }
    }

    /// The `std::time::Instant` corresponding to the engine instant `at` (for timers).
    pub fn to_std(&self, at: Instant) -> std::time::Instant {
        self.start
            .checked_add(at.since_epoch())
            .unwrap_or_else(|| self.start + std::time::Duration::from_secs(365 * 24 * 3600))
    }
}

impl Default for ProcessClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ProcessClock {
    fn now(&self) -> Instant {
        let nanos = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        Instant::from_nanos(nanos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_and_convertible() {
        let c = ProcessClock::new();
        let a = c.now();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = c.now();
        assert!(b > a);
        assert!(c.to_std(b) >= c.to_std(a));
        assert!(c.to_std(Instant::MAX) > std::time::Instant::now());
    }
}
