//! Who may act: users, their roles, and the API keys they authenticate
//! with. Plain records: hashing, verification and the table of what each
//! role may do live in `riposte-auth`, the one place that answers "may this
//! identity do this".

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Timestamp;

crate::string_enum::string_enum! {
    /// A user's role: a named set of permissions (the table is
    /// `riposte_auth::ROLE_PERMISSIONS`, rendered in docs/security.md).
    #[derive(PartialOrd, Ord)]
    Role("role") {
        Viewer = "viewer",
        Analyst = "analyst",
        Responder = "responder",
        Admin = "admin",
        /// Machines (a log shipper, a webhook caller): nothing by role, each
        /// key's scope says what it may do.
        Service = "service",
    }
}

crate::ids::id_type!(
    /// Identifies one user; the name can be looked up, this never changes.
    UserId
);

/// The longest user or key name.
pub const MAX_NAME_LEN: usize = 64;

/// A user or key name outside 1..=64 characters of `[A-Za-z0-9._@-]`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: expected 1 to {MAX_NAME_LEN} characters of A-Z a-z 0-9 . _ @ -")]
pub struct InvalidName {
    pub what: &'static str,
    /// The rejected name, cut to 80 characters (it may be anything).
    pub value: String,
}

fn quoted_prefix(value: &str) -> String {
    value.chars().take(80).collect()
}

fn validate_name(what: &'static str, name: &str) -> Result<(), InvalidName> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_@".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(InvalidName {
            what,
            value: quoted_prefix(name),
        })
    }
}

/// User names never contain ':' (nor spaces or anything a terminal or log
/// line would show ambiguously), so the identities Riposte makes up itself,
/// `local:root` for the CLI and `webhook:PLAYBOOK`, cannot be forged by
/// creating a user of that name.
pub fn validate_user_name(name: &str) -> Result<(), InvalidName> {
    validate_name("user name", name)
}

/// Key names follow the user-name rule: they appear in audit entries and
/// CLI tables next to user names.
pub fn validate_key_name(name: &str) -> Result<(), InvalidName> {
    validate_name("key name", name)
}

/// A person or a machine that authenticates. Its row in the store keeps
/// this whole record as the body, with name, role and state copied into
/// columns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    /// Unique (ignoring ASCII case, so `Alice` cannot pass for `alice`);
    /// see [`validate_user_name`].
    pub name: String,
    pub role: Role,
    /// A disabled user's keys stop working; the user and keys stay listed
    /// (the audit log names them).
    pub disabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl User {
    /// A new, enabled user; the name is validated here so that no code path
    /// can store one that breaks the rule.
    pub fn new(name: &str, role: Role, now: Timestamp) -> Result<Self, InvalidName> {
        validate_user_name(name)?;
        Ok(Self {
            id: UserId::new(),
            name: name.to_owned(),
            role,
            disabled: false,
            created_at: now,
            updated_at: now,
        })
    }
}

/// The public half of an API key (`rpk_<id>_…`): 16 lowercase hex digits
/// (8 random bytes), the primary key its record is looked up by. Knowing
/// it grants nothing.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyId(String);

/// Text that is not 16 lowercase hex digits.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid key id {0:?} (expected 16 lowercase hex digits)")]
pub struct InvalidKeyId(pub String);

impl KeyId {
    pub const LEN: usize = 16;

    /// The id of 8 random bytes.
    pub fn from_bytes(bytes: [u8; 8]) -> Self {
        Self(format!("{:016x}", u64::from_be_bytes(bytes)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `text` is a key id, without allocating (the per-request
    /// parse of a bearer key).
    pub fn is_valid(text: &str) -> bool {
        text.len() == Self::LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl FromStr for KeyId {
    type Err = InvalidKeyId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if Self::is_valid(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidKeyId(quoted_prefix(s)))
        }
    }
}

impl TryFrom<String> for KeyId {
    type Error = InvalidKeyId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        if Self::is_valid(&s) {
            Ok(Self(s))
        } else {
            Err(InvalidKeyId(quoted_prefix(&s)))
        }
    }
}

impl From<KeyId> for String {
    fn from(id: KeyId) -> String {
        id.0
    }
}

/// What a key is limited to, whoever owns it: the effective permissions
/// are the role's narrowed to the scope. Service users' keys must have one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum KeyScope {
    /// `events:write`: push events into the pipeline, nothing else.
    Events,
    /// `webhook:PLAYBOOK`: call that one playbook's webhook, nothing else.
    Webhook(String),
}

/// The longest playbook id a webhook scope names.
pub const MAX_SCOPE_PLAYBOOK_LEN: usize = 128;

/// Text that is neither `events:write` nor `webhook:PLAYBOOK`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid key scope {0:?} (expected events:write, or webhook:PLAYBOOK with a playbook id \
     of 1 to {MAX_SCOPE_PLAYBOOK_LEN} characters of A-Z a-z 0-9 . _ -)"
)]
pub struct InvalidScope(pub String);

