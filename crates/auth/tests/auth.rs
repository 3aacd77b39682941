//! Authentication and management against a real (in-memory SQLite) store,
//! and the roles table of docs/security.md against `ROLE_PERMISSIONS`.
//! Time is a fixed base plus offsets: nothing sleeps.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{TimeDelta, TimeZone, Utc};
use riposte_auth::manage::{self, ManageError};
use riposte_auth::{
    AuthError, Authenticator, Identity, Permission, ROLE_PERMISSIONS, ServerSecret, Via,
    generate_key, may,
};
use riposte_model::{ApiKey, KeyScope, KeyState, Role, Timestamp, User};
use riposte_store::{Store, StoreError};

fn t(ms: i64) -> Timestamp {
    Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).unwrap() + TimeDelta::milliseconds(ms)
}

const SECOND: i64 = 1_000;

struct Fixture {
    store: Arc<dyn Store>,
    secret: ServerSecret,
    root: Identity,
    alice: User,
}

async fn fixture() -> Fixture {
    let store = riposte_store::open("sqlite::memory:").await.unwrap();
    let secret = ServerSecret::from_bytes([7; 32]);
    let root = Identity::local("root");
    let alice = manage::add_user(&*store, &root, "alice", Role::Responder, t(0))
        .await
        .unwrap();
    Fixture {
        store,
        secret,
        root,
        alice,
    }
}

impl Fixture {
    async fn key(
        &self,
        name: &str,
        expires: Option<TimeDelta>,
        scope: Option<KeyScope>,
    ) -> (ApiKey, String) {
        manage::create_key(
            &*self.store,
            &self.secret,
            &self.root,
            "alice",
            name,
            expires,
            scope,
            t(0),
        )
        .await
        .unwrap()
    }

    fn auth(&self) -> Authenticator {
        Authenticator::new(self.store.clone(), self.secret.clone())
    }

    async fn stored(&self, key: &ApiKey) -> ApiKey {
        self.store.get_key(&key.id).await.unwrap().unwrap().0
    }
}

#[tokio::test]
async fn a_key_authenticates_as_its_user_narrowed_by_its_scope() {
    let f = fixture().await;
    let (key, text) = f.key("laptop", None, None).await;
    let auth = f.auth();
    let identity = auth.authenticate(&text, t(SECOND)).await.unwrap();
    assert_eq!(
        identity,
        Identity {
            user: "alice".into(),
            user_id: Some(f.alice.id),
            role: Role::Responder,
            via: Via::Key(key.id.clone()),
            scope: None,
        }
    );
    assert_eq!(may(&identity, Permission::DecisionsWrite), Ok(()));
    assert_eq!(
        may(&identity, Permission::UsersManage)
            .unwrap_err()
            .to_string(),
        "alice (responder) lacks permission users:manage"
    );

    let (_, events) = f.key("shipper", None, Some(KeyScope::Events)).await;
    let scoped = auth.authenticate(&events, t(SECOND)).await.unwrap();
    assert_eq!(scoped.scope, Some(KeyScope::Events));
    assert_eq!(
        may(&scoped, Permission::DecisionsWrite)
            .unwrap_err()
            .to_string(),
        "alice (responder, key scope events:write) lacks permission decisions:write"
    );
    // A responder holds no events:write, so its events key does nothing.
    assert!(may(&scoped, Permission::EventsWrite).is_err());
}

#[tokio::test]
async fn wrong_secrets_unknown_ids_and_malformed_keys_are_refused() {
    let f = fixture().await;
    let (key, text) = f.key("laptop", None, None).await;
    let other = generate_key().unwrap().text;
    // The real id with another key's secret.
    let forged = format!("{}{}", &text[..21], &other[21..]);
    let unknown = format!("{}{}", &other[..21], &text[21..]);
    for cache in [true, false] {
        let auth = if cache {
            f.auth()
        } else {
            f.auth().with_cache(TimeDelta::zero(), 0)
        };
        // Warm the cache with the real key first: a cached id still needs
        // its real secret.
        auth.authenticate(&text, t(SECOND)).await.unwrap();
        let err = auth.authenticate(&forged, t(SECOND)).await.unwrap_err();
        assert!(matches!(err, AuthError::Invalid), "{err:?}");
        let err = auth.authenticate(&unknown, t(SECOND)).await.unwrap_err();
        assert!(matches!(err, AuthError::Invalid), "{err:?}");
        for bad in ["", "Bearer x", &text[..63], &format!("{text} ")] {
            let err = auth.authenticate(bad, t(SECOND)).await.unwrap_err();
            assert!(matches!(err, AuthError::Malformed), "{err:?}");
        }
    }
    assert_eq!(
        AuthError::Invalid.to_string(),
        "unknown API key or wrong secret"
    );
    // Under another server secret the stored hash matches nothing.
    let elsewhere = Authenticator::new(f.store.clone(), ServerSecret::from_bytes([8; 32]));
    let err = elsewhere.authenticate(&text, t(SECOND)).await.unwrap_err();
    assert!(matches!(err, AuthError::Invalid), "{err:?}");
    assert_eq!(f.stored(&key).await.hash.len(), 64);
}

