//! Active response: turning "ban this address for 4h" into a stored,
//! expiring, audited decision, refusing the ones that safety rails forbid,
//! and keeping enforcers equal to the set of effective decisions.

mod allowlist;
mod enforcer;
mod nft;
mod responder;
mod review;
mod webhook;

pub use allowlist::Allowlist;
pub use enforcer::{
    Enforcer, EnforcerConfig, FileEnforcer, FileMode, ListFormat, write_atomically,
    write_atomically_with_mode,
};
pub use nft::{NftConfig, NftEnforcer, NftHook, NftName, NftPlan, TIMEOUT_TOLERANCE_SECS};
pub use responder::{
    BREAKER_KEY, BREAKER_RULE, BreakerState, Decided, DecisionRequest, EnforcerHealth, Escalation,
    MinConfidence, Outcome, RespondError, Responder, ResponderConfig, ReviewVerdict, breaker,
    breaker_status,
};
pub use review::{DIGEST_KEY, Digest, DigestSchedule, ReviewItem, RuleStats, digest, review_queue};
pub use webhook::{WebhookConfig, WebhookEnforcer, signature, url_origin};
