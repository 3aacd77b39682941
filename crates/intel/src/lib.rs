//! Threat intelligence: the indicators feeds publish (MISP, STIX 2.1,
//! CSV and plain blocklists), matched against every event, and shared back
//! out (MISP feed, STIX bundle, Zeek Intel, Suricata, blocklists).
//!
//! - [`normalize`]: one canonical form per indicator kind, for feed values
//!   and event values alike.
//! - [`IntelIndex`]: the in-memory matcher (hash maps, a prefix trie for
//!   networks, a suffix walk for domains), a constant number of lookups per
//!   event field whatever the number of indicators.
//! - [`import`]: the feed formats, streamed, every record accounted for.
//! - [`stix`]: the STIX pattern language and its evaluator.
//! - [`sightings`]: sightings of MISP indicators pushed back to MISP.

pub mod alert;
pub mod config;
pub mod export;
pub mod feed;
pub mod import;
mod index;
pub mod lookup;
pub mod normalize;
pub mod sightings;
pub mod stix;
mod strtable;

pub use index::{Context, Hit, IndexError, IntelIndex};
pub use strtable::TableFull;
