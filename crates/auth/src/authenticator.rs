//! Turning a bearer key into an [`Identity`], once per request.
//!
//! The uncached path is one indexed query (the key by its id, joined with
//! its user) and one HMAC. A short positive cache keeps a busy API from
//! costing a query per request: a key that authenticated within the last
//! [`CACHE_TTL`] is checked against the cached hash (still one HMAC, so a
//! wrong secret never passes) and its cached expiry. The price is that
//! revoking a key, disabling its user or changing the role takes up to
//! [`CACHE_TTL`] to reach a server that used it in that window
//! ([`Authenticator::forget`] drops one at once in this process).
//! Failures are not cached: an unknown or wrong key costs a query each
//! time, and the HTTP layer rate-limits failures per source.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::TimeDelta;
use riposte_model::{KeyId, Timestamp};
use riposte_store::{Store, StoreError};

use crate::identity::{Identity, Via};
use crate::key::{BearerKey, ServerSecret, stored_hash};

/// How long a verified key is trusted without asking the store again.
pub const CACHE_TTL: TimeDelta = TimeDelta::seconds(2);
/// Keys cached at most; past it, stale entries are dropped, and if none
/// are stale the new key is simply not cached.
pub const CACHE_CAPACITY: usize = 16_384;
/// `last_used_at` is written at most this often per key.
pub const TOUCH_EVERY: TimeDelta = TimeDelta::minutes(1);

/// Why a key was refused. The HTTP layer answers all but `Store` with the
/// same 401 (the client learns nothing about which check failed) and logs
/// the variant.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("malformed API key")]
    Malformed,
    /// No key has this id, or the secret is not its secret: one variant, so
    /// that even the log does not say which ids exist.
    #[error("unknown API key or wrong secret")]
    Invalid,
    #[error("API key {0} is revoked")]
    Revoked(KeyId),
    #[error("API key {0} expired at {1}")]
    Expired(KeyId, Timestamp),
    #[error("user {0} is disabled")]
    UserDisabled(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

struct Cached {
    hash: [u8; 32],
    identity: Identity,
    expires_at: Option<Timestamp>,
    fetched_at: Timestamp,
    last_used_at: Option<Timestamp>,
}

/// Verifies bearer keys against the store. One per server, shared by every
/// request (it is `Sync`; the cache lock is held for a map lookup only,
/// never across an await).
pub struct Authenticator {
    store: Arc<dyn Store>,
    secret: ServerSecret,
    ttl: TimeDelta,
    capacity: usize,
    cache: Mutex<HashMap<KeyId, Cached>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("ttl", &self.ttl)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    pub fn new(store: Arc<dyn Store>, secret: ServerSecret) -> Self {
        Self {
            store,
            secret,
            ttl: CACHE_TTL,
            capacity: CACHE_CAPACITY,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Another cache lifetime and size; a zero `ttl` or `capacity` turns
    /// the cache off (every request asks the store).
    pub fn with_cache(mut self, ttl: TimeDelta, capacity: usize) -> Self {
        self.ttl = ttl;
        self.capacity = capacity;
        self
    }

    /// Drops a key from the cache, so that a revocation made by this
    /// process applies to its next request.
    pub fn forget(&self, id: &KeyId) {
        self.lock().remove(id);
    }

    /// How many keys are cached (metrics, tests).
    pub fn cached_keys(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<KeyId, Cached>> {
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Checks `bearer` (the text after `Bearer `) at `now`: format, then
    /// the secret, then revoked, expired and disabled, in that order, so
    /// that only the holder of a key's real secret learns its state.
    pub async fn authenticate(&self, bearer: &str, now: Timestamp) -> Result<Identity, AuthError> {
        let key = BearerKey::parse(bearer).map_err(|_| AuthError::Malformed)?;
        match self.cached(&key, now) {
            Some(Ok((identity, touch))) => {
                if touch {
                    self.touch(&key.id, now).await;
                }
                return Ok(identity);
            }
            Some(Err(e)) => return Err(e),
            None => {}
        }

        let Some((stored, user)) = self.store.get_key(&key.id).await? else {
            self.secret.verify_nothing(&key);
            return Err(AuthError::Invalid);
        };
        let hash = stored_hash(&stored.hash);
        if !self.secret.verify(&key, &hash) {
            return Err(AuthError::Invalid);
        }
        if stored.revoked_at.is_some() {
            return Err(AuthError::Revoked(key.id));
        }
        if let Some(at) = stored.expires_at.filter(|at| *at <= now) {
            return Err(AuthError::Expired(key.id, at));
        }
        if user.disabled {
            return Err(AuthError::UserDisabled(user.name));
        }
        let identity = Identity {
            user: user.name,
            user_id: Some(user.id),
            role: user.role,
            via: Via::Key(key.id.clone()),
            scope: stored.scope,
        };
        let touch = stored.last_used_at.is_none_or(|at| now - at >= TOUCH_EVERY);
        self.remember(
            &key.id,
            Cached {
                hash,
                identity: identity.clone(),
                expires_at: stored.expires_at,
                fetched_at: now,
                last_used_at: if touch {
                    Some(now)
                } else {
                    stored.last_used_at
                },
            },
        );
        if touch {
            self.touch(&key.id, now).await;
        }
        Ok(identity)
    }

    /// The cached verdict for `key`, if a fresh entry exists: the identity
    /// and whether `last_used_at` is due (claimed here, so concurrent
    /// requests do not all write it).
    fn cached(
        &self,
        key: &BearerKey,
        now: Timestamp,
    ) -> Option<Result<(Identity, bool), AuthError>> {
        let (hash, identity, expires_at, touch) = {
            let mut cache = self.lock();
            let entry = cache.get_mut(&key.id)?;
            // A clock that stepped back does not extend an entry's life.
            if now < entry.fetched_at || now - entry.fetched_at >= self.ttl {
                return None;
            }
            let touch = entry.last_used_at.is_none_or(|at| now - at >= TOUCH_EVERY);
            if touch {
                entry.last_used_at = Some(now);
            }
            (entry.hash, entry.identity.clone(), entry.expires_at, touch)
        };
        if !self.secret.verify(key, &hash) {
            return Some(Err(AuthError::Invalid));
        }
        if let Some(at) = expires_at.filter(|at| *at <= now) {
            return Some(Err(AuthError::Expired(key.id.clone(), at)));
        }
        Some(Ok((identity, touch)))
    }

    fn remember(&self, id: &KeyId, entry: Cached) {
        if self.ttl <= TimeDelta::zero() || self.capacity == 0 {
            return;
        }
        let mut cache = self.lock();
        if cache.len() >= self.capacity && !cache.contains_key(id) {
            let (now, ttl) = (entry.fetched_at, self.ttl);
            cache.retain(|_, e| e.fetched_at <= now && now - e.fetched_at < ttl);
            if cache.len() >= self.capacity {
                return;
            }
        }
        cache.insert(id.clone(), entry);
    }

    /// A failed write of `last_used_at` does not fail the request: it is a
    /// hint for people pruning keys, not a security control.
    async fn touch(&self, id: &KeyId, now: Timestamp) {
        if let Err(error) = self.store.touch_key(id, now).await {
            tracing::warn!(key = %id, %error, "could not record the key's last use");
        }
    }
}
