//! Users and API keys (`0008_identity.sql`). Like [`crate::intel`], the
//! traits are supertraits of [`crate::Store`] and [`crate::Tx`], so every
//! backend implements them and the conformance suite covers them.
//!
//! Users keep their whole record as the body; keys are columns only (the
//! record is small and flat, and the per-request lookup reads it joined
//! with its user in one indexed query). Key timestamps are kept to the
//! millisecond.

use async_trait::async_trait;
use riposte_model::{ApiKey, KeyId, Role, Timestamp, User, UserId};

use crate::Result;
use crate::shared::{FORMAT_VERSION, Val};

/// The reads, and the one write made outside a transaction.
#[async_trait]
pub trait AuthStore {
    async fn get_user(&self, id: UserId) -> Result<Option<User>>;
    /// Exact name (names are unique ignoring case, but looked up as given).
    async fn get_user_by_name(&self, name: &str) -> Result<Option<User>>;
    /// Every user, by name.
    async fn list_users(&self) -> Result<Vec<User>>;
    /// A key with its user: what authenticating a request needs, in one
    /// query by primary key.
    async fn get_key(&self, id: &KeyId) -> Result<Option<(ApiKey, User)>>;
    /// Keys oldest first, revoked and expired ones included; of one user
    /// when given.
    async fn list_keys(&self, user: Option<UserId>) -> Result<Vec<ApiKey>>;
    /// Records a key's use at `at` unless a later one is recorded; returns
    /// whether it changed. Outside a transaction: the authenticator writes
    /// it at most once a minute per key, and it must not queue behind (or
    /// be rolled back with) anything else.
    async fn touch_key(&self, id: &KeyId, at: Timestamp) -> Result<bool>;
}

/// The writes, inside a transaction (with the audit entry that records
/// them).
#[async_trait]
pub trait AuthTx {
    async fn get_user_by_name(&mut self, name: &str) -> Result<Option<User>>;
    /// A name already taken, ignoring ASCII case, is
    /// [`crate::StoreError::Conflict`] naming it.
    async fn insert_user(&mut self, user: &User) -> Result<()>;
    /// Returns the updated user, `None` if there is no such user.
    async fn set_user_disabled(
        &mut self,
        id: UserId,
        disabled: bool,
        at: Timestamp,
    ) -> Result<Option<User>>;
    async fn set_user_role(
        &mut self,
        id: UserId,
        role: Role,
        at: Timestamp,
    ) -> Result<Option<User>>;
    /// A name used by another unrevoked key of the same user is
    /// [`crate::StoreError::Conflict`].
    async fn insert_key(&mut self, key: &ApiKey) -> Result<()>;
    async fn get_key(&mut self, id: &KeyId) -> Result<Option<ApiKey>>;
    /// Marks the key revoked at `at` unless it already is; returns it as
    /// stored afterwards, `None` if there is no such key.
    async fn revoke_key(&mut self, id: &KeyId, at: Timestamp) -> Result<Option<ApiKey>>;
}

pub(crate) const INSERT_USER: &str = "INSERT INTO users \
    (id, name, role, disabled, created_at, updated_at, format_version, body) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
/// Rewrites the whole row from [`user_row`], so body and columns agree.
pub(crate) const UPDATE_USER: &str = "UPDATE users SET name = $2, role = $3, disabled = $4, \
    created_at = $5, updated_at = $6, format_version = $7, body = $8 WHERE id = $1";
pub(crate) const GET_USER: &str = "SELECT format_version, body FROM users WHERE id = $1";
pub(crate) const GET_USER_BY_NAME: &str = "SELECT format_version, body FROM users WHERE name = $1";
pub(crate) const NAME_TAKEN: &str = "SELECT name FROM users WHERE lower(name) = lower($1)";
pub(crate) const LIST_USERS: &str = "SELECT format_version, body FROM users ORDER BY name";

pub(crate) fn user_row(user: &User) -> Result<Vec<Val>> {
    let body = serde_json::to_string(user).map_err(|e| sqlx::Error::Encode(e.into()))?;
    Ok(vec![
        Val::text(user.id),
        Val::text(&user.name),
        Val::text(user.role),
        Val::Int(Some(i64::from(user.disabled))),
        Val::time(user.created_at),
        Val::time(user.updated_at),
        Val::Int(Some(FORMAT_VERSION)),
        Val::Text(Some(body)),
    ])
}

macro_rules! key_columns {
    () => {
        "k.id, k.user_id, k.name, k.hash, k.scope, k.created_at, k.expires_at, k.revoked_at, \
         k.last_used_at"
    };
}

