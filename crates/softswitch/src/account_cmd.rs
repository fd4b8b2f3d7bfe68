//! `softswitch account ...`: manage accounts from the command line (the
//! data directory of the configuration), for a first administrator, a lost
//! password, or scripts. Every change goes to the audit log, as done by
//! the system user who ran the command.

use std::process::ExitCode;

use auth::{NewAccount, Role, Scope};
use chrono::Utc;
use clap::{Args, Subcommand};
use serde_json::json;

use crate::admin_start::{open_accounts, open_audit};
use crate::config::Config;

#[derive(Args)]
pub struct AccountArgs {
    /// Configuration file (its data directory holds the accounts).
    #[arg(long, global = true)]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    cmd: AccountCmd,
}

#[derive(Subcommand)]
enum AccountCmd {
    /// Add an account; prints its temporary password (changed at first login).
    Add {
        id: String,
        #[arg(long)]
        role: Role,
        /// Full name.
        #[arg(long, default_value = "")]
        name: String,
        /// Queues it is limited to, comma-separated (default: all).
        #[arg(long, value_delimiter = ',')]
        queues: Vec<String>,
        /// Grant recordings (client role).
        #[arg(long)]
        recordings: bool,
        /// The ACD agent of an agent account (default: the same id).
        #[arg(long)]
        agent: Option<String>,
    },
    /// List accounts.
    List,
    /// Disable an account (it cannot sign in; its tokens stop).
    Disable {
        id: String,
        #[arg(long, default_value = "disabled by an administrator")]
        reason: String,
    },
    /// Enable a disabled account.
    Enable { id: String },
    /// Remove an account and its tokens.
    Remove { id: String },
    /// A new temporary password; prints it.
    ResetPassword { id: String },
    /// Remove the second factor (it enrols again at next login).
    ResetTotp { id: String },
    /// Make an API token for an account (a wallboard, an export script);
    /// prints it once.
    Token {
        id: String,
        /// What it is for.
        #[arg(long)]
        name: String,
        /// Days before it expires.
        #[arg(long, default_value_t = 90)]
        days: u32,
        /// At most the account's role (default: that role).
        #[arg(long)]
        role: Option<Role>,
    },
    /// Change role, queues, recordings grant.
    SetRole {
        id: String,
        role: Role,
        #[arg(long, value_delimiter = ',')]
        queues: Option<Vec<String>>,
        #[arg(long)]
        recordings: Option<bool>,
    },
}

pub fn run(a: &AccountArgs) -> ExitCode {
    match exec(a) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("softswitch account: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn exec(a: &AccountArgs) -> anyhow::Result<()> {
    let cfg = Config::load(a.config.as_deref())?;
    let store = open_accounts(&cfg)?;
    let audit = open_audit(&cfg)?;
    let who = format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "?".into())
    );
    let record = |action: &str, target: &str, details: serde_json::Value| {
        audit.record(auth::Entry {
            account: who.clone(),
            role: "admin".into(),
            source: "local".into(),
            action: action.into(),
            target: target.into(),
            details,
        });
    };
    let now = Utc::now();
    match &a.cmd {
        AccountCmd::Add {
            id,
            role,
            name,
            queues,
            recordings,
            agent,
        } => {
            let new = NewAccount {
                id: id.clone(),
                name: name.clone(),
                role: *role,
                queues: Scope(queues.clone()),
                recordings: *recordings,
                agent: agent.clone(),
            };
            let (view, temp) = store.add(new, None, &who, now)?;
            record(
                "account.add",
                id,
                json!({ "role": view.role, "queues": view.queues }),
            );
            println!(
                "account {id} ({role}) added; temporary password: {}",
                temp.unwrap_or_default()
            );
            println!("give it to its owner through a separate channel: it must be changed at first login");
        }
        AccountCmd::List => {
            println!(
                "{:<24} {:<11} {:<6} {:<5} {:<20} {:<20} state",
                "id", "role", "2fa", "sso", "queues", "last login"
            );
            for v in store.list() {
                let state = match &v.disabled {
                    Some(d) => format!("disabled ({})", d.reason),
                    None if v.must_change => "temporary password".into(),
                    None => "active".into(),
                };
                println!(
                    "{:<24} {:<11} {:<6} {:<5} {:<20} {:<20} {state}",
                    v.id,
                    v.role.as_str(),
                    if v.totp { "yes" } else { "no" },
                    if v.sso { "yes" } else { "no" },
                    if v.queues.is_all() {
                        "all".to_string()
                    } else {
                        v.queues.0.join(",")
                    },
                    v.last_login_at
                        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                        .unwrap_or_else(|| "never".into()),
                );
            }
        }
        AccountCmd::Disable { id, reason } => {
            store.disable(id, reason, &who, now)?;
            record("account.disable", id, json!({ "reason": reason }));
            println!("account {id} disabled (open sessions end at their next request)");
        }
        AccountCmd::Enable { id } => {
            store.enable(id, now)?;
            record("account.enable", id, json!({}));
            println!("account {id} enabled");
        }
        AccountCmd::Remove { id } => {
            store.remove(id)?;
            record("account.remove", id, json!({}));
            println!("account {id} removed");
        }
        AccountCmd::ResetPassword { id } => {
            let temp = store.reset_password(id, now)?;
            record("account.reset-password", id, json!({}));
            println!("account {id}: temporary password {temp} (to change at next login)");
        }
        AccountCmd::ResetTotp { id } => {
            store.totp_reset(id)?;
            record("account.reset-totp", id, json!({}));
            println!("account {id}: second factor removed; it enrols again at next login");
        }
        AccountCmd::Token {
            id,
            name,
            days,
            role,
        } => {
            let (t, secret) = store.token_create(id, name, *role, *days, now)?;
            record(
                "token.create",
                &t.id,
                json!({ "account": id, "name": t.name, "role": t.role, "expires_at": t.expires_at }),
            );
            println!("{secret}");
            eprintln!(
                "token {} for {id} ({}), expires {}: shown once, keep it in a secret store",
                t.id,
                t.role,
                t.expires_at.format("%Y-%m-%d")
            );
        }
        AccountCmd::SetRole {
            id,
            role,
            queues,
            recordings,
        } => {
            let v = store.set_role(id, *role, queues.clone().map(Scope), *recordings)?;
            record(
                "account.update",
                id,
                json!({ "role": v.role, "queues": v.queues, "recordings": v.recordings }),
            );
            println!("account {id}: role {}", v.role);
        }
    }
    audit.sync()?;
    Ok(())
}