#[tokio::test]
async fn a_revoked_key_is_refused_once_the_cache_lifetime_has_passed() {
    let f = fixture().await;
    let (key, text) = f.key("laptop", None, None).await;
    let auth = f.auth();
    auth.authenticate(&text, t(0)).await.unwrap();
    manage::revoke_key(&*f.store, &f.root, &key.id, t(500))
        .await
        .unwrap();
    // Within 2 s of the last check, the cached verdict stands (documented).
    assert_eq!(
        auth.authenticate(&text, t(1_999)).await.unwrap().user,
        "alice"
    );
    let err = auth.authenticate(&text, t(2 * SECOND)).await.unwrap_err();
    assert!(
        matches!(err, AuthError::Revoked(ref id) if *id == key.id),
        "{err:?}"
    );
    assert_eq!(err.to_string(), format!("API key {} is revoked", key.id));

    // `forget` makes it immediate for this process.
    let (key2, text2) = f.key("laptop", None, None).await;
    auth.authenticate(&text2, t(3 * SECOND)).await.unwrap();
    manage::revoke_key(&*f.store, &f.root, &key2.id, t(3 * SECOND))
        .await
        .unwrap();
    auth.forget(&key2.id);
    let err = auth.authenticate(&text2, t(3 * SECOND)).await.unwrap_err();
    assert!(matches!(err, AuthError::Revoked(_)), "{err:?}");
    // Revoking twice is refused, naming the first time.
    let again = manage::revoke_key(&*f.store, &f.root, &key2.id, t(4 * SECOND))
        .await
        .unwrap_err();
    assert!(
        matches!(again, ManageError::AlreadyRevoked(ref id, at) if *id == key2.id && at == t(3 * SECOND)),
        "{again:?}"
    );
}

#[tokio::test]
async fn an_expired_key_is_refused_from_the_cache_too() {
    let f = fixture().await;
    let (key, text) = f.key("ci", Some(TimeDelta::hours(1)), None).await;
    assert_eq!(key.expires_at, Some(t(3_600 * SECOND)));
    let auth = f.auth();
    let just_before = t(3_600 * SECOND - 1);
    auth.authenticate(&text, just_before).await.unwrap();
    // Cached a millisecond ago, but the expiry is checked every time.
    let err = auth
        .authenticate(&text, t(3_600 * SECOND))
        .await
        .unwrap_err();
    assert!(
        matches!(err, AuthError::Expired(ref id, at) if *id == key.id && at == t(3_600 * SECOND)),
        "{err:?}"
    );
    let uncached = f.auth().with_cache(TimeDelta::zero(), 0);
    let err = uncached
        .authenticate(&text, t(7_200 * SECOND))
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::Expired(..)), "{err:?}");
    let listed = manage::list_keys(&*f.store, &f.root, Some("alice"))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state(t(7_200 * SECOND)), KeyState::Expired);
}

#[tokio::test]
async fn a_disabled_users_keys_stop_and_resume() {
    let f = fixture().await;
    let (_, text) = f.key("laptop", None, None).await;
    let auth = f.auth().with_cache(TimeDelta::zero(), 0);
    auth.authenticate(&text, t(0)).await.unwrap();
    let disabled = manage::disable_user(&*f.store, &f.root, "alice", t(SECOND))
        .await
        .unwrap();
    assert!(disabled.disabled);
    let err = auth.authenticate(&text, t(2 * SECOND)).await.unwrap_err();
    assert!(
        matches!(err, AuthError::UserDisabled(ref name) if name == "alice"),
        "{err:?}"
    );
    manage::set_user_disabled(&*f.store, &f.root, "alice", false, t(3 * SECOND))
        .await
        .unwrap();
    assert_eq!(
        auth.authenticate(&text, t(4 * SECOND)).await.unwrap().user,
        "alice"
    );
}

#[tokio::test]
async fn a_role_change_applies_after_the_cache_lifetime() {
    let f = fixture().await;
    let (_, text) = f.key("laptop", None, None).await;
    let auth = f.auth();
    assert_eq!(
        auth.authenticate(&text, t(0)).await.unwrap().role,
        Role::Responder
    );
    manage::set_role(&*f.store, &f.root, "alice", Role::Viewer, t(100))
        .await
        .unwrap();
    assert_eq!(
        auth.authenticate(&text, t(1_000)).await.unwrap().role,
        Role::Responder
    );
    assert_eq!(
        auth.authenticate(&text, t(2_000)).await.unwrap().role,
        Role::Viewer
    );
}

