//! Configuration file: TOML, every error reported as `file:line: message`.
//! Relative paths (data, prompts) are taken from the working directory, as
//! for any daemon started from its install directory.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use call::TrunkConfig;
use cdr::FsyncPolicy;
use media::codec::Codec;
use serde::{Deserialize, Deserializer};

/// The default configuration, built into the binary.
pub const EMBEDDED_DEFAULT: &str = include_str!("../../../configs/default.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub sip: SipConfig,
    pub media: MediaSection,
    #[serde(default)]
    pub calls: CallsSection,
    #[serde(default)]
    pub data: DataSection,
    #[serde(default)]
    pub cdr: CdrSection,
    #[serde(default)]
    pub prompts: PromptsSection,
    #[serde(default)]
    pub flows: FlowsSection,
    pub admin: AdminSection,
    #[serde(default)]
    pub auth: crate::auth_config::AuthSection,
    #[serde(default)]
    pub trunks: Vec<TrunkConfig>,
    /// ACD queues (`[[queues]]`).
    #[serde(default)]
    pub queues: Vec<acd::QueueConfig>,
    /// Agents: phones that register, or reached at a static URI (`[[agents]]`).
    #[serde(default)]
    pub agents: Vec<AgentEntry>,
    #[serde(default)]
    pub sla: sla::SlaConfig,
    /// Crisis strategies prepared in advance (`[[strategies]]`).
    #[serde(default)]
    pub strategies: Vec<crate::strategies::StrategyConfig>,
    /// Where this configuration came from (for messages).
    #[serde(skip)]
    pub origin: String,
    /// Its text (to point at lines in later checks).
    #[serde(skip)]
    pub text: String,
    /// Agents' secrets read from `[sip] secrets_file`.
    #[serde(skip)]
    pub secrets: crate::secrets::SecretsFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipConfig {
    #[serde(default)]
    pub udp: Vec<SocketAddr>,
    #[serde(default)]
    pub tcp: Vec<SocketAddr>,
    /// SIP over TLS listeners (TLS 1.2 and 1.3 only).
    #[serde(default)]
    pub tls: Vec<SocketAddr>,
    /// SIP over WebSocket listeners (RFC 7118, `ws://`): browsers' phones.
    #[serde(default)]
    pub ws: Vec<SocketAddr>,
    /// SIP over secure WebSocket listeners (`wss://`), with the TLS
    /// listeners' certificate.
    #[serde(default)]
    pub wss: Vec<SocketAddr>,
    /// Their certificate chain and key (PEM); neither: a self-signed
    /// certificate made in <data>/tls/ at first start, with a warning.
    #[serde(default)]
    pub tls_cert_file: Option<PathBuf>,
    #[serde(default)]
    pub tls_key_file: Option<PathBuf>,
    /// Authorities trusted, beyond the system's, for TLS connections we
    /// open (calls out, requests to phones whose connection closed).
    #[serde(default)]
    pub tls_ca_files: Vec<PathBuf>,
    /// TCP and TLS connections at once from one source address.
    #[serde(default = "default_max_connections_per_source")]
    pub max_connections_per_source: u32,
    /// Digest realm for trunks with credentials.
    #[serde(default = "default_realm")]
    pub realm: String,
    #[serde(default = "default_t1")]
    pub t1_ms: u64,
    /// Messages read but not yet taken by the transaction layer beyond
    /// which new requests get a stateless 503 (work under way still goes
    /// through). 0 = no bound.
    #[serde(default = "default_max_backlog")]
    pub max_backlog: usize,
    /// Digest failures allowed from one source address with no delay;
    /// then 1, 2, 4... times `auth_delay_ms` between tries (503 meanwhile).
    #[serde(default = "default_source_free")]
    pub auth_source_free: u32,
    /// At this many failures in a row a source is locked `auth_lock_s`.
    #[serde(default = "default_source_lock_after")]
    pub auth_source_lock_after: u32,
    /// The same per account (user name), from whatever source.
    #[serde(default = "default_account_free")]
    pub auth_account_free: u32,
    #[serde(default = "default_account_lock_after")]
    pub auth_account_lock_after: u32,
    #[serde(default = "default_auth_lock_s")]
    pub auth_lock_s: u64,
    /// First delay past the free failures (doubled at each further one, at
    /// most 60 s); 0: none, straight on to the lock.
    #[serde(default = "default_auth_delay_ms")]
    pub auth_delay_ms: u64,
    /// How long a digest nonce is good for (then `stale=true`).
    #[serde(default = "default_nonce_ttl_s")]
    pub nonce_ttl_s: u64,
    /// Agents' secrets outside this file (TOML, `agent1 = { ha1 = "..." }`
    /// or `{ password = "..." }`); it must not be readable by all users.
    #[serde(default)]
    pub secrets_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaSection {
    pub ip: IpAddr,
    pub port_min: u16,
    pub port_max: u16,
    #[serde(default)]
    pub workers: usize,
    /// Hang up when the caller's RTP stops this long (0 = never).
    #[serde(default = "default_rtp_timeout")]
    pub rtp_timeout_s: u64,
    /// Scheduling of the media workers: realtime, high (nice -10) or normal.
    #[serde(default)]
    pub priority: media::priority::Priority,
    /// A worker busier than this share of its time (or whose sending
    /// wavers by over 2 ms from tick to tick) takes no new calls: they get
    /// 503 while the calls in progress keep clean audio. 100 = on wavering
    /// only; 0 = never.
    #[serde(default = "default_busy_percent")]
    pub busy_percent: u32,
    #[serde(default = "default_codecs", deserialize_with = "codecs")]
    pub codecs: Vec<Codec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallsSection {
    #[serde(default = "default_max_calls")]
    pub max_calls: usize,
    #[serde(default = "default_retry_after")]
    pub retry_after_s: u32,
    /// New calls admitted per second (a second's worth may come at once);
    /// beyond, 503 with Retry-After. 0 = no limit.
    #[serde(default = "default_max_cps")]
    pub max_cps: u32,
    /// On SIGTERM, how long calls may go on before they are hung up.
    #[serde(default = "default_drain")]
    pub drain_timeout_s: u64,
}

impl Default for CallsSection {
    fn default() -> Self {
        CallsSection {
            max_calls: default_max_calls(),
            retry_after_s: default_retry_after(),
            max_cps: default_max_cps(),
            drain_timeout_s: default_drain(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    #[serde(default = "default_data_dir")]
    pub dir: PathBuf,
    #[serde(default = "default_fsync")]
    pub cdr_fsync: FsyncPolicy,
}

impl Default for DataSection {
    fn default() -> Self {
        DataSection {
            dir: default_data_dir(),
            cdr_fsync: default_fsync(),
        }
    }
}

/// How call records are completed and exported.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CdrSection {
    /// A caller who leaves a queue sooner than this is a short abandon.
    #[serde(default = "default_short_abandon_s")]
    pub short_abandon_s: u64,
    /// Caller numbers used for tests: flagged `test_number`, left out of
    /// statistics. Written as they arrive (e.g. `+33612345678`).
    #[serde(default)]
    pub test_numbers: Vec<String>,
    /// The rolling window of `/metrics` (service level, abandon rate).
    #[serde(default = "default_live_window_s")]
    pub live_window_s: u64,
    /// "Answered within" threshold of the rolling service level.
    #[serde(default = "default_live_service_level_s")]
    pub live_service_level_s: u64,
    /// `[cdr.push]`: batches of records POSTed to an SLA engine.
    #[serde(default)]
    pub push: Option<cdr::push::PushConfig>,
}

impl Default for CdrSection {
    fn default() -> Self {
        CdrSection {
            short_abandon_s: default_short_abandon_s(),
            test_numbers: Vec::new(),
            live_window_s: default_live_window_s(),
            live_service_level_s: default_live_service_level_s(),
            push: None,
        }
    }
}

fn default_live_window_s() -> u64 {
    1800
}

fn default_live_service_level_s() -> u64 {
    60
}

impl CdrSection {
    pub fn fold_options(&self) -> cdr::FoldOptions {
        cdr::FoldOptions {
            test_numbers: self.test_numbers.iter().cloned().collect(),
            short_abandon_ms: self.short_abandon_s * 1000,
        }
    }
}

fn default_short_abandon_s() -> u64 {
    5
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptsSection {
    #[serde(default = "default_prompts_dir")]
    pub dir: PathBuf,
}

impl Default for PromptsSection {
    fn default() -> Self {
        PromptsSection {
            dir: default_prompts_dir(),
        }
    }
}

/// The token the shipped configuration carries (a startup warning says so).
pub const DEFAULT_ADMIN_TOKEN: &str = "change-me-admin-token";

/// The admin listener (API, console, metrics).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSection {
    pub listen: SocketAddr,
    /// The bootstrap token: admin rights over the API, from loopback
    /// addresses only (personal API tokens are for everything else).
    #[serde(default)]
    pub token: Option<String>,
    /// Serve plain HTTP: loopback only, and only when said here.
    #[serde(default)]
    pub plain_http: bool,
    /// HTTPS certificate chain and key (PEM); neither: a self-signed
    /// certificate made in <data>/tls/ at first start.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// `/metrics` needs `Authorization: Bearer` this, when set.
    #[serde(default)]
    pub metrics_token: Option<String>,
    /// The first start makes the account `admin` with this password, to
    /// change at first login; absent: a random one written to
    /// <data>/auth/bootstrap-password (mode 0600).
    #[serde(default)]
    pub bootstrap_password: Option<String>,
}

/// One agent: how its phone is reached (SIP digest credentials to
/// REGISTER, and/or a static URI), skills for routing.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentEntry {
    /// SIP user of the phone and the agent's id in the API.
    pub id: String,
    /// Digest password of the phone's REGISTER.
    #[serde(default)]
    pub password: Option<String>,
    /// Or its HA1, `MD5(id:realm:password)` in hex (`softswitch ha1`), so
    /// that no clear password is written here.
    #[serde(default)]
    pub ha1: Option<String>,
    /// A static `sip:user@IP[:port]` URI (UDP, port 5060 by default): the
    /// phone is rung there without registering. With a password as well,
    /// a registration takes precedence while it lasts.
    #[serde(default)]
    pub uri: Option<String>,
    /// Skill name = level 1-10.
    #[serde(default)]
    pub skills: std::collections::BTreeMap<String, u8>,
    /// Logged in at start (offered calls once the phone registers).
    #[serde(default = "default_true")]
    pub logged_in: bool,
}

/// Where the IVR flows are.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowsSection {
    #[serde(default = "default_flows_dir")]
    pub dir: PathBuf,
    /// A PEM certificate authority `http` nodes trust for `https://` URLs
    /// besides the public web roots (an internal CA).
    #[serde(default)]
    pub http_ca_file: Option<PathBuf>,
    /// Test numbers (DIDs of a trunk): a flow version put under test from
    /// the console serves these first, then is promoted to every number.
    #[serde(default)]
    pub test_dids: Vec<String>,
}

impl Default for FlowsSection {
    fn default() -> Self {
        FlowsSection {
            dir: default_flows_dir(),
            http_ca_file: None,
            test_dids: Vec::new(),
        }
    }
}

fn default_true() -> bool {
    true
}
fn default_realm() -> String {
    "softswitch".into()
}
fn default_t1() -> u64 {
    500
}
fn default_rtp_timeout() -> u64 {
    60
}
fn default_codecs() -> Vec<Codec> {
    vec![Codec::Pcmu, Codec::Pcma]
}
fn default_max_calls() -> usize {
    20_000
}
fn default_retry_after() -> u32 {
    5
}
fn default_max_connections_per_source() -> u32 {
    sip::StreamLimits::default().per_source
}
fn default_max_backlog() -> usize {
    5_000
}
fn default_source_free() -> u32 {
    5
}
fn default_source_lock_after() -> u32 {
    10
}
fn default_account_free() -> u32 {
    20
}
fn default_account_lock_after() -> u32 {
    40
}
fn default_auth_lock_s() -> u64 {
    900
}
fn default_auth_delay_ms() -> u64 {
    1000
}
fn default_nonce_ttl_s() -> u64 {
    300
}
fn default_max_cps() -> u32 {
    2_000
}
fn default_busy_percent() -> u32 {
    75
}
fn default_drain() -> u64 {
    30
}
fn default_data_dir() -> PathBuf {
    "var".into()
}
fn default_fsync() -> FsyncPolicy {
    FsyncPolicy::Interval(200)
}
fn default_prompts_dir() -> PathBuf {
    "prompts".into()
}
fn default_flows_dir() -> PathBuf {
    "ivr-flows".into()
}

fn codecs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Codec>, D::Error> {
    let names = Vec::<String>::deserialize(d)?;
    names
        .iter()
        .map(|n| {
            Codec::from_name(n).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "unknown codec {n:?}: expected \"PCMU\" or \"PCMA\""
                ))
            })
        })
        .collect()
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Line where a quoted value is first written (comments left out).
pub(crate) fn line_of_value(text: &str, value: &str) -> Option<usize> {
    let quoted = format!("\"{value}\"");
    text.lines()
        .position(|l| !l.trim_start().starts_with('#') && l.contains(&quoted))
        .map(|i| i + 1)
}

