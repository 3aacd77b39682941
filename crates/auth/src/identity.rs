//! Who is asking, and the one function that answers whether they may.

use std::fmt;

use riposte_model::{Actor, KeyId, KeyScope, Role, UserId};

use crate::permission::{Permission, role_allows};

/// How an identity was established.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Via {
    /// A bearer API key.
    Key(KeyId),
    /// The command line on this host: whoever can run `riposte` here can
    /// read the database anyway.
    Local { os_user: String },
    /// A playbook webhook's shared secret (not a user at all).
    WebhookSecret(String),
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Via::Key(id) => write!(f, "key:{id}"),
            Via::Local { os_user } => write!(f, "local:{os_user}"),
            Via::WebhookSecret(playbook) => write!(f, "webhook-secret:{playbook}"),
        }
    }
}

/// An authenticated caller: the user (or the name Riposte gives a caller
/// that is not a user), the role its permissions come from, and the key
/// scope that narrows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The user's name; `local:<os user>` for the CLI, `webhook:PLAYBOOK`
    /// for a webhook secret. User names cannot contain ':' so these never
    /// collide with a real user.
    pub user: String,
    /// `None` for identities that are not stored users.
    pub user_id: Option<UserId>,
    pub role: Role,
    pub via: Via,
    pub scope: Option<KeyScope>,
}

impl Identity {
    /// The command line: admin, named after the OS user so the audit log
    /// says who ran it (`local:root`).
    pub fn local(os_user: &str) -> Self {
        let os_user: String = os_user
            .chars()
            .take(64)
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._@-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Self {
            user: format!("local:{os_user}"),
            user_id: None,
            role: Role::Admin,
            via: Via::Local { os_user },
            scope: None,
        }
    }

    /// [`Identity::local`] for the user this process runs as (`$USER`, then
    /// `$LOGNAME`; `unknown` without either). Only a label for the audit
    /// log: the CLI is trusted because it can open the database, not
    /// because of this name.
    pub fn local_os_user() -> Self {
        let name = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".to_owned());
        Self::local(if name.is_empty() { "unknown" } else { &name })
    }

    /// A caller holding a playbook's webhook secret: may call that webhook
    /// and nothing else.
    pub fn webhook_secret(playbook: &str) -> Self {
        Self {
            user: format!("webhook:{playbook}"),
            user_id: None,
            role: Role::Service,
            via: Via::WebhookSecret(playbook.to_owned()),
            scope: Some(KeyScope::Webhook(playbook.to_owned())),
        }
    }

    /// Who the audit log says did it.
    pub fn actor(&self) -> Actor {
        Actor::User {
            name: self.user.clone(),
        }
    }

    /// Whether [`may`] allows `permission`.
    pub fn allows(&self, permission: Permission) -> bool {
        match &self.scope {
            None => role_allows(self.role, permission),
            Some(scope) => {
                scope_allows(scope, permission)
                    && (self.role == Role::Service || role_allows(self.role, permission))
            }
        }
    }

    fn denied(&self, wanted: Wanted) -> Denied {
        Denied {
            user: self.user.clone(),
            role: self.role,
            scope: self.scope.clone(),
            wanted,
        }
    }
}

/// What a scope allows on its own. A webhook scope allows no permission:
/// only its one webhook route ([`may_webhook`]).
fn scope_allows(scope: &KeyScope, permission: Permission) -> bool {
    match scope {
        KeyScope::Events => permission == Permission::EventsWrite,
        KeyScope::Webhook(_) => false,
    }
}

/// What was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Wanted {
    Permission(Permission),
    /// Calling this playbook's webhook.
    Webhook(String),
}

/// A refusal, worded for a 403 body: it names the identity, its role (and
/// scope), and the permission it lacks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denied {
    pub user: String,
    pub role: Role,
    pub scope: Option<KeyScope>,
    pub wanted: Wanted,
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}", self.user, self.role)?;
        if let Some(scope) = &self.scope {
            write!(f, ", key scope {scope}")?;
        }
        match &self.wanted {
            Wanted::Permission(p) => write!(f, ") lacks permission {p}"),
            Wanted::Webhook(playbook) => {
                write!(f, ") may not call the webhook of playbook {playbook:?}")
            }
        }
    }
}

