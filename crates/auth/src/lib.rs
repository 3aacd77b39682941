//! Identity for Riposte: the one place that answers "may this identity do
//! this" ([`may`], from the data in [`ROLE_PERMISSIONS`]), API keys (format,
//! generation, HMAC hashing under a [`ServerSecret`]), the [`Authenticator`]
//! that turns a bearer key into an [`Identity`], and the user and key
//! management the CLI and API call ([`manage`]).
//!
//! docs/security.md is the user's account of all of it; a test keeps its
//! roles table equal to [`ROLE_PERMISSIONS`].

mod authenticator;
mod identity;
mod key;
pub mod manage;
mod permission;

pub use authenticator::{AuthError, Authenticator, CACHE_CAPACITY, CACHE_TTL, TOUCH_EVERY};
pub use identity::{Denied, Identity, Via, Wanted, may, may_approve, may_webhook};
pub use key::{
    BearerKey, KEY_PREFIX, KEY_TEXT_LEN, MalformedKey, NewKey, NoRandomness, SecretError,
    ServerSecret, generate_key,
};
pub use manage::ManageError;
pub use permission::{Permission, ROLE_PERMISSIONS, role_allows, role_permissions};