/// Line where `key = ` is first written (for checks serde cannot do).
pub(crate) fn line_of_key(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.strip_prefix(key)
                .is_some_and(|r| r.trim_start().starts_with('='))
        })
        .map_or(1, |i| i + 1)
}

impl Config {
    /// Parse configuration text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config> {
        let mut cfg: Config = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |s| line_of(text, s.start));
            anyhow::anyhow!("{origin}:{line}: {}", e.message().trim())
        })?;
        cfg.origin = origin.to_string();
        cfg.text = text.to_string();
        cfg.secrets = crate::secrets::SecretsFile::load(&cfg)?;
        cfg.validate(text)?;
        Ok(cfg)
    }

    /// Load `path`, or the embedded default when `path` is the default
    /// location and no such file exists.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let default = Path::new("configs/default.toml");
        let path = path.unwrap_or(default);
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let cfg = Config::parse(&text, &path.display().to_string())?;
                cfg.refuse_readable_clear_passwords(path)?;
                Ok(cfg)
            }
            Err(e) if path == default && e.kind() == std::io::ErrorKind::NotFound => {
                Config::parse(EMBEDDED_DEFAULT, "<embedded configs/default.toml>")
            }
            Err(e) => bail!("{}: cannot read: {e}", path.display()),
        }
    }

    /// Line where a DID is written (for errors about it).
    pub fn line_of_did(&self, did: &str) -> usize {
        let quoted = format!("\"{did}\"");
        self.text
            .lines()
            .position(|l| l.contains(&quoted))
            .map_or(1, |i| i + 1)
    }

    /// The configured queues' names (what flows may hand calls to).
    pub fn queue_names(&self) -> Vec<String> {
        self.queues.iter().map(|q| q.name.clone()).collect()
    }

    /// Queues and agents as the ACD router takes them.
    pub fn acd(&self) -> acd::AcdConfig {
        acd::AcdConfig {
            queues: self.queues.clone(),
            agents: self
                .agents
                .iter()
                .map(|a| acd::AgentConfig {
                    id: a.id.clone(),
                    skills: a.skills.clone(),
                    logged_in: a.logged_in,
                })
                .collect(),
        }
    }

    /// Agent id -> static URI, for the registrar (agents with one; checked
    /// at load).
    pub fn agent_static_uris(&self) -> std::collections::HashMap<String, call::StaticUri> {
        self.agents
            .iter()
            .filter_map(|a| Some((a.id.clone(), call::StaticUri::parse(a.uri.as_deref()?)?)))
            .collect()
    }

    /// Check queues and agents with the router's own rules; the error
    /// points at the line naming what is wrong.
    fn validate_acd(&self, text: &str) -> Result<()> {
        let o = &self.origin;
        for a in &self.agents {
            let line = line_of_value(text, &a.id).unwrap_or(1);
            let secret = a.password.is_some() || a.ha1.is_some() || self.secrets.has(&a.id);
            match (secret, &a.uri) {
                (false, None) => bail!(
                    "{o}:{line}: agent {:?} needs a `password` (its phone registers) or a `uri` (its phone is reached there, e.g. sip:{}@10.0.0.5:5060), or both; instead of `password`, its `ha1` or an entry in [sip] secrets_file will do",
                    a.id,
                    a.id
                ),
                _ if a.password.as_deref() == Some("") => {
                    bail!("{o}:{line}: agent {:?} needs a non-empty password", a.id)
                }
                _ => {}
            }
            if let Some(uri) = &a.uri {
                if call::StaticUri::parse(uri).is_none() {
                    let line = line_of_value(text, uri).unwrap_or(line);
                    bail!(
                        "{o}:{line}: agent {:?}: uri {uri:?} must be a sip: URI with an IP address host and an optional port, over UDP, e.g. sip:{}@10.0.0.5:5060",
                        a.id,
                        a.id
                    );
                }
            }
        }
        for q in &self.queues {
            let Some(trunk) = &q.transfer_trunk else {
                continue;
            };
            let line = line_of_value(text, trunk).unwrap_or(1);
            match self.trunks.iter().find(|t| &t.name == trunk) {
                None => bail!(
                    "{o}:{line}: queue {:?}: transfer_trunk {trunk:?} is not a trunk of this file",
                    q.name
                ),
                Some(t) if t.outbound_proxy.is_none() => bail!(
                    "{o}:{line}: queue {:?}: transfer_trunk {trunk:?} has no `outbound_proxy`: it cannot call out",
                    q.name
                ),
                Some(_) => {}
            }
            if q.transfer_prefixes.is_empty() {
                bail!(
                    "{o}:{line}: queue {:?}: transfer_trunk needs `transfer_prefixes` (the numbers agents may transfer to, e.g. [\"01\", \"02\"])",
                    q.name
                );
            }
        }
        if let Err(e) = acd::Router::new(self.acd()) {
            let msg = e.to_string();
            let line = msg
                .split('"')
                .nth(1)
                .and_then(|name| line_of_value(text, name))
                .unwrap_or_else(|| line_of_key(text, "[[queues]]"));
            bail!("{o}:{line}: {msg}");
        }
        Ok(())
    }

    fn validate(&self, text: &str) -> Result<()> {
        let o = &self.origin;
        if self.sip.udp.is_empty()
            && self.sip.tcp.is_empty()
            && self.sip.tls.is_empty()
            && self.sip.ws.is_empty()
            && self.sip.wss.is_empty()
        {
            bail!(
                "{o}:{}: [sip] needs at least one `udp`, `tcp`, `tls`, `ws` or `wss` address",
                line_of_key(text, "[sip]").max(1)
            );
        }
        if self.sip.tls_cert_file.is_some() != self.sip.tls_key_file.is_some() {
            bail!(
                "{o}:{}: [sip] tls_cert_file and tls_key_file go together (both PEM files), or neither for a self-signed certificate",
                line_of_key(text, "tls_cert_file").max(line_of_key(text, "tls_key_file"))
            );
        }
        if self.sip.max_connections_per_source == 0 {
            bail!(
                "{o}:{}: [sip] max_connections_per_source must be 1 or more",
                line_of_key(text, "max_connections_per_source")
            );
        }
        if self.media.port_max <= self.media.port_min + 2 {
            bail!(
                "{o}:{}: media.port_max ({}) must be above port_min ({}) by at least 2",
                line_of_key(text, "port_max"),
                self.media.port_max,
                self.media.port_min
            );
        }
        if self.media.busy_percent > 100 {
            bail!(
                "{o}:{}: media.busy_percent ({}) must be 1 to 100, or 0 (never refuse calls for media load)",
                line_of_key(text, "busy_percent"),
                self.media.busy_percent
            );
        }
        if self.media.ip.is_unspecified() {
            bail!(
                "{o}:{}: media.ip must be the address callers send RTP to, not {}",
                line_of_key(text, "ip"),
                self.media.ip
            );
        }
        crate::auth_config::validate(self, text)?;
        let mut names = std::collections::HashSet::new();
        for t in &self.trunks {
            if !names.insert(&t.name) {
                bail!(
                    "{o}:{}: trunk name {:?} used twice",
                    line_of_key(text, "name"),
                    t.name
                );
            }
            let mutual = !t.tls_client_ca_files.is_empty();
            if t.allow.is_empty() && t.username.is_none() && !mutual && t.outbound_proxy.is_none() {
                bail!(
                    "{o}: trunk {:?} accepts nobody and calls nowhere: give `allow` networks, `username`/`password` and/or `tls_client_ca_files` for calls in, `outbound_proxy` for calls out",
                    t.name
                );
            }
            let line = || line_of_value(text, &t.name).unwrap_or(1);
            if !t.tls_client_names.is_empty() && !mutual {
                bail!(
                    "{o}:{}: trunk {:?}: `tls_client_names` needs `tls_client_ca_files` (PEM files of the authorities that sign the trunk's certificate)",
                    line(),
                    t.name
                );
            }
            if t.outbound_username.is_some() != t.outbound_password.is_some() {
                bail!(
                    "{o}:{}: trunk {:?}: `outbound_username` and `outbound_password` go together (the account we answer the proxy's challenge with)",
                    line(),
                    t.name
                );
            }
            let outbound_set = t.outbound_username.is_some()
                || t.outbound_tls_name.is_some()
                || t.outbound_transport != call::OutboundTransport::Udp;
            if outbound_set && t.outbound_proxy.is_none() {
                bail!(
                    "{o}:{}: trunk {:?}: `outbound_transport`, `outbound_tls_name` and `outbound_username` need `outbound_proxy` (where calls out go)",
                    line(),
                    t.name
                );
            }
            if let Some(name) = &t.outbound_tls_name {
                if rustls::pki_types::ServerName::try_from(name.as_str()).is_err() {
                    bail!(
                        "{o}:{}: trunk {:?}: outbound_tls_name {name:?}: expected a host name or an IP address",
                        line_of_value(text, name).unwrap_or_else(line),
                        t.name
                    );
                }
            }
            if mutual && self.sip.tls.is_empty() {
                bail!(
                    "{o}:{}: trunk {:?} has mutual TLS (`tls_client_ca_files`) but [sip] has no `tls` address its calls could arrive on",
                    line(),
                    t.name
                );
            }
            if t.username.is_some() != (t.password.is_some() || t.ha1.is_some()) {
                bail!(
                    "{o}:{}: trunk {:?}: `username` and `password` (or its `ha1`) go together",
                    line_of_value(text, &t.name).unwrap_or(1),
                    t.name
                );
            }
        }
        for did in &self.flows.test_dids {
            if !self.trunks.iter().any(|t| t.dids.contains_key(did)) {
                bail!(
                    "{o}:{}: [flows] test_dids: {did:?} is not a DID of any trunk (a test number must lead to the flow it tests, in a trunk's `dids`)",
                    line_of_value(text, did).unwrap_or_else(|| line_of_key(text, "test_dids"))
                );
            }
        }
        self.validate_auth(text)?;
        self.validate_acd(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sip::auth::Secret;

    #[test]
    fn embedded_default_parses() {
        let c = Config::parse(EMBEDDED_DEFAULT, "default.toml").unwrap();
        assert_eq!(c.sip.udp, vec!["127.0.0.1:5060".parse().unwrap()]);
        assert_eq!(c.trunks[0].name, "local");
        assert_eq!(
            c.trunks[0].dids.get("3422").map(String::as_str),
            Some("demo")
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        let admin = "\n[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"0123456789abcdef\"\n";
        let bad = "[sip]\nudp = [\"127.0.0.1:5060\"]\n\n[media]\nip = \"127.0.0.1\"\nport_min = 20000\nport_max = \"x\"\n";
        let e = Config::parse(&format!("{bad}{admin}"), "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("x.toml:7: "), "{e}");
        let bad = "[sip]\nudp = [\"127.0.0.1:5060\"]\n[media]\nip = \"127.0.0.1\"\nport_min = 20000\nport_max = 20001\n";
        let e = Config::parse(&format!("{bad}{admin}"), "y.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("y.toml:6: media.port_max"), "{e}");
        let bad = "[sip]\nudp = [\"127.0.0.1:5060\"]\n[media]\nip = \"127.0.0.1\"\nport_min = 20000\nport_max = 21000\ncodecs = [\"G729\"]\n";
        let e = Config::parse(&format!("{bad}{admin}"), "z.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("z.toml:7: ") && e.contains("G729"), "{e}");
        let bad = "[sip]\nudp = [\"127.0.0.1:5060\"]\nbogus = 1\n[media]\nip = \"127.0.0.1\"\nport_min = 20000\nport_max = 21000\n";
        let e = Config::parse(&format!("{bad}{admin}"), "w.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("w.toml:3: ") && e.contains("bogus"), "{e}");
        let bad = "[sip]\nudp = [\"127.0.0.1:5060\"]\n[media]\nip = \"127.0.0.1\"\nport_min = 20000\nport_max = 21000\nbusy_percent = 101\n";
        let e = Config::parse(&format!("{bad}{admin}"), "v.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("v.toml:7: media.busy_percent (101) must be 1 to 100"),
            "{e}"
        );
        let bad = "[sip]\nudp = [\"127.0.0.1:5060\"]\nmax_backlog = -1\n[media]\nip = \"127.0.0.1\"\nport_min = 20000\nport_max = 21000\n";
        let e = Config::parse(&format!("{bad}{admin}"), "u.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("u.toml:3: "), "{e}");
        // Mutual TLS settings that cannot work.
        let base = "[sip]\nudp = [\"127.0.0.1:5060\"]\n[media]\nip = \"127.0.0.1\"\nport_min = 20000\nport_max = 21000\n";
        let names = "\n[[trunks]]\nname = \"oxe\"\nallow = [\"10.0.0.0/8\"]\ntls_client_names = [\"oxe.example.fr\"]\n";
        let e = Config::parse(&format!("{base}{admin}{names}"), "t.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(
                "t.toml:13: trunk \"oxe\": `tls_client_names` needs `tls_client_ca_files`"
            ),
            "{e}"
        );
        let out = "\n[[trunks]]\nname = \"sbc\"\noutbound_proxy = \"192.0.2.1:5061\"\noutbound_username = \"me\"\n";
        let e = Config::parse(&format!("{base}{admin}{out}"), "r.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("r.toml:13: trunk \"sbc\": `outbound_username` and `outbound_password`"),
            "{e}"
        );
        let out = "\n[[trunks]]\nname = \"sbc\"\nallow = [\"10.0.0.0/8\"]\noutbound_transport = \"tls\"\n";
        let e = Config::parse(&format!("{base}{admin}{out}"), "q.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("need `outbound_proxy`"), "{e}");
        let cas = "\n[[trunks]]\nname = \"oxe\"\ntls_client_ca_files = [\"/etc/oxe-ca.pem\"]\n";
        let e = Config::parse(&format!("{base}{admin}{cas}"), "s.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("s.toml:13: trunk \"oxe\" has mutual TLS") && e.contains("no `tls`"),
            "{e}"
        );
    }

    /// The embedded default with `agents` instead of its `[[agents]]`.
    fn with_agents(agents: &str) -> String {
        let head = &EMBEDDED_DEFAULT[..EMBEDDED_DEFAULT.find("[[agents]]").unwrap()];
        format!("{head}{agents}")
    }

    fn line_of_text(text: &str, needle: &str) -> usize {
        text.lines().position(|l| l.contains(needle)).unwrap() + 1
    }

    #[test]
    fn agents_at_static_uris() {
        let text = with_agents(
            "[[agents]]\nid = \"agent1\"\npassword = \"agent1\"\n\n[[agents]]\nid = \"agent5\"\nuri = \"sip:agent5@10.0.0.5\"\nskills = { general = 5 }\n\n[[agents]]\nid = \"agent6\"\npassword = \"pw6\"\nuri = \"sip:agent6@10.0.0.6:5070\"\n",
        );
        let c = Config::parse(&text, "a.toml").unwrap();
        let accounts = c.agent_accounts();
        assert_eq!(accounts.len(), 2);
        assert_eq!(accounts["agent1"], Secret::Password("agent1".into()));
        assert_eq!(accounts["agent6"], Secret::Password("pw6".into()));
        let statics = c.agent_static_uris();
        assert_eq!(statics.len(), 2);
        assert_eq!(statics["agent5"].addr, "10.0.0.5:5060".parse().unwrap());
        assert_eq!(statics["agent6"].uri, "sip:agent6@10.0.0.6:5070");
        assert_eq!(c.acd().agents.len(), 3);
    }

    #[test]
    fn an_agent_needs_a_password_or_a_valid_uri() {
        let text = with_agents("[[agents]]\nid = \"agent1\"\npassword = \"agent1\"\n\n[[agents]]\nid = \"agent9\"\nskills = { general = 5 }\n");
        let e = Config::parse(&text, "n.toml").unwrap_err().to_string();
        let line = line_of_text(&text, "\"agent9\"");
        assert!(
            e.starts_with(&format!(
                "n.toml:{line}: agent \"agent9\" needs a `password`"
            )),
            "{e}"
        );
        for bad in [
            "sip:agent9@pbx.example.org",
            "sips:agent9@10.0.0.9",
            "sip:agent9@10.0.0.9;transport=tcp",
        ] {
            let text = with_agents(&format!(
                "[[agents]]\nid = \"agent9\"\npassword = \"pw9\"\nuri = \"{bad}\"\n"
            ));
            let e = Config::parse(&text, "u.toml").unwrap_err().to_string();
            let line = line_of_text(&text, "uri = ");
            assert!(
                e.starts_with(&format!("u.toml:{line}: agent \"agent9\": uri ")) && e.contains(bad),
                "{e}"
            );
        }
    }
}
