//! Users and keys, as the CLI and the API change them. Each function checks
//! the acting identity's permission itself (so no caller can forget to),
//! makes its change and the audit entry that records it in one transaction,
//! and never puts a secret or a hash in the audit log.

use chrono::{SubsecRound as _, TimeDelta};
use riposte_model::{
    ApiKey, AuditEntry, InvalidName, KeyId, KeyScope, Role, Timestamp, User, validate_key_name,
};
use riposte_store::{Store, StoreError, Tx};
use serde_json::json;

use crate::identity::{Denied, Identity, may};
use crate::key::{NoRandomness, ServerSecret, generate_key};
use crate::permission::Permission;

/// The longest key lifetime, as for every duration in Riposte (100 years).
const MAX_KEY_LIFETIME_DAYS: i64 = 36_500;

/// Why a management call did nothing.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    InvalidName(#[from] InvalidName),
    #[error("no user named {0:?}")]
    NoSuchUser(String),
    #[error("no API key with id {0}")]
    NoSuchKey(KeyId),
    #[error("API key {0} was already revoked at {1}")]
    AlreadyRevoked(KeyId, Timestamp),
    #[error(
        "user {0:?} has the service role, so its keys need a scope \
         (events:write or webhook:PLAYBOOK)"
    )]
    ServiceKeyNeedsScope(String),
    #[error("a key's lifetime must be positive and at most 100 years, not {0}")]
    BadLifetime(TimeDelta),
    #[error(transparent)]
    Random(#[from] NoRandomness),
    /// Includes [`StoreError::Conflict`] for a taken user name or key name.
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type Result<T, E = ManageError> = std::result::Result<T, E>;

/// What every entry carries beyond the actor: how the actor got in.
fn entry(
    by: &Identity,
    at: Timestamp,
    action: &str,
    target: String,
    details: serde_json::Value,
) -> AuditEntry {
    let mut details = details;
    if let Some(map) = details.as_object_mut() {
        map.insert("via".into(), json!(by.via.to_string()));
    }
    AuditEntry::new(at, by.actor(), action, target, "").with_details(details)
}

async fn user_by_name(tx: &mut dyn Tx, name: &str) -> Result<User> {
    tx.get_user_by_name(name)
        .await?
        .ok_or_else(|| ManageError::NoSuchUser(name.to_owned()))
}

/// Creates an enabled user. A name taken (ignoring case) is
/// [`StoreError::Conflict`].
pub async fn add_user(
    store: &dyn Store,
    by: &Identity,
    name: &str,
    role: Role,
    now: Timestamp,
) -> Result<User> {
    may(by, Permission::UsersManage)?;
    let user = User::new(name, role, now)?;
    let mut tx = store.begin().await?;
    tx.insert_user(&user).await?;
    tx.audit(&entry(
        by,
        now,
        "user.create",
        format!("user:{name}"),
        json!({"role": role.as_str()}),
    ))
    .await?;
    tx.commit().await?;
    Ok(user)
}

/// Disables (or re-enables) a user: its keys stop (or resume) working
/// within the authenticator's cache lifetime. No change, no audit entry.
pub async fn set_user_disabled(
    store: &dyn Store,
    by: &Identity,
    name: &str,
    disabled: bool,
    now: Timestamp,
) -> Result<User> {
    may(by, Permission::UsersManage)?;
    let mut tx = store.begin().await?;
    let user = user_by_name(&mut *tx, name).await?;
    if user.disabled == disabled {
        return Ok(user);
    }
    let user = tx
        .set_user_disabled(user.id, disabled, now)
        .await?
        .ok_or_else(|| ManageError::NoSuchUser(name.to_owned()))?;
    let action = if disabled {
        "user.disable"
    } else {
        "user.enable"
    };
    tx.audit(&entry(by, now, action, format!("user:{name}"), json!({})))
        .await?;
    tx.commit().await?;
    Ok(user)
}

/// [`set_user_disabled`] with `true`.
pub async fn disable_user(
    store: &dyn Store,
    by: &Identity,
    name: &str,
    now: Timestamp,
) -> Result<User> {
    set_user_disabled(store, by, name, true, now).await
}

/// Gives a user another role. No change, no audit entry.
pub async fn set_role(
    store: &dyn Store,
    by: &Identity,
    name: &str,
    role: Role,
    now: Timestamp,
) -> Result<User> {
    may(by, Permission::UsersManage)?;
    let mut tx = store.begin().await?;
    let user = user_by_name(&mut *tx, name).await?;
    if user.role == role {
        return Ok(user);
    }
    let was = user.role;
    let user = tx
        .set_user_role(user.id, role, now)
        .await?
        .ok_or_else(|| ManageError::NoSuchUser(name.to_owned()))?;
    tx.audit(&entry(
        by,
        now,
        "user.role",
        format!("user:{name}"),
        json!({"from": was.as_str(), "to": role.as_str()}),
    ))
    .await?;
    tx.commit().await?;
    Ok(user)
}

/// Every user, by name.
pub async fn list_users(store: &dyn Store, by: &Identity) -> Result<Vec<User>> {
    may(by, Permission::UsersManage)?;
    Ok(store.list_users().await?)
}

/// Issues a key for `user_name`. Returns its record and its text, which
/// exists nowhere else afterwards: show it once. `expires`: lifetime from
/// `now` (none: until revoked). A key name already used by another of the
/// user's unrevoked keys is [`StoreError::Conflict`]. Key timestamps are
/// kept to the millisecond (the store's precision), so the returned record
/// equals what is stored.
#[allow(clippy::too_many_arguments)]
pub async fn create_key(
    store: &dyn Store,
    secret: &ServerSecret,
    by: &Identity,
    user_name: &str,
    key_name: &str,
    expires: Option<TimeDelta>,
    scope: Option<KeyScope>,
    now: Timestamp,
) -> Result<(ApiKey, String)> {
    may(by, Permission::KeysManage)?;
    validate_key_name(key_name)?;
    if let Some(d) = expires
        && (d <= TimeDelta::zero() || d > TimeDelta::days(MAX_KEY_LIFETIME_DAYS))
    {
        return Err(ManageError::BadLifetime(d));
    }
    let now = now.trunc_subsecs(3);
    let mut tx = store.begin().await?;
    let user = user_by_name(&mut *tx, user_name).await?;
    if user.role == Role::Service && scope.is_none() {
        return Err(ManageError::ServiceKeyNeedsScope(user.name));
    }
    let new = generate_key()?;
    let key = ApiKey {
        id: new.key.id.clone(),
        user: user.id,
        name: key_name.to_owned(),
        hash: secret.hash(&new.key),
        scope,
        created_at: now,
        expires_at: expires.map(|d| now + d),
        revoked_at: None,
        last_used_at: None,
    };
    tx.insert_key(&key).await?;
    tx.audit(&entry(
        by,
        now,
        "key.create",
        format!("key:{}", key.id),
        json!({
            "user": user.name,
            "name": key.name,
            "scope": key.scope.as_ref().map(ToString::to_string),
            "expires_at": key.expires_at,
        }),
    ))
    .await?;
    tx.commit().await?;
    Ok((key, new.text))
}

/// Keys, oldest first, with their state (revoked and expired ones stay
/// listed); of one user when `user_name` is given.
pub async fn list_keys(
    store: &dyn Store,
    by: &Identity,
    user_name: Option<&str>,
) -> Result<Vec<ApiKey>> {
    may(by, Permission::KeysManage)?;
    let user = match user_name {
        Some(name) => Some(
            store
                .get_user_by_name(name)
                .await?
                .ok_or_else(|| ManageError::NoSuchUser(name.to_owned()))?
                .id,
        ),
        None => None,
    };
    Ok(store.list_keys(user).await?)
}

/// Revokes a key for good. It stays listed (and named by the audit log);
/// servers that used it in the last `CACHE_TTL` accept it until then.
pub async fn revoke_key(
    store: &dyn Store,
    by: &Identity,
    id: &KeyId,
    now: Timestamp,
) -> Result<ApiKey> {
    may(by, Permission::KeysManage)?;
    let now = now.trunc_subsecs(3);
    let mut tx = store.begin().await?;
    let key = tx
        .get_key(id)
        .await?
        .ok_or_else(|| ManageError::NoSuchKey(id.clone()))?;
    if let Some(at) = key.revoked_at {
        return Err(ManageError::AlreadyRevoked(id.clone(), at));
    }
    let key = tx
        .revoke_key(id, now)
        .await?
        .ok_or_else(|| ManageError::NoSuchKey(id.clone()))?;
    tx.audit(&entry(
        by,
        now,
        "key.revoke",
        format!("key:{id}"),
        json!({"name": key.name}),
    ))
    .await?;
    tx.commit().await?;
    Ok(key)
}