pub(crate) const INSERT_KEY: &str = "INSERT INTO api_keys (id, user_id, name, hash, scope, \
    created_at, expires_at, revoked_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
pub(crate) const KEY_NAME_TAKEN: &str =
    "SELECT id FROM api_keys WHERE user_id = $1 AND name = $2 AND revoked_at IS NULL";
pub(crate) const GET_KEY: &str = concat!(
    "SELECT ",
    key_columns!(),
    " FROM api_keys k WHERE k.id = $1"
);
pub(crate) const GET_KEY_WITH_USER: &str = concat!(
    "SELECT ",
    key_columns!(),
    ", u.format_version, u.body FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.id = $1"
);
pub(crate) const LIST_KEYS: &str = concat!(
    "SELECT ",
    key_columns!(),
    " FROM api_keys k WHERE ($1 IS NULL OR k.user_id = $1) ORDER BY k.created_at, k.id"
);
pub(crate) const REVOKE_KEY: &str =
    "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL";
pub(crate) const TOUCH_KEY: &str = "UPDATE api_keys SET last_used_at = $2 \
    WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)";

pub(crate) fn key_row(key: &ApiKey) -> Vec<Val> {
    let ms = |t: Option<Timestamp>| Val::Int(t.map(|t| t.timestamp_millis()));
    vec![
        Val::text(&key.id),
        Val::text(key.user),
        Val::text(&key.name),
        Val::text(&key.hash),
        Val::Text(key.scope.as_ref().map(ToString::to_string)),
        Val::time(key.created_at),
        ms(key.expires_at),
        ms(key.revoked_at),
        ms(key.last_used_at),
    ]
}

pub(crate) type KeyRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);
pub(crate) type KeyUserRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    i32,
    String,
);

fn bad(what: &str, value: impl std::fmt::Display) -> crate::StoreError {
    sqlx::Error::Decode(format!("stored API key has a bad {what}: {value}").into()).into()
}

fn time(ms: i64) -> Result<Timestamp> {
    chrono::DateTime::from_timestamp_millis(ms).ok_or_else(|| bad("timestamp", ms))
}

pub(crate) fn key(row: KeyRow) -> Result<ApiKey> {
    let (id, user, name, hash, scope, created, expires, revoked, used) = row;
    Ok(ApiKey {
        id: id.parse().map_err(|e| bad("id", e))?,
        user: user.parse().map_err(|e| bad("user id", e))?,
        name,
        hash,
        scope: scope
            .map(|s| s.parse())
            .transpose()
            .map_err(|e| bad("scope", e))?,
        created_at: time(created)?,
        expires_at: expires.map(time).transpose()?,
        revoked_at: revoked.map(time).transpose()?,
        last_used_at: used.map(time).transpose()?,
    })
}

pub(crate) fn key_with_user(row: KeyUserRow) -> Result<(ApiKey, User)> {
    let (id, user, name, hash, scope, created, expires, revoked, used, version, body) = row;
    let key = key((id, user, name, hash, scope, created, expires, revoked, used))?;
    let user: User = crate::shared::decode("user", (version, body))?;
    Ok((key, user))
}

