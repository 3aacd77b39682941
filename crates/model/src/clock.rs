//! Time as a dependency, so that expiry and windows are tested by moving a
//! clock rather than by sleeping.

use std::sync::Mutex;

use chrono::{TimeDelta, Utc};

use crate::Timestamp;

/// Where Riposte reads "now" from.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Timestamp;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Utc::now()
    }
}

/// A clock that only moves when told to: tests, the demo and replays (which
/// run on the recorded events' time).
#[derive(Debug)]
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    pub fn new(at: Timestamp) -> Self {
        Self(Mutex::new(at))
    }

    pub fn set(&self, at: Timestamp) {
        *self.lock() = at;
    }

    /// Moves the clock forward to `at` if `at` is later; never backwards.
    pub fn advance_to(&self, at: Timestamp) {
        let mut now = self.lock();
        if at > *now {
            *now = at;
        }
    }

    pub fn advance(&self, by: TimeDelta) {
        let mut now = self.lock();
        *now += by;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Timestamp> {
        // A poisoned clock still holds a valid timestamp.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn manual_clock_moves_only_forward_with_advance_to() {
        let t0 = Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).unwrap();
        let clock = ManualClock::new(t0);
        clock.advance_to(t0 - TimeDelta::hours(1));
        assert_eq!(clock.now(), t0);
        clock.advance(TimeDelta::minutes(5));
        assert_eq!(clock.now(), t0 + TimeDelta::minutes(5));
    }
}
