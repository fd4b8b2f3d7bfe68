//! Roles, what each may do, and the queues an account is limited to.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An account's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, accounts and the audit log included.
    Admin,
    /// File 0, prompts, flows, agents, monitoring, recordings and call
    /// records of their queues.
    Supervisor,
    /// The client's own supervisors: read-only wallboard and reports,
    /// caller numbers masked, recordings only when granted.
    Client,
    /// An agent: their own state and calls.
    Agent,
}

impl Role {
    /// The four roles, in declaration order (admin first).
    pub const ALL: [Role; 4] = [Role::Admin, Role::Supervisor, Role::Client, Role::Agent];

    /// Lower-case name, as in the configuration, API and audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
            Role::Client => "client",
            Role::Agent => "agent",
        }
    }

    /// French label, for pages and exports.
    pub fn label_fr(self) -> &'static str {
        match self {
            Role::Admin => "administrateur",
            Role::Supervisor => "superviseur",
            Role::Client => "client (lecture seule)",
            Role::Agent => "agent",
        }
    }

    /// May this role do `perm`? `recordings_granted` is the account's grant
    /// of recordings (the client role has none without it).
    pub fn allows(self, perm: Perm, recordings_granted: bool) -> bool {
        use Perm::*;
        match self {
            Role::Admin => true,
            Role::Supervisor => !matches!(perm, Accounts | Audit),
            Role::Client => match perm {
                Recordings => recordings_granted,
                Any | Live | Reports | CallRecords => true,
                _ => false,
            },
            Role::Agent => matches!(perm, Any | OwnAgent),
        }
    }

    /// Is `other` at most as powerful as this role (for tokens an account
    /// makes for itself, and roles an SSO login may claim)?
    pub fn covers(self, other: Role) -> bool {
        match self {
            Role::Admin => true,
            Role::Supervisor => other != Role::Admin,
            Role::Client => other == Role::Client,
            Role::Agent => other == Role::Agent,
        }
    }

    /// Does every caller's number this role sees come masked?
    pub fn masks_numbers(self) -> bool {
        self == Role::Client
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is none of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: expected admin, supervisor, client or agent")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Role, UnknownRole> {
        match s.trim().to_ascii_lowercase().as_str() {
            "admin" => Ok(Role::Admin),
            "supervisor" => Ok(Role::Supervisor),
            "client" => Ok(Role::Client),
            "agent" => Ok(Role::Agent),
            other => Err(UnknownRole(other.to_string())),
        }
    }
}

/// What a route needs. Every route of the API names one (the admin crate
/// keeps the table; its test checks every role against every route).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Perm {
    /// Any signed-in account (health, its own account and tokens).
    Any,
    /// Live figures: queues, agents, the wallboard.
    Live,
    /// KPI reports.
    Reports,
    /// Call records (personal data: caller numbers masked for the client role).
    CallRecords,
    /// Listening to recordings (personal data).
    Recordings,
    /// Reading file 0 activations.
    File0Read,
    /// Switching file 0 on or off.
    File0,
    /// Reading flows and prompts.
    FlowsRead,
    /// Reloading or rolling back flows, uploading prompts.
    Flows,
    /// Acting on any agent of one's queues (pause, log out, qualify...).
    Agents,
    /// An agent acting on themself.
    OwnAgent,
    /// Listening to live calls.
    Monitor,
    /// Managing accounts and other people's tokens.
    Accounts,
    /// Reading and exporting the audit log.
    Audit,
}

/// The queues an account is limited to; empty: every queue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Scope(pub Vec<String>);

impl Scope {
    /// No limit: every queue.
    pub fn all() -> Scope {
        Scope(Vec::new())
    }

    /// Is this the unlimited scope (no queue listed)?
    pub fn is_all(&self) -> bool {
        self.0.is_empty()
    }

    /// May the account see `queue`? Calls with no queue (IVR-only) are
    /// seen only by unscoped accounts.
    pub fn sees(&self, queue: Option<&str>) -> bool {
        self.is_all() || queue.is_some_and(|q| self.0.iter().any(|s| s == q))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_permissions() {
        assert!(Role::Admin.allows(Perm::Audit, false));
        assert!(!Role::Supervisor.allows(Perm::Accounts, false));
        assert!(Role::Supervisor.allows(Perm::Recordings, false));
        assert!(!Role::Client.allows(Perm::Recordings, false));
        assert!(Role::Client.allows(Perm::Recordings, true));
        assert!(!Role::Client.allows(Perm::File0, true));
        assert!(!Role::Agent.allows(Perm::Live, false));
        assert!(Role::Agent.allows(Perm::OwnAgent, false));
        assert!(Role::Supervisor.covers(Role::Client));
        assert!(!Role::Client.covers(Role::Supervisor));
        assert_eq!("Supervisor".parse::<Role>(), Ok(Role::Supervisor));
        let err = "root".parse::<Role>().unwrap_err();
        assert_eq!(err, UnknownRole("root".into()));
        assert!(err.to_string().contains("expected admin"), "{err}");
    }

    #[test]
    fn scopes() {
        assert!(Scope::all().sees(None));
        let s = Scope(vec!["general".into()]);
        assert!(s.sees(Some("general")));
        assert!(!s.sees(Some("expert")));
        assert!(!s.sees(None));
    }
}