/// The `AuthStore`/`AuthTx` implementations, expanded inside
/// `backend::sql_backend!`'s module so they share its helpers.
macro_rules! auth_impl {
    ($store:ident) => {
        use riposte_model::{ApiKey, KeyId, Role, User, UserId};
        use $crate::auth::{self, AuthStore, AuthTx};

        #[async_trait]
        impl AuthStore for $store {
            async fn get_user(&self, id: UserId) -> Result<Option<User>> {
                fetch_one(&self.pool, "user", auth::GET_USER, vec![Val::text(id)]).await
            }

            async fn get_user_by_name(&self, name: &str) -> Result<Option<User>> {
                let vals = vec![Val::text(name)];
                fetch_one(&self.pool, "user", auth::GET_USER_BY_NAME, vals).await
            }

            async fn list_users(&self) -> Result<Vec<User>> {
                fetch_all(&self.pool, "user", auth::LIST_USERS, Vec::new()).await
            }

            async fn get_key(&self, id: &KeyId) -> Result<Option<(ApiKey, User)>> {
                let row: Option<auth::KeyUserRow> =
                    sqlx::query_as_with(auth::GET_KEY_WITH_USER, args(vec![Val::text(id)])?)
                        .fetch_optional(&self.pool)
                        .await?;
                row.map(auth::key_with_user).transpose()
            }

            async fn list_keys(&self, user: Option<UserId>) -> Result<Vec<ApiKey>> {
                let vals = vec![Val::Text(user.map(|u| u.to_string()))];
                let rows: Vec<auth::KeyRow> = sqlx::query_as_with(auth::LIST_KEYS, args(vals)?)
                    .fetch_all(&self.pool)
                    .await?;
                rows.into_iter().map(auth::key).collect()
            }

            async fn touch_key(&self, id: &KeyId, at: Timestamp) -> Result<bool> {
                let vals = vec![Val::text(id), Val::time(at)];
                Ok(execute_count(&self.pool, auth::TOUCH_KEY, vals).await? > 0)
            }
        }

        /// A unique index that fired although the check before the insert
        /// passed (a writer that does not take the write lock).
        fn conflict(error: sqlx::Error, message: String) -> StoreError {
            match &error {
                sqlx::Error::Database(db) if db.is_unique_violation() => {
                    StoreError::Conflict(message)
                }
                _ => error.into(),
            }
        }

        impl SqlTx {
            async fn user_by_id(&mut self, id: UserId) -> Result<Option<User>> {
                fetch_one(&mut *self.0, "user", auth::GET_USER, vec![Val::text(id)]).await
            }

            async fn rewrite_user(&mut self, user: &User) -> Result<()> {
                execute(&mut *self.0, auth::UPDATE_USER, auth::user_row(user)?).await
            }
        }

        #[async_trait]
        impl AuthTx for SqlTx {
            async fn get_user_by_name(&mut self, name: &str) -> Result<Option<User>> {
                let vals = vec![Val::text(name)];
                fetch_one(&mut *self.0, "user", auth::GET_USER_BY_NAME, vals).await
            }

            async fn insert_user(&mut self, user: &User) -> Result<()> {
                let taken: Option<(String,)> =
                    sqlx::query_as_with(auth::NAME_TAKEN, args(vec![Val::text(&user.name)])?)
                        .fetch_optional(&mut *self.0)
                        .await?;
                let message = |existing: &str| {
                    if existing == user.name {
                        format!("user {:?} already exists", user.name)
                    } else {
                        format!(
                            "user name {:?} is taken by user {existing:?} \
                             (user names are unique, ignoring case)",
                            user.name
                        )
                    }
                };
                if let Some((existing,)) = taken {
                    return Err(StoreError::Conflict(message(&existing)));
                }
                sqlx::query_with(auth::INSERT_USER, args(auth::user_row(user)?)?)
                    .execute(&mut *self.0)
                    .await
                    .map_err(|e| conflict(e, message(&user.name)))?;
                Ok(())
            }

            async fn set_user_disabled(
                &mut self,
                id: UserId,
                disabled: bool,
                at: Timestamp,
            ) -> Result<Option<User>> {
                let Some(mut user) = self.user_by_id(id).await? else {
                    return Ok(None);
                };
                user.disabled = disabled;
                user.updated_at = at;
                self.rewrite_user(&user).await?;
                Ok(Some(user))
            }

            async fn set_user_role(
                &mut self,
                id: UserId,
                role: Role,
                at: Timestamp,
            ) -> Result<Option<User>> {
                let Some(mut user) = self.user_by_id(id).await? else {
                    return Ok(None);
                };
                user.role = role;
                user.updated_at = at;
                self.rewrite_user(&user).await?;
                Ok(Some(user))
            }

            async fn insert_key(&mut self, key: &ApiKey) -> Result<()> {
                let vals = vec![Val::text(key.user), Val::text(&key.name)];
                let taken: Option<(String,)> =
                    sqlx::query_as_with(auth::KEY_NAME_TAKEN, args(vals)?)
                        .fetch_optional(&mut *self.0)
                        .await?;
                let message = |other: &str| {
                    format!(
                        "the user already has an unrevoked key named {:?} ({other})",
                        key.name
                    )
                };
                if let Some((other,)) = taken {
                    return Err(StoreError::Conflict(message(&other)));
                }
                sqlx::query_with(auth::INSERT_KEY, args(auth::key_row(key))?)
                    .execute(&mut *self.0)
                    .await
                    .map_err(|e| conflict(e, message(key.id.as_str())))?;
                Ok(())
            }

            async fn get_key(&mut self, id: &KeyId) -> Result<Option<ApiKey>> {
                let row: Option<auth::KeyRow> =
                    sqlx::query_as_with(auth::GET_KEY, args(vec![Val::text(id)])?)
                        .fetch_optional(&mut *self.0)
                        .await?;
                row.map(auth::key).transpose()
            }

            async fn revoke_key(&mut self, id: &KeyId, at: Timestamp) -> Result<Option<ApiKey>> {
                let vals = vec![Val::text(id), Val::time(at)];
                execute(&mut *self.0, auth::REVOKE_KEY, vals).await?;
                AuthTx::get_key(self, id).await
            }
        }
    };
}

pub(crate) use auth_impl;
