//! `riposte users` and `riposte keys`: the people and machines that may use
//! the API, and their keys. The command line acts as the local admin
//! (`local:<os user>` in the audit log); `riposte_auth::manage` checks
//! permissions and writes the audit entries.
//!
//! The first admin is made here, against the store: there is no default
//! user and no password.

use std::collections::HashMap;

use anyhow::{Context, anyhow};
use chrono::TimeDelta;
use clap::Subcommand;
use riposte_auth::{Identity, ServerSecret, manage};
use riposte_model::{ApiKey, Clock, KeyId, KeyScope, Role, Timestamp, User, parse_duration};
use serde::Serialize;

use crate::commands::{StoreArgs, print_json, terminal_safe};

#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// Create an enabled user.
    Add {
        #[command(flatten)]
        store: StoreArgs,
        /// 1 to 64 characters of A-Z a-z 0-9 . _ @ - (unique, ignoring case).
        name: String,
        /// viewer, analyst, responder, admin or service.
        #[arg(long)]
        role: Role,
    },
    /// Every user: name, role, state, created.
    List {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        json: bool,
    },
    /// Disable a user: its keys stop working (within seconds on a running
    /// server). The user and keys stay listed.
    Disable {
        #[command(flatten)]
        store: StoreArgs,
        name: String,
    },
    /// Enable a disabled user again: its unrevoked, unexpired keys work again.
    Enable {
        #[command(flatten)]
        store: StoreArgs,
        name: String,
    },
    /// Give a user another role.
    SetRole {
        #[command(flatten)]
        store: StoreArgs,
        name: String,
        /// viewer, analyst, responder, admin or service.
        role: Role,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Issue an API key and print it once: only its hash is stored.
    Create {
        #[command(flatten)]
        store: StoreArgs,
        /// The user the key authenticates as.
        #[arg(long)]
        user: String,
        /// The key's label, unique among the user's unrevoked keys.
        #[arg(long)]
        name: String,
        /// Lifetime, e.g. 90d or 12h; without it the key lasts until revoked.
        #[arg(long, value_parser = parse_duration)]
        expires: Option<TimeDelta>,
        /// events:write or webhook:PLAYBOOK; required for service users.
        #[arg(long)]
        scope: Option<KeyScope>,
    },
    /// Keys, oldest first, with their state; never the key or its hash.
    List {
        #[command(flatten)]
        store: StoreArgs,
        /// Only this user's keys.
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key for good (it stays listed as revoked).
    Revoke {
        #[command(flatten)]
        store: StoreArgs,
        /// The key's id: the 16 hex digits after `rpk_`.
        id: KeyId,
    },
}

fn ts(t: Timestamp) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Prints rows under a header, each column as wide as its widest cell.
/// Cells can hold names from the store, so each is made terminal-safe.
fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| terminal_safe(c)).collect())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        println!("{out}");
    };
    line(header.to_vec());
    for row in &rows {
        line(row.iter().map(String::as_str).collect());
    }
}

fn user_state(u: &User) -> &'static str {
    if u.disabled { "disabled" } else { "enabled" }
}

/// `riposte users …`: each change goes through `manage`, which audits it.
pub async fn users(cmd: UsersCommand) -> anyhow::Result<()> {
    let by = Identity::local_os_user();
    match cmd {
        UsersCommand::Add { store, name, role } => {
            let ctx = store.open().await?;
            let u = manage::add_user(ctx.store.as_ref(), &by, &name, role, ctx.clock.now()).await?;
            println!("created user {} ({})", terminal_safe(&u.name), u.role);
        }
        UsersCommand::List { store, json } => {
            let ctx = store.open().await?;
            let list = manage::list_users(ctx.store.as_ref(), &by).await?;
            if json {
                return print_json(&list);
            }
            if list.is_empty() {
                println!(
                    "no users (create the first admin with `riposte users add NAME --role admin`)"
                );
                return Ok(());
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|u| {
                    vec![
                        u.name.clone(),
                        u.role.to_string(),
                        user_state(u).to_owned(),
                        ts(u.created_at),
                    ]
                })
                .collect();
            print_table(&["NAME", "ROLE", "STATE", "CREATED"], &rows);
        }
        UsersCommand::Disable { store, name } => set_disabled(store, &name, true, &by).await?,
        UsersCommand::Enable { store, name } => set_disabled(store, &name, false, &by).await?,
        UsersCommand::SetRole { store, name, role } => {
            let ctx = store.open().await?;
            let u = manage::set_role(ctx.store.as_ref(), &by, &name, role, ctx.clock.now()).await?;
            println!("user {}: role {}", terminal_safe(&u.name), u.role);
        }
    }
    Ok(())
}

