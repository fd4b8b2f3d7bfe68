//! Starting the admin listener: the account store (and its bootstrap
//! administrator on a first start), the audit log, HTTPS (configured or
//! self-signed certificate), the OpenID Connect provider, and the hourly
//! upkeep (inactive accounts disabled, audit months past retention removed).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use auth::{AccountStore, Audit, Logins, Sessions};
use call::acd::Acd;
use call::CallRegistry;
use cdr::push::PushHandle;
use chrono::Utc;
use ivr::FlowScript;
use serde_json::json;
use sip::Endpoint;
use sla::live::LiveStats;

use crate::auth_config::AdminTls;
use crate::config::{Config, DEFAULT_ADMIN_TOKEN};

/// What the admin API serves from the call records.
pub struct Records {
    /// `var/recordings`.
    pub recordings: PathBuf,
    pub cdr_dir: PathBuf,
    pub live: Arc<LiveStats>,
    pub push: Option<PushHandle>,
    /// SIP digest failures and locks.
    pub sip_auth: Arc<sip::auth::AuthStats>,
    /// Today's calls and figures.
    pub today: Arc<sla::today::Today>,
}

/// The running listener.
pub struct AdminHandle {
    pub addr: SocketAddr,
    pub scheme: &'static str,
    tls: Option<(axum_server::tls_rustls::RustlsConfig, admin::tls::TlsFiles)>,
    audit: Audit,
}

impl AdminHandle {
    /// Read the certificate files again (SIGHUP); the old one stays on error.
    pub fn reload_tls(&self) {
        if let Some((live, files)) = &self.tls {
            match admin::tls::reload(live, files) {
                Ok(()) => {
                    tracing::info!(cert = %files.cert.display(), "admin HTTPS certificate reloaded")
                }
                Err(e) => {
                    tracing::error!(error = %e, "admin HTTPS certificate not reloaded: the running one stays")
                }
            }
        }
    }

    /// Write what is pending of the audit log to disk (shutdown).
    pub fn sync(&self) {
        if let Err(e) = self.audit.sync() {
            tracing::error!(error = %e, "cannot sync the audit log");
        }
    }
}

/// The audit entry of the process itself.
pub fn system_entry(action: &str, target: &str, details: serde_json::Value) -> auth::Entry {
    auth::Entry {
        account: "softswitch".into(),
        role: "system".into(),
        source: "local".into(),
        action: action.into(),
        target: target.into(),
        details,
    }
}

/// Open the account store of a configuration.
pub fn open_accounts(cfg: &Config) -> Result<AccountStore> {
    let dir = cfg.data.dir.join("auth");
    let mut store = AccountStore::open(&dir)
        .with_context(|| format!("opening the accounts in {}", dir.display()))?;
    store.min_password_length = cfg.auth.password_min_length;
    Ok(store)
}

/// Open the audit log of a configuration.
pub fn open_audit(cfg: &Config) -> Result<Audit> {
    let dir = cfg.data.dir.join("audit");
    Audit::open(&dir).with_context(|| format!("opening the audit log in {}", dir.display()))
}

/// A first start: the account `admin`, with the configured password or a
/// random one in `<data>/auth/bootstrap-password` (0600), to change at
/// first login.
fn bootstrap(cfg: &Config, store: &AccountStore, audit: &Audit) -> Result<()> {
    if !store.is_empty() {
        return Ok(());
    }
    let (password, told) = match &cfg.admin.bootstrap_password {
        Some(p) => (
            p.clone(),
            "the configured [admin] bootstrap_password".to_string(),
        ),
        None => {
            let p = auth::store::temporary_password();
            let file = bootstrap_file(cfg);
            write_private(&file, &format!("{p}\n"))
                .with_context(|| format!("writing {}", file.display()))?;
            (p, format!("the temporary password in {}", file.display()))
        }
    };
    store.bootstrap_admin(&password, Utc::now())?;
    audit.record(system_entry(
        "account.add",
        "admin",
        json!({ "role": "admin", "bootstrap": true }),
    ));
    tracing::warn!(
        "first start: account `admin` created; sign in at the console with {told} and change it"
    );
    Ok(())
}

