//! What each role may do: one table of data ([`ROLE_PERMISSIONS`]), rendered
//! in docs/security.md (a test compares the two), so that a reviewer reads
//! the whole policy in one place and a change to it shows in one diff.

use std::fmt;
use std::str::FromStr;

use riposte_model::{Role, UnknownName};

macro_rules! permissions {
    ($( $(#[$meta:meta])* $variant:ident = $text:literal ),+ $(,)?) => {
        /// One thing an identity may be allowed to do. The string form is
        /// what a 403 names and what docs/security.md lists.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Permission {
            $( $(#[$meta])* $variant ),+
        }

        impl Permission {
            /// Every permission, in the order of the docs table.
            pub const ALL: &'static [Permission] = &[$(Permission::$variant),+];
            const NAMES: &'static [&'static str] = &[$($text),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Permission::$variant => $text),+
                }
            }
        }
    };
}

permissions! {
    AlertsRead = "alerts:read",
    CasesRead = "cases:read",
    CasesWrite = "cases:write",
    DecisionsRead = "decisions:read",
    /// Make, revoke and extend decisions by hand.
    DecisionsWrite = "decisions:write",
    ReviewRead = "review:read",
    /// Give a verdict on an automated decision.
    ReviewWrite = "review:write",
    ApprovalsRead = "approvals:read",
    ApprovalsAnswer = "approvals:answer",
    RunsRead = "runs:read",
    /// Start, cancel and retry playbook runs (and call any webhook).
    RunsWrite = "runs:write",
    PlaybooksRead = "playbooks:read",
    AuditRead = "audit:read",
    DeadLettersRead = "dead-letters:read",
    IntelRead = "intel:read",
    EnforcersRead = "enforcers:read",
    BreakerRead = "breaker:read",
    /// Re-arm a tripped circuit breaker: automation acts again.
    BreakerReset = "breaker:reset",
    /// The service's version and counts (`GET /api/v1/status`).
    StatusRead = "status:read",
    /// Push events into the pipeline.
    EventsWrite = "events:write",
    UsersManage = "users:manage",
    KeysManage = "keys:manage",
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Permission {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownName {
                what: "permission",
                value: s.to_owned(),
                valid: Self::NAMES,
            })
    }
}

use Permission as P;

/// Every `*:read`.
const READS: [Permission; 13] = [
    P::AlertsRead,
    P::CasesRead,
    P::DecisionsRead,
    P::ReviewRead,
    P::ApprovalsRead,
    P::RunsRead,
    P::PlaybooksRead,
    P::AuditRead,
    P::DeadLettersRead,
    P::IntelRead,
    P::EnforcersRead,
    P::BreakerRead,
    P::StatusRead,
];

/// Concatenates permission lists at compile time, so each role's row says
/// "the role below, plus these" and still is plain data.
const fn join<const N: usize>(a: &[Permission], b: &[Permission]) -> [Permission; N] {
    assert!(a.len() + b.len() == N);
    let mut out = [P::AlertsRead; N];
    let mut i = 0;
    while i < a.len() {
        out[i] = a[i];
        i += 1;
    }
    let mut j = 0;
    while j < b.len() {
        out[i + j] = b[j];
        j += 1;
    }
    out
}

const ANALYST: [Permission; 16] =
    join(&READS, &[P::CasesWrite, P::ReviewWrite, P::ApprovalsAnswer]);
const RESPONDER: [Permission; 18] = join(&ANALYST, &[P::DecisionsWrite, P::RunsWrite]);

/// What each role may do. `service` has nothing by role: a service key's
/// scope is what it may do (see [`crate::may`]). Any key's scope narrows its
/// user's role further.
pub const ROLE_PERMISSIONS: &[(Role, &[Permission])] = &[
    (Role::Viewer, &READS),
    (Role::Analyst, &ANALYST),
    (Role::Responder, &RESPONDER),
    (Role::Admin, Permission::ALL),
    (Role::Service, &[]),
];

/// The permissions `role` grants by itself.
pub fn role_permissions(role: Role) -> &'static [Permission] {
    ROLE_PERMISSIONS
        .iter()
        .find(|(r, _)| *r == role)
        .map_or(&[], |(_, perms)| perms)
}

/// Whether `role` grants `permission` (a scan of at most 22 entries: no
/// allocation, nothing to cache).
pub fn role_allows(role: Role, permission: Permission) -> bool {
    role_permissions(role).contains(&permission)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn names(role: Role) -> Vec<&'static str> {
        role_permissions(role).iter().map(|p| p.as_str()).collect()
    }

    #[test]
    fn each_role_has_exactly_its_permissions() {
        let reads = [
            "alerts:read",
            "cases:read",
            "decisions:read",
            "review:read",
            "approvals:read",
            "runs:read",
            "playbooks:read",
            "audit:read",
            "dead-letters:read",
            "intel:read",
            "enforcers:read",
            "breaker:read",
            "status:read",
        ];
        assert_eq!(names(Role::Viewer), reads);
        let analyst: Vec<&str> = reads
            .iter()
            .copied()
            .chain(["cases:write", "review:write", "approvals:answer"])
            .collect();
        assert_eq!(names(Role::Analyst), analyst);
        let responder: Vec<&str> = analyst
            .iter()
            .copied()
            .chain(["decisions:write", "runs:write"])
            .collect();
        assert_eq!(names(Role::Responder), responder);
        assert_eq!(
            names(Role::Admin),
            [
                "alerts:read",
                "cases:read",
                "cases:write",
                "decisions:read",
                "decisions:write",
                "review:read",
                "review:write",
                "approvals:read",
                "approvals:answer",
                "runs:read",
                "runs:write",
                "playbooks:read",
                "audit:read",
                "dead-letters:read",
                "intel:read",
                "enforcers:read",
                "breaker:read",
                "breaker:reset",
                "status:read",
                "events:write",
                "users:manage",
                "keys:manage",
            ]
        );
        assert_eq!(names(Role::Service), Vec::<&str>::new());
    }

    #[test]
    fn viewer_is_every_read_and_admin_everything() {
        let all_reads: BTreeSet<Permission> = Permission::ALL
            .iter()
            .copied()
            .filter(|p| p.as_str().ends_with(":read"))
            .collect();
        let viewer: BTreeSet<Permission> = role_permissions(Role::Viewer).iter().copied().collect();
        assert_eq!(viewer, all_reads);
        // Every role appears once, and no row lists a permission twice.
        let roles: Vec<Role> = ROLE_PERMISSIONS.iter().map(|(r, _)| *r).collect();
        assert_eq!(roles, Role::ALL);
        for (role, perms) in ROLE_PERMISSIONS {
            let unique: BTreeSet<&Permission> = perms.iter().collect();
            assert_eq!(unique.len(), perms.len(), "{role}");
        }
        // Only admin resets the breaker, pushes events or manages identities.
        for p in [
            P::BreakerReset,
            P::EventsWrite,
            P::UsersManage,
            P::KeysManage,
        ] {
            let holders: Vec<Role> = Role::ALL
                .iter()
                .copied()
                .filter(|r| role_allows(*r, p))
                .collect();
            assert_eq!(holders, [Role::Admin], "{p}");
        }
    }

    #[test]
    fn permission_names_parse_back() {
        for p in Permission::ALL {
            assert_eq!(p.as_str().parse::<Permission>().unwrap(), *p);
        }
        let err = "cases:delete".parse::<Permission>().unwrap_err();
        assert_eq!(err.value, "cases:delete");
        assert_eq!(err.valid.len(), 22);
    }
}