#[tokio::test]
async fn last_use_is_written_at_most_once_a_minute() {
    let f = fixture().await;
    let (key, text) = f.key("laptop", None, None).await;
    for cache in [TimeDelta::seconds(2), TimeDelta::zero()] {
        let auth = f.auth().with_cache(cache, 100);
        let base = if cache.is_zero() { 600 * SECOND } else { 0 };
        for (at, expected) in [
            (0, 0),
            (SECOND, 0),
            (30 * SECOND, 0),
            (59 * SECOND, 0),
            (60 * SECOND, 60 * SECOND),
            (61 * SECOND, 60 * SECOND),
            (125 * SECOND, 125 * SECOND),
        ] {
            auth.authenticate(&text, t(base + at)).await.unwrap();
            assert_eq!(
                f.stored(&key).await.last_used_at,
                Some(t(base + expected)),
                "cache {cache}, at {at}"
            );
        }
    }
}

#[tokio::test]
async fn the_cache_is_bounded() {
    let f = fixture().await;
    let mut texts = Vec::new();
    for name in ["a", "b", "c"] {
        texts.push(f.key(name, None, None).await.1);
    }
    let auth = f.auth().with_cache(TimeDelta::seconds(2), 2);
    for text in &texts {
        auth.authenticate(text, t(0)).await.unwrap();
    }
    // The third found no room and no stale entry, and still got in.
    assert_eq!(auth.cached_keys(), 2);
    // Later, the stale entries make room.
    auth.authenticate(&texts[2], t(5 * SECOND)).await.unwrap();
    assert_eq!(auth.cached_keys(), 1);
}

#[tokio::test]
async fn management_is_audited_with_the_actor_and_never_the_secret() {
    let f = fixture().await;
    let (key, text) = f.key("laptop", Some(TimeDelta::days(30)), None).await;
    manage::revoke_key(&*f.store, &f.root, &key.id, t(2 * SECOND))
        .await
        .unwrap();
    manage::disable_user(&*f.store, &f.root, "alice", t(3 * SECOND))
        .await
        .unwrap();
    // No change, no entry.
    manage::disable_user(&*f.store, &f.root, "alice", t(4 * SECOND))
        .await
        .unwrap();
    manage::set_role(&*f.store, &f.root, "alice", Role::Analyst, t(5 * SECOND))
        .await
        .unwrap();

    let mut log = f.store.list_audit(10).await.unwrap();
    log.reverse();
    let lines: Vec<(String, String, String, serde_json::Value)> = log
        .iter()
        .map(|e| {
            (
                e.actor.to_string(),
                e.action.clone(),
                e.target.clone(),
                e.details.clone(),
            )
        })
        .collect();
    let root = "user:local:root".to_owned();
    let key_target = format!("key:{}", key.id);
    assert_eq!(
        lines,
        [
            (
                root.clone(),
                "user.create".into(),
                "user:alice".into(),
                serde_json::json!({"role": "responder", "via": "local:root"})
            ),
            (
                root.clone(),
                "key.create".into(),
                key_target.clone(),
                serde_json::json!({
                    "user": "alice", "name": "laptop", "scope": null,
                    "expires_at": "2026-04-13T09:00:00Z", "via": "local:root"
                })
            ),
            (
                root.clone(),
                "key.revoke".into(),
                key_target,
                serde_json::json!({"name": "laptop", "via": "local:root"})
            ),
            (
                root.clone(),
                "user.disable".into(),
                "user:alice".into(),
                serde_json::json!({"via": "local:root"})
            ),
            (
                root,
                "user.role".into(),
                "user:alice".into(),
                serde_json::json!({"from": "responder", "to": "analyst", "via": "local:root"})
            ),
        ]
    );
    let dump = serde_json::to_string(&log).unwrap();
    assert!(!dump.contains(&text[21..]));
    assert!(!dump.contains(&f.stored(&key).await.hash));
    assert!(f.store.verify_audit().await.unwrap().is_clean());
}

