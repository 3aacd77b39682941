//! Users and API keys for tests that go through the API's authentication:
//! one user per role, each with a fixed key, stored under a fixed server
//! secret. The keys are test fixtures, valid only in stores [`seed`]ed
//! here.

use chrono::Utc;
use riposte_auth::{BearerKey, ServerSecret};
use riposte_model::{ApiKey, KeyScope, Role, User};
use riposte_store::Store;

/// The server secret the fixture keys are hashed under.
pub const SECRET: [u8; 32] = [0x5e; 32];

/// `vera`, a viewer.
pub const VIEWER: &str = "rpk_7e57000000000001_ERERERERERERERERERERERERERERERERERERERERERE";
/// `alice`, an analyst.
pub const ANALYST: &str = "rpk_7e57000000000002_IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiI";
/// `rick`, a responder.
pub const RESPONDER: &str = "rpk_7e57000000000003_MzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzM";
/// `root-admin`, an admin.
pub const ADMIN: &str = "rpk_7e57000000000004_REREREREREREREREREREREREREREREREREREREREREQ";
/// `intake`, a service user whose key is scoped to `events:write`.
pub const INTAKE: &str = "rpk_7e57000000000005_VVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVU";

/// Each fixture user: name, role, key, and the key's scope.
pub const USERS: &[(&str, Role, &str, Option<&str>)] = &[
    ("vera", Role::Viewer, VIEWER, None),
    ("alice", Role::Analyst, ANALYST, None),
    ("rick", Role::Responder, RESPONDER, None),
    ("root-admin", Role::Admin, ADMIN, None),
    ("intake", Role::Service, INTAKE, Some("events:write")),
];

/// The server secret of [`SECRET`].
pub fn secret() -> ServerSecret {
    ServerSecret::from_bytes(SECRET)
}

/// Stores the fixture users and their keys; returns the secret they are
/// hashed under, for the `Authenticator`.
///
/// # Panics
/// When the store refuses them (a test setup error).
pub async fn seed(store: &dyn Store) -> ServerSecret {
    let secret = secret();
    seed_with(store, &secret).await;
    secret
}

/// [`seed`] with the keys hashed under `secret` (a service's own).
///
/// # Panics
/// When the store refuses them (a test setup error).
#[allow(clippy::expect_used)]
pub async fn seed_with(store: &dyn Store, secret: &ServerSecret) {
    let now = Utc::now();
    let mut tx = store.begin().await.expect("begin");
    for (name, role, text, scope) in USERS {
        let user = User::new(name, *role, now).expect("fixture user name");
        tx.insert_user(&user).await.expect("insert fixture user");
        let key = BearerKey::parse(text).expect("fixture key text");
        tx.insert_key(&ApiKey {
            id: key.id.clone(),
            user: user.id,
            name: "test".into(),
            hash: secret.hash(&key),
            scope: scope.map(|s| s.parse::<KeyScope>().expect("fixture scope")),
            created_at: now,
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
        })
        .await
        .expect("insert fixture key");
    }
    tx.commit().await.expect("commit");
}

/// [`seed_with`], unless the fixture users are there already (a restarted
/// service's store).
pub async fn seed_once(store: &dyn Store, secret: &ServerSecret) {
    #[allow(clippy::expect_used)]
    let seeded = store
        .get_user_by_name(USERS[0].0)
        .await
        .expect("looking up a fixture user")
        .is_some();
    if !seeded {
        seed_with(store, secret).await;
    }
}