fn bootstrap_file(cfg: &Config) -> PathBuf {
    cfg.data.dir.join("auth").join("bootstrap-password")
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.create(true).write(true).truncate(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)?.write_all(text.as_bytes())
}

/// Bind and serve the admin listener.
pub async fn start_admin(
    cfg: &Arc<Config>,
    script: &Arc<FlowScript>,
    calls: CallRegistry,
    acd: Acd,
    media: Arc<media::stats::MediaStats>,
    sip: &Endpoint,
    records: Records,
) -> Result<AdminHandle> {
    let listen = cfg.admin.listen;
    let strategies = crate::strategies::load(cfg, script)
        .map_err(|errs| anyhow::anyhow!("invalid strategies:\n{}", errs.join("\n")))?;
    if cfg.admin.token.as_deref() == Some(DEFAULT_ADMIN_TOKEN) {
        tracing::warn!("[admin] token is the public bootstrap token of the shipped config (accepted from loopback only): remove it or change it before production");
    }
    let accounts = Arc::new(open_accounts(cfg)?);
    let audit = open_audit(cfg)?;
    bootstrap(cfg, &accounts, &audit)?;
    audit.record(system_entry(
        "softswitch.start",
        "-",
        json!({ "version": env!("CARGO_PKG_VERSION"), "config": cfg.origin }),
    ));
    let (tls, scheme) = match cfg.admin_tls() {
        AdminTls::Plain => (None, "http"),
        AdminTls::Files(files) => {
            let live = admin::tls::rustls_config(&files)
                .map_err(|e| anyhow::anyhow!("{}: admin HTTPS: {e}", cfg.origin))?;
            (Some((live, files)), "https")
        }
        AdminTls::SelfSigned(dir) => {
            let names = vec!["localhost".to_string(), listen.ip().to_string()];
            let (files, made) = admin::tls::self_signed(&dir, &names)
                .map_err(|e| anyhow::anyhow!("admin HTTPS: {e}"))?;
            if made {
                tracing::warn!(cert = %files.cert.display(), "admin HTTPS: self-signed certificate generated; browsers will warn: set [admin] cert_file and key_file");
            } else {
                tracing::warn!(cert = %files.cert.display(), "admin HTTPS uses the self-signed certificate of the data directory: set [admin] cert_file and key_file");
            }
            let live = admin::tls::rustls_config(&files)
                .map_err(|e| anyhow::anyhow!("admin HTTPS: {e}"))?;
            (Some((live, files)), "https")
        }
    };
    let listener = std::net::TcpListener::bind(listen)
        .with_context(|| format!("binding the admin listener on {listen}"))?;
    let addr = listener.local_addr()?;
    let (c, s) = (cfg.clone(), script.clone());
    let au = &cfg.auth;
    let state = Arc::new(admin::AdminState {
        file0: script.file0().clone(),
        calls,
        audit: audit.clone(),
        reload: Box::new(move || crate::run::reload_flows(&c, &s, "admin API")),
        check_flow: {
            let (c, s) = (cfg.clone(), script.clone());
            Box::new(move |path, text| crate::run::check_flow_text(&c, &s, path, text))
        },
        did_flows: cfg
            .trunks
            .iter()
            .flat_map(|t| t.dids.iter().map(|(d, f)| (d.clone(), f.clone())))
            .collect(),
        flows_backup: cfg.data.dir.join("flows"),
        strategies: admin::strategy::Strategies::new(strategies),
        script: script.clone(),
        prompts: script.prompts().clone(),
        acd,
        dids: cfg
            .trunks
            .iter()
            .flat_map(|t| t.dids.keys().cloned())
            .collect(),
        cdr_dir: records.cdr_dir,
        recordings: records.recordings,
        live: records.live,
        media,
        sip: sip.stats.clone(),
        sip_guard: sip.guard.clone(),
        sip_auth: records.sip_auth,
        push: records.push,
        accounts: accounts.clone(),
        sessions: Sessions::new(
            chrono::Duration::minutes(au.session_idle_min.into()),
            chrono::Duration::hours(au.session_max_hours.into()),
        ),
        logins: Logins::new(au.login_policy()),
        sso_pending: Default::default(),
        security: admin::Security {
            tls: tls.is_some(),
            bootstrap_token: cfg.admin.token.clone(),
            metrics_token: cfg.admin.metrics_token.clone(),
            totp_roles: au.totp_roles.clone(),
            oidc: Default::default(),
        },
        today: records.today,
        board: Default::default(),
        timezone: cfg.sla.timezone,
    });
    admin::live::spawn(state.clone());
    if let Some(oc) = au.oidc.clone() {
        tokio::spawn(discover(state.clone(), oc));
    }
    tokio::spawn(upkeep(cfg.clone(), state.clone()));
    tokio::spawn(admin::serve(
        listener,
        tls.as_ref().map(|(l, _)| l.clone()),
        state,
    ));
    tracing::info!(listen = %addr, scheme, "admin listener up");
    Ok(AdminHandle {
        addr,
        scheme,
        tls,
        audit,
    })
}

