//! Active response: turning "ban this address for 4h" into a stored,
//! expiring, audited decision, refusing the ones that safety rails forbid,
//! and keeping enforcers equal to the set of effective decisions.

mod allowlist;
mod enforcer;
mod nft;
mod responder;

pub use allowlist::Allowlist;
pub use enforcer::{Enforcer, EnforcerConfig, FileEnforcer};
pub use nft::{NftConfig, NftEnforcer, NftHook, NftName, NftPlan, TIMEOUT_TOLERANCE_SECS};
pub use responder::{BanOutcome, BanRequest, RespondError, Responder, ResponderConfig};