impl fmt::Display for KeyScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyScope::Events => f.write_str("events:write"),
            KeyScope::Webhook(playbook) => write!(f, "webhook:{playbook}"),
        }
    }
}

impl FromStr for KeyScope {
    type Err = InvalidScope;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "events:write" {
            return Ok(KeyScope::Events);
        }
        match s.strip_prefix("webhook:") {
            Some(playbook)
                if !playbook.is_empty()
                    && playbook.len() <= MAX_SCOPE_PLAYBOOK_LEN
                    && playbook
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) =>
            {
                Ok(KeyScope::Webhook(playbook.to_owned()))
            }
            _ => Err(InvalidScope(quoted_prefix(s))),
        }
    }
}

impl TryFrom<String> for KeyScope {
    type Error = InvalidScope;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<KeyScope> for String {
    fn from(scope: KeyScope) -> String {
        scope.to_string()
    }
}

crate::string_enum::string_enum! {
    /// Where a key stands at one instant (see [`ApiKey::state`]).
    KeyState("key state") {
        Active = "active",
        Expired = "expired",
        Revoked = "revoked",
    }
}

/// The stored record of an API key. The key's secret is never stored, only
/// its HMAC, and that is not serialized either: an API listing or a log
/// line of this record cannot leak it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: KeyId,
    pub user: UserId,
    /// Unique per user among keys not revoked.
    pub name: String,
    /// Hex HMAC-SHA256 of the secret under the server secret.
    #[serde(skip_serializing, default)]
    pub hash: String,
    pub scope: Option<KeyScope>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    /// Written at most once a minute per key, not on every request.
    pub last_used_at: Option<Timestamp>,
}

impl ApiKey {
    /// Revoked wins over expired; a key whose expiry is `now` has lapsed.
    pub fn state(&self, now: Timestamp) -> KeyState {
        if self.revoked_at.is_some() {
            KeyState::Revoked
        } else if self.expires_at.is_some_and(|at| at <= now) {
            KeyState::Expired
        } else {
            KeyState::Active
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::{TimeDelta, TimeZone, Utc};

    use super::*;

    fn t0() -> Timestamp {
        Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).unwrap()
    }

    #[test]
    fn roles_have_stable_names() {
        let names: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(
            names,
            ["viewer", "analyst", "responder", "admin", "service"]
        );
        assert_eq!("Responder".parse::<Role>().unwrap(), Role::Responder);
        assert_eq!(
            "root".parse::<Role>().unwrap_err().to_string(),
            "unknown role \"root\" (valid: viewer, analyst, responder, admin, service)"
        );
        assert_eq!(serde_json::to_string(&Role::Admin).unwrap(), "\"admin\"");
    }

    #[test]
    fn user_names_are_1_to_64_safe_characters_without_a_colon() {
        let max = "a".repeat(64);
        for ok in [
            "alice",
            "a",
            "Bob.Smith",
            "svc-ingest_2",
            "ops@example.org",
            &max,
        ] {
            assert_eq!(validate_user_name(ok), Ok(()), "{ok}");
        }
        let long = "a".repeat(65);
        for bad in [
            "",
            "local:root",
            "webhook:x",
            "al ice",
            "é",
            "a\n",
            "a/b",
            &long,
        ] {
            let err = validate_user_name(bad).unwrap_err();
            assert_eq!(err.what, "user name");
            assert_eq!(err.value, bad);
        }
        assert_eq!(
            validate_user_name("local:root").unwrap_err().to_string(),
            "invalid user name \"local:root\": expected 1 to 64 characters of A-Z a-z 0-9 . _ @ -"
        );
        let huge = "x".repeat(10_000);
        assert_eq!(validate_key_name(&huge).unwrap_err().value.len(), 80);
    }

    #[test]
    fn new_users_are_validated_enabled_and_stamped() {
        let user = User::new("alice", Role::Analyst, t0()).unwrap();
        assert_eq!(
            (user.name.as_str(), user.role, user.disabled),
            ("alice", Role::Analyst, false)
        );
        assert_eq!((user.created_at, user.updated_at), (t0(), t0()));
        assert!(User::new("local:alice", Role::Admin, t0()).is_err());
        let json = serde_json::to_string(&user).unwrap();
        assert_eq!(serde_json::from_str::<User>(&json).unwrap(), user);
    }

    #[test]
    fn key_ids_are_16_lowercase_hex_digits() {
        let id = KeyId::from_bytes([0, 1, 0xab, 0xcd, 0xef, 0x10, 0x20, 0xff]);
        assert_eq!(id.as_str(), "0001abcdef1020ff");
        assert_eq!("0001abcdef1020ff".parse::<KeyId>().unwrap(), id);
        for bad in [
            "0001ABCDEF1020FF",
            "0001abcdef1020f",
            "0001abcdef1020ff0",
            "",
            "0001abcdef1020fg",
        ] {
            assert_eq!(bad.parse::<KeyId>(), Err(InvalidKeyId(bad.to_owned())));
        }
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"0001abcdef1020ff\"");
        assert!(serde_json::from_str::<KeyId>("\"xyz\"").is_err());
    }