/// Read the provider's discovery document, retrying every minute until it
/// answers (the console shows no SSO button until then).
async fn discover(st: Arc<admin::AdminState>, cfg: auth::oidc::OidcConfig) {
    loop {
        match auth::oidc::Oidc::discover(cfg.clone()).await {
            Ok(o) => {
                tracing::info!(issuer = %cfg.issuer, "SSO: identity provider ready");
                let _ = st.security.oidc.set(o);
                return;
            }
            Err(e) => tracing::error!(error = %e, "SSO unavailable: retrying in 60 s"),
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
}

/// Every minute: the bootstrap password file goes once `admin` has its
/// own password. Every hour: accounts unused for `inactive_days` are
/// disabled, audit months past retention removed.
async fn upkeep(cfg: Arc<Config>, st: Arc<admin::AdminState>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    let mut n: u64 = 0;
    loop {
        tick.tick().await;
        let file = bootstrap_file(&cfg);
        if file.exists() && st.accounts.get("admin").is_none_or(|a| !a.must_change) {
            match std::fs::remove_file(&file) {
                Ok(()) => {
                    tracing::info!(file = %file.display(), "bootstrap password removed: `admin` has its own now")
                }
                Err(e) => {
                    tracing::warn!(file = %file.display(), error = %e, "cannot remove the bootstrap password file")
                }
            }
        }
        if n.is_multiple_of(60) {
            match st
                .accounts
                .disable_inactive(cfg.auth.inactive_days, Utc::now())
            {
                Ok(ids) => {
                    for id in ids {
                        let closed = st.sessions.close_account(&id);
                        tracing::warn!(account = %id, days = cfg.auth.inactive_days, "account disabled: unused");
                        st.audit.record(system_entry("account.disable", &id, json!({ "reason": format!("unused for {} days", cfg.auth.inactive_days), "sessions_closed": closed })));
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot check unused accounts"),
            }
            let audit = st.audit.clone();
            let months = cfg.auth.audit_retention_months;
            match tokio::task::spawn_blocking(move || audit.purge(months, Utc::now())).await {
                Ok(Ok(removed)) if !removed.is_empty() => {
                    st.audit.record(system_entry(
                        "audit.purge",
                        "-",
                        json!({ "files": removed, "retention_months": months }),
                    ));
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "audit retention: cannot remove old months")
                }
                _ => {}
            }
        }
        n += 1;
    }
}