async fn set_disabled(
    store: StoreArgs,
    name: &str,
    disabled: bool,
    by: &Identity,
) -> anyhow::Result<()> {
    let ctx = store.open().await?;
    let u =
        manage::set_user_disabled(ctx.store.as_ref(), by, name, disabled, ctx.clock.now()).await?;
    println!("user {} is {}", terminal_safe(&u.name), user_state(&u));
    Ok(())
}

/// A key's state at `now`, for listings: revoked wins over expired.
fn key_state(k: &ApiKey, now: Timestamp) -> &'static str {
    if k.revoked_at.is_some() {
        "revoked"
    } else if k.expires_at.is_some_and(|t| t <= now) {
        "expired"
    } else {
        "active"
    }
}

/// A key as listed: everything but its hash, which never leaves the store.
#[derive(Serialize)]
struct KeyView<'a> {
    id: &'a KeyId,
    user: &'a str,
    name: &'a str,
    scope: Option<String>,
    created_at: Timestamp,
    expires_at: Option<Timestamp>,
    revoked_at: Option<Timestamp>,
    last_used_at: Option<Timestamp>,
    state: &'static str,
}

/// `riposte keys …`. `create` loads the server secret (creating it on first
/// use), so the keys it issues verify on every server sharing that file.
pub async fn keys(cmd: KeysCommand) -> anyhow::Result<()> {
    let by = Identity::local_os_user();
    match cmd {
        KeysCommand::Create {
            store,
            user,
            name,
            expires,
            scope,
        } => {
            let ctx = store.open().await?;
            let config = ctx.config.as_ref().ok_or_else(|| {
                anyhow!(
                    "keys create needs --config FILE: keys are hashed with the secret in its auth.secret_file"
                )
            })?;
            let path = &config.auth.secret_file;
            // The secret's directory is normally the data directory:
            // created private (0700) like the store creates it.
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                riposte_store::create_private_dir(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            let secret = ServerSecret::load_or_create(path)?;
            let (key, text) = manage::create_key(
                ctx.store.as_ref(),
                &secret,
                &by,
                &user,
                &name,
                expires,
                scope,
                ctx.clock.now(),
            )
            .await?;
            // The key alone on stdout, so `KEY=$(riposte keys create …)`
            // captures it; what it is goes to stderr.
            println!("{text}");
            let scope = key
                .scope
                .as_ref()
                .map_or_else(|| "no scope".to_owned(), |s| format!("scope {s}"));
            let expires = key.expires_at.map_or_else(
                || "never expires".to_owned(),
                |t| format!("expires {}", ts(t)),
            );
            eprintln!(
                "created key {} ({}) for user {} ({scope}, {expires})",
                key.id,
                terminal_safe(&key.name),
                terminal_safe(&user)
            );
            eprintln!("This key will not be shown again: store it now.");
        }
        KeysCommand::List { store, user, json } => {
            let ctx = store.open().await?;
            let now = ctx.clock.now();
            let list = manage::list_keys(ctx.store.as_ref(), &by, user.as_deref()).await?;
            let users: HashMap<_, _> = manage::list_users(ctx.store.as_ref(), &by)
                .await?
                .into_iter()
                .map(|u| (u.id, u.name))
                .collect();
            let views: Vec<KeyView<'_>> = list
                .iter()
                .map(|k| KeyView {
                    id: &k.id,
                    user: users.get(&k.user).map_or("?", String::as_str),
                    name: &k.name,
                    scope: k.scope.as_ref().map(ToString::to_string),
                    created_at: k.created_at,
                    expires_at: k.expires_at,
                    revoked_at: k.revoked_at,
                    last_used_at: k.last_used_at,
                    state: key_state(k, now),
                })
                .collect();
            if json {
                return print_json(&views);
            }
            if views.is_empty() {
                println!("no keys");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = views
                .iter()
                .map(|k| {
                    vec![
                        k.id.to_string(),
                        k.user.to_owned(),
                        k.name.to_owned(),
                        k.scope.clone().unwrap_or_else(|| "-".to_owned()),
                        ts(k.created_at),
                        k.expires_at.map_or_else(|| "never".to_owned(), ts),
                        k.state.to_owned(),
                    ]
                })
                .collect();
            print_table(
                &["ID", "USER", "NAME", "SCOPE", "CREATED", "EXPIRES", "STATE"],
                &rows,
            );
        }
        KeysCommand::Revoke { store, id } => {
            let ctx = store.open().await?;
            let key = manage::revoke_key(ctx.store.as_ref(), &by, &id, ctx.clock.now()).await?;
            println!("revoked key {} ({})", key.id, terminal_safe(&key.name));
        }
    }
    Ok(())
}