    #[test]
    fn scopes_display_and_parse_round_trip() {
        let webhook = KeyScope::Webhook("ssh-block_v2.1".into());
        for (scope, text) in [
            (KeyScope::Events, "events:write"),
            (webhook.clone(), "webhook:ssh-block_v2.1"),
        ] {
            assert_eq!(scope.to_string(), text);
            assert_eq!(text.parse::<KeyScope>().unwrap(), scope);
            let json = serde_json::to_string(&scope).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<KeyScope>(&json).unwrap(), scope);
        }
        let long = format!("webhook:{}", "p".repeat(129));
        for bad in [
            "",
            "events",
            "events:read",
            "EVENTS:WRITE",
            "webhook:",
            "webhook:a/b",
            "webhook:a b",
            "webhook:a:b",
            &long,
        ] {
            assert_eq!(
                bad.parse::<KeyScope>(),
                Err(InvalidScope(quoted_prefix(bad)))
            );
        }
        let max = format!("webhook:{}", "p".repeat(128));
        assert!(max.parse::<KeyScope>().is_ok());
    }

    #[test]
    fn key_state_revoked_wins_and_expiry_at_now_has_lapsed() {
        let mut key = ApiKey {
            id: KeyId::from_bytes([1; 8]),
            user: UserId::new(),
            name: "ci".into(),
            hash: "00".repeat(32),
            scope: None,
            created_at: t0(),
            expires_at: Some(t0() + TimeDelta::hours(1)),
            revoked_at: None,
            last_used_at: None,
        };
        assert_eq!(key.state(t0()), KeyState::Active);
        assert_eq!(key.state(t0() + TimeDelta::hours(1)), KeyState::Expired);
        key.revoked_at = Some(t0());
        assert_eq!(key.state(t0()), KeyState::Revoked);
        assert_eq!(key.state(t0() + TimeDelta::hours(2)), KeyState::Revoked);
        key.revoked_at = None;
        key.expires_at = None;
        assert_eq!(key.state(t0() + TimeDelta::days(3650)), KeyState::Active);
    }

    #[test]
    fn the_hash_is_never_serialized() {
        let key = ApiKey {
            id: KeyId::from_bytes([2; 8]),
            user: UserId::new(),
            name: "ci".into(),
            hash: "ab".repeat(32),
            scope: Some(KeyScope::Events),
            created_at: t0(),
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
        };
        let json = serde_json::to_value(&key).unwrap();
        assert_eq!(json.get("hash"), None);
        assert_eq!(json["scope"], "events:write");
        let back: ApiKey = serde_json::from_value(json).unwrap();
        assert_eq!(back.hash, "");
        assert_eq!(back.id, key.id);
    }
}