#[tokio::test]
async fn management_checks_the_actors_permission_and_its_input() {
    let f = fixture().await;
    let viewer = Identity {
        user: "bob".into(),
        user_id: None,
        role: Role::Viewer,
        via: Via::Local {
            os_user: "bob".into(),
        },
        scope: None,
    };
    let err = manage::add_user(&*f.store, &viewer, "carol", Role::Admin, t(0))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "bob (viewer) lacks permission users:manage"
    );
    let err = manage::create_key(
        &*f.store,
        &f.secret,
        &viewer,
        "alice",
        "x",
        None,
        None,
        t(0),
    )
    .await
    .unwrap_err();
    assert_eq!(err.to_string(), "bob (viewer) lacks permission keys:manage");
    assert_eq!(
        f.store.list_users().await.unwrap(),
        std::slice::from_ref(&f.alice)
    );
    assert_eq!(f.store.list_keys(None).await.unwrap(), []);

    let err = manage::add_user(&*f.store, &f.root, "alice", Role::Admin, t(0))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ManageError::Store(StoreError::Conflict(ref m)) if m == "user \"alice\" already exists"),
        "{err:?}"
    );
    let err = manage::add_user(&*f.store, &f.root, "local:x", Role::Admin, t(0))
        .await
        .unwrap_err();
    assert!(matches!(err, ManageError::InvalidName(_)), "{err:?}");

    manage::add_user(&*f.store, &f.root, "shipper", Role::Service, t(0))
        .await
        .unwrap();
    let key = |user: &'static str, name: &'static str, expires, scope| {
        let (store, secret, root) = (f.store.clone(), f.secret.clone(), f.root.clone());
        async move {
            manage::create_key(&*store, &secret, &root, user, name, expires, scope, t(0)).await
        }
    };
    let err = key("shipper", "k", None, None).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "user \"shipper\" has the service role, so its keys need a scope \
         (events:write or webhook:PLAYBOOK)"
    );
    let (shipper_key, text) = key("shipper", "k", None, Some(KeyScope::Events))
        .await
        .unwrap();
    let identity = f.auth().authenticate(&text, t(0)).await.unwrap();
    assert_eq!(identity.role, Role::Service);
    assert_eq!(may(&identity, Permission::EventsWrite), Ok(()));
    assert!(may(&identity, Permission::AlertsRead).is_err());
    let err = key("shipper", "k", None, Some(KeyScope::Events))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ManageError::Store(StoreError::Conflict(_))),
        "{err:?}"
    );
    let err = key("nobody", "k", None, None).await.unwrap_err();
    assert_eq!(err.to_string(), "no user named \"nobody\"");
    let err = key("alice", "bad name", None, None).await.unwrap_err();
    assert!(matches!(err, ManageError::InvalidName(_)), "{err:?}");
    let err = key("alice", "k", Some(TimeDelta::zero()), None)
        .await
        .unwrap_err();
    assert!(matches!(err, ManageError::BadLifetime(_)), "{err:?}");
    let err = manage::list_keys(&*f.store, &f.root, Some("nobody"))
        .await
        .unwrap_err();
    assert!(matches!(err, ManageError::NoSuchUser(_)), "{err:?}");
    assert_eq!(
        manage::list_keys(&*f.store, &f.root, Some("shipper"))
            .await
            .unwrap(),
        // Listed as stored: its use above was recorded.
        [ApiKey {
            last_used_at: Some(t(0)),
            ..shipper_key
        }]
    );
}

/// The roles table in docs/security.md, as (role, permissions) pairs.
fn documented_roles() -> Vec<(Role, BTreeSet<Permission>)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/security.md");
    let text = std::fs::read_to_string(path).unwrap();
    let section = text
        .split("\n## Roles and permissions\n")
        .nth(1)
        .expect("a Roles and permissions section");
    let mut rows = section
        .lines()
        .skip_while(|l| !l.starts_with("| permission |"))
        .take_while(|l| l.starts_with('|'));
    let cells = |line: &str| -> Vec<String> {
        line.trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_owned())
            .collect()
    };
    let header = cells(rows.next().expect("the table header"));
    let roles: Vec<Role> = header[1..].iter().map(|r| r.parse().unwrap()).collect();
    let separator = rows.next().unwrap();
    assert!(separator.starts_with("|---"), "{separator}");
    let mut table: Vec<(Role, BTreeSet<Permission>)> =
        roles.iter().map(|r| (*r, BTreeSet::new())).collect();
    let mut listed = Vec::new();
    for row in rows {
        let cells = cells(row);
        assert_eq!(cells.len(), roles.len() + 1, "{row}");
        let permission: Permission = cells[0].trim_matches('`').parse().unwrap();
        listed.push(permission);
        for (i, mark) in cells[1..].iter().enumerate() {
            match mark.as_str() {
                "✓" => {
                    table[i].1.insert(permission);
                }
                "" => {}
                other => panic!("unexpected mark {other:?} in {row}"),
            }
        }
    }
    // Every permission exactly once, in the code's order.
    assert_eq!(listed, Permission::ALL);
    table
}

#[test]
fn the_roles_table_in_the_docs_is_role_permissions() {
    let code: Vec<(Role, BTreeSet<Permission>)> = ROLE_PERMISSIONS
        .iter()
        .map(|(role, perms)| (*role, perms.iter().copied().collect()))
        .collect();
    assert_eq!(documented_roles(), code);
}