impl std::error::Error for Denied {}

/// The one check every handler makes: the role's permissions, narrowed to
/// the key's scope if it has one (a service key: exactly its scope).
pub fn may(identity: &Identity, permission: Permission) -> Result<(), Denied> {
    if identity.allows(permission) {
        Ok(())
    } else {
        Err(identity.denied(Wanted::Permission(permission)))
    }
}

/// Whether `identity` may call `POST /api/v1/playbooks/<playbook>/webhook`:
/// a `webhook:<playbook>` scope (or webhook secret) allows exactly that
/// playbook's; without a scope, `runs:write` allows any. A webhook scope on
/// a person's key narrows `runs:write` to the one playbook, so it still
/// needs the role to hold it.
pub fn may_webhook(identity: &Identity, playbook: &str) -> Result<(), Denied> {
    let allowed = match &identity.scope {
        None => role_allows(identity.role, Permission::RunsWrite),
        Some(KeyScope::Webhook(scoped)) => {
            scoped == playbook
                && (identity.role == Role::Service
                    || role_allows(identity.role, Permission::RunsWrite))
        }
        Some(KeyScope::Events) => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(identity.denied(Wanted::Webhook(playbook.to_owned())))
    }
}

/// Whether `identity` is one of a step's `approvers`: each entry is a user
/// name (compared ignoring case, as names are unique that way) or
/// `role:ROLE`, which admits that role and every role whose permissions
/// include all of it (`role:analyst` admits responders and admins too). An
/// empty list admits anyone who may answer approvals at all; the caller
/// checks [`Permission::ApprovalsAnswer`] separately.
pub fn may_approve(identity: &Identity, approvers: &[String]) -> bool {
    if approvers.is_empty() {
        return true;
    }
    let mine = crate::permission::role_permissions(identity.role);
    approvers
        .iter()
        .any(|entry| match entry.strip_prefix("role:") {
            Some(role) => role.parse::<Role>().is_ok_and(|wanted| {
                wanted != Role::Service
                    && identity.role != Role::Service
                    && crate::permission::role_permissions(wanted)
                        .iter()
                        .all(|p| mine.contains(p))
            }),
            None => entry.eq_ignore_ascii_case(&identity.user),
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn user(name: &str, role: Role, scope: Option<KeyScope>) -> Identity {
        Identity {
            user: name.to_owned(),
            user_id: Some(UserId::new()),
            role,
            via: Via::Key(KeyId::from_bytes([7; 8])),
            scope,
        }
    }

    fn allowed(identity: &Identity) -> Vec<Permission> {
        Permission::ALL
            .iter()
            .copied()
            .filter(|p| may(identity, *p).is_ok())
            .collect()
    }

    #[test]
    fn approvers_name_users_or_roles() {
        let alice = user("alice", Role::Analyst, None);
        let rick = user("rick", Role::Responder, None);
        let root = user("root-admin", Role::Admin, None);
        let vera = user("vera", Role::Viewer, None);
        let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(may_approve(&alice, &[]));
        assert!(may_approve(&alice, &names(&["Alice"])));
        assert!(!may_approve(&rick, &names(&["alice"])));
        let responders = names(&["role:responder"]);
        assert!(!may_approve(&alice, &responders));
        assert!(may_approve(&rick, &responders));
        assert!(may_approve(&root, &responders));
        assert!(!may_approve(&vera, &names(&["role:analyst"])));
        assert!(may_approve(&vera, &names(&["role:viewer"])));
        // A service identity never matches a role, and role:service nothing.
        let svc = user("svc", Role::Service, None);
        assert!(!may_approve(&svc, &names(&["role:viewer", "role:service"])));
        assert!(!may_approve(
            &root,
            &names(&["role:service", "role:nonsense"])
        ));
        // The CLI is local:<os user>, an admin: roles admit it, names do not.
        let local = Identity::local("root");
        assert!(may_approve(&local, &responders));
        assert!(!may_approve(&local, &names(&["root", "alice"])));
    }

    #[test]
    fn denied_names_the_user_role_and_permission() {
        let alice = user("alice", Role::Viewer, None);
        assert_eq!(may(&alice, Permission::CasesRead), Ok(()));
        let err = may(&alice, Permission::CasesWrite).unwrap_err();
        assert_eq!(
            err.to_string(),
            "alice (viewer) lacks permission cases:write"
        );
        assert_eq!(err.wanted, Wanted::Permission(Permission::CasesWrite));
    }

    #[test]
    fn a_scope_narrows_the_role() {
        // An admin's events key may push events and nothing else.
        let admin_events = user("root-ish", Role::Admin, Some(KeyScope::Events));
        assert_eq!(allowed(&admin_events), [Permission::EventsWrite]);
        assert_eq!(
            may(&admin_events, Permission::UsersManage)
                .unwrap_err()
                .to_string(),
            "root-ish (admin, key scope events:write) lacks permission users:manage"
        );
        // A scope never widens: a viewer's events key may do nothing.
        let viewer_events = user("bob", Role::Viewer, Some(KeyScope::Events));
        assert_eq!(allowed(&viewer_events), []);
        // A service key is exactly its scope.
        let shipper = user("shipper", Role::Service, Some(KeyScope::Events));
        assert_eq!(allowed(&shipper), [Permission::EventsWrite]);
        assert_eq!(allowed(&user("svc", Role::Service, None)), []);
        // A webhook scope allows no permission at all.
        let hook = user("ci", Role::Service, Some(KeyScope::Webhook("pb".into())));
        assert_eq!(allowed(&hook), []);
        let admin_hook = user("ops", Role::Admin, Some(KeyScope::Webhook("pb".into())));
        assert_eq!(allowed(&admin_hook), []);
    }

    #[test]
    fn webhooks_by_scope_or_runs_write() {
        let hook = user(
            "ci",
            Role::Service,
            Some(KeyScope::Webhook("block-ip".into())),
        );
        assert_eq!(may_webhook(&hook, "block-ip"), Ok(()));
        assert_eq!(
            may_webhook(&hook, "other").unwrap_err().to_string(),
            "ci (service, key scope webhook:block-ip) may not call the webhook of playbook \"other\""
        );
        let responder = user("rita", Role::Responder, None);
        assert_eq!(may_webhook(&responder, "anything"), Ok(()));
        let analyst = user("ann", Role::Analyst, None);
        assert!(may_webhook(&analyst, "block-ip").is_err());
        let analyst_hook = user(
            "ann",
            Role::Analyst,
            Some(KeyScope::Webhook("block-ip".into())),
        );
        assert!(may_webhook(&analyst_hook, "block-ip").is_err());
        let responder_hook = user(
            "rita",
            Role::Responder,
            Some(KeyScope::Webhook("block-ip".into())),
        );
        assert_eq!(may_webhook(&responder_hook, "block-ip"), Ok(()));
        assert!(may_webhook(&responder_hook, "other").is_err());
        let events = user("shipper", Role::Service, Some(KeyScope::Events));
        assert!(may_webhook(&events, "block-ip").is_err());
        let secret = Identity::webhook_secret("block-ip");
        assert_eq!(may_webhook(&secret, "block-ip"), Ok(()));
        assert!(may_webhook(&secret, "other").is_err());
        assert_eq!(allowed(&secret), []);
    }

    #[test]
    fn local_is_an_admin_named_after_the_os_user() {
        let local = Identity::local("root");
        assert_eq!(local.user, "local:root");
        assert_eq!(local.role, Role::Admin);
        assert_eq!(local.actor().to_string(), "user:local:root");
        assert_eq!(local.via.to_string(), "local:root");
        assert_eq!(allowed(&local), Permission::ALL);
        // Odd characters in the OS name are replaced, not carried into logs.
        assert_eq!(Identity::local("a b\n:c").user, "local:a_b__c");
    }
}
