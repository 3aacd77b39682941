//! Typed identifiers. UUIDv7 so that ids sort by creation time and can be
//! minted before an insert (a batch links alerts, cases and decisions inside
//! one transaction).

use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use uuid::Uuid;

/// The state behind [`next_v7`]: the last millisecond used, a 42-bit
/// counter within it, and a SplitMix64 generator for the random bits.
struct V7State {
    millis: u64,
    counter: u64,
    rng: u64,
}

const COUNTER_BITS: u32 = 42;

static V7: Mutex<Option<V7State>> = Mutex::new(None);

impl V7State {
    fn new() -> Self {
        // One seed per process: a UUIDv7 from the `uuid` crate (74 random
        // bits from the OS) mixed with std's per-process random hash keys.
        let seed = RandomState::new().hash_one(Uuid::now_v7().as_u128());
        Self {
            millis: 0,
            counter: 0,
            rng: seed,
        }
    }

    /// SplitMix64 (Steele, Lea, Flood 2014): a full-period 64-bit sequence.
    fn next_u64(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// A new UUIDv7 (RFC 9562 §5.7): 48 bits of Unix milliseconds, then a
/// 42-bit counter (method 1 of §6.2, reseeded at random with its top bit
/// clear on every new millisecond) and 32 random bits. Ids from one process
/// are strictly increasing, like `Uuid::now_v7`'s, but minting one costs a
/// clock read and an uncontended lock instead of a `getrandom` system call
/// (a decoder mints one per event).
pub(crate) fn next_v7() -> Uuid {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let mut guard = V7.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    guard.get_or_insert_with(V7State::new).next(now)
}

impl V7State {
    /// The next id at Unix time `now` (milliseconds).
    fn next(&mut self, now: u64) -> Uuid {
        let state = self;
        if now > state.millis {
            state.millis = now;
            state.counter = state.next_u64() >> (64 - COUNTER_BITS + 1);
        } else {
            // Same millisecond, or the clock stepped back: keep counting from
            // the last id; when the counter runs out, borrow the next
            // millisecond.
            state.counter += 1;
            if state.counter >> COUNTER_BITS != 0 {
                state.millis += 1;
                state.counter = state.next_u64() >> (64 - COUNTER_BITS + 1);
            }
        }
        let millis = state.millis & 0xffff_ffff_ffff;
        // The 74 bits after the version: counter (42) then random (32).
        let tail = (u128::from(state.counter) << 32) | u128::from(state.next_u64() & 0xffff_ffff);
        Uuid::from_u128(
            (u128::from(millis) << 80)
                | (0x7 << 76)
                | ((tail >> 62) << 64)
                | (0b10 << 62)
                | (tail & ((1 << 62) - 1)),
        )
    }
}

/// Defines a UUIDv7 id newtype; used here and by modules with ids of
/// their own (`identity::UserId`).
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash,
            serde::Serialize, serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            /// A new time-ordered id.
            pub fn new() -> Self {
                Self($crate::ids::next_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s).map(Self)
            }
        }
    };
}

pub(crate) use id_type;

id_type!(
    /// Identifies one normalized event.
    EventId
);
id_type!(
    /// Identifies one alert raised by a rule.
    AlertId
);
id_type!(
    /// Identifies one case (a group of related alerts).
    CaseId
);
id_type!(
    /// Identifies one decision (ban, …).
    DecisionId
);
id_type!(
    /// Identifies one playbook run.
    RunId
);
id_type!(
    /// Identifies one audit log entry.
    AuditId
);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_valid_v7_strictly_increasing_and_carry_the_time() {
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis();
        let ids: Vec<EventId> = (0..100_000).map(|_| EventId::new()).collect();
        let after = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis();
        for pair in ids.windows(2) {
            assert!(pair[0] < pair[1], "{} !< {}", pair[0], pair[1]);
        }
        for id in [ids[0], ids[99_999]] {
            assert_eq!(id.0.get_version_num(), 7);
            assert_eq!(id.0.get_variant(), uuid::Variant::RFC4122);
            let (secs, nanos) = id.0.get_timestamp().unwrap().to_unix();
            let millis = u128::from(secs) * 1000 + u128::from(nanos / 1_000_000);
            // The counter may borrow a few milliseconds under a burst.
            assert!(millis >= before && millis <= after + 100, "{millis}");
        }
        // Other id types share the sequence, so they interleave in order.
        let a = AlertId::new();
        let e = EventId::new();
        assert!(a.0 < e.0 && ids[99_999].0 < a.0);
    }

    #[test]
    fn the_counter_rolls_into_the_next_millisecond_and_survives_a_clock_step_back() {
        let mut state = V7State::new();
        let first = state.next(5_000);
        state.counter = (1 << COUNTER_BITS) - 1;
        let rolled = state.next(5_000);
        let back = state.next(4_000);
        let millis = |id: Uuid| {
            let (secs, nanos) = id.get_timestamp().unwrap().to_unix();
            secs * 1000 + u64::from(nanos / 1_000_000)
        };
        assert_eq!(millis(first), 5_000);
        assert_eq!(millis(rolled), 5_001);
        assert_eq!(millis(back), 5_001);
        assert!(first < rolled && rolled < back);
        assert_eq!(back.get_version_num(), 7);
    }
}
id_type!(
    /// Identifies one approval request of a playbook run.
    ApprovalId
);
