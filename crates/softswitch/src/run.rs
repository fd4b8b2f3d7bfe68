//! `softswitch run`: start every part in order, print the READY line, and
//! shut down gracefully on SIGTERM/SIGINT (drain, then BYE, then sync CDRs).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use call::acd::Acd;
use call::registrar::ExpiryLimits;
use call::{CallContext, CallLimits, CallManager, CallRegistry, Registrar, SipAuth, Trunks};
use cdr::push::PushHandle;
use cdr::{Journal, JournalConfig};
use ivr::{FlowScript, FlowSet, PromptStore};
use media::engine::{MediaConfig, MediaEngine};
use media::prompt::PromptLibrary;
use sip::guard::GuardConfig;
use sip::{Endpoint, EndpointConfig, TimerConfig};
use sla::live::LiveStats;
use tokio::signal::unix::{signal, SignalKind};

use crate::config::Config;

/// Refused INVITEs waiting for their call record (see `sip::guard`).
const SHED_RECORDS: usize = 20_000;

pub fn run(config_path: Option<&Path>) -> Result<()> {
    let cfg = Config::load(config_path)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("softswitch")
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(serve(cfg))
}

async fn serve(cfg: Config) -> Result<()> {
    let cfg = Arc::new(cfg);
    tracing::info!(config = %cfg.origin, version = env!("CARGO_PKG_VERSION"), "softswitch starting");
    for w in cfg.startup_warnings() {
        tracing::warn!("{w}");
    }
    let prompts_dir = cfg.prompts.dir.clone();
    let library = tokio::task::spawn_blocking(move || PromptLibrary::load_dir(&prompts_dir))
        .await?
        .with_context(|| format!("loading prompts from {}", cfg.prompts.dir.display()))?;
    tracing::info!(dir = %cfg.prompts.dir.display(), prompts = ?library.names(), "prompts loaded");
    let uploads = cfg.data.dir.join("prompts");
    let store = PromptStore::open(library, uploads.clone())
        .with_context(|| format!("opening uploaded prompts in {}", uploads.display()))?;
    let library = store.current();
    let flows = load_flows(&cfg, &|p| library.get(p).is_some())
        .map_err(|e| anyhow::anyhow!("invalid flows:\n{}", e.join("\n")))?;
    tracing::info!(dir = %cfg.flows.dir.display(), flows = ?flows.names(), "flows loaded");
    let store = Arc::new(store);

    if let Some(ca) = &cfg.flows.http_ca_file {
        let pem = std::fs::read(ca)
            .with_context(|| format!("{}: [flows] http_ca_file {}", cfg.origin, ca.display()))?;
        ivr::node::http::trust_extra_ca(&pem).map_err(|e| {
            anyhow::anyhow!("{}: [flows] http_ca_file {}: {e}", cfg.origin, ca.display())
        })?;
        tracing::info!(file = %ca.display(), "https look-ups also trust this CA");
    }
    let cdr_dir = cfg.data.dir.join("cdr");
    let (journal, live, push, today) = start_journal(&cfg, &cdr_dir).await?;
    // Availability (GAP01): a line at start, every minute, and at a clean stop.
    cdr::uptime::write_uptime(&cdr_dir, "start");
    let beat_dir = cdr_dir.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(cdr::uptime::HEARTBEAT);
        every.tick().await;
        loop {
            every.tick().await;
            let d = beat_dir.clone();
            let _ = tokio::task::spawn_blocking(move || cdr::uptime::write_uptime(&d, "up")).await;
        }
    });

    let media = MediaEngine::start(MediaConfig {
        ip: cfg.media.ip,
        port_min: cfg.media.port_min,
        port_max: cfg.media.port_max,
        workers: cfg.media.workers,
        rtp_timeout: (cfg.media.rtp_timeout_s > 0)
            .then(|| Duration::from_secs(cfg.media.rtp_timeout_s)),
        priority: cfg.media.priority,
        busy_limit: (cfg.media.busy_percent > 0).then(|| f64::from(cfg.media.busy_percent) / 100.0),
    })
    .context("starting the media engine")?;

    let (events_tx, events_rx) = tokio::sync::mpsc::unbounded_channel();
    // INVITEs refused by the SIP flood guard, on their way to their call
    // record: bounded, the guard never waits (beyond, they are counted).
    let (shed_tx, shed_rx) = tokio::sync::mpsc::channel(SHED_RECORDS);
    let t1 = Duration::from_millis(cfg.sip.t1_ms);
    let sip_tls = crate::sip_tls::load(&cfg)?;
    let endpoint = Endpoint::start(
        EndpointConfig {
            udp: cfg.sip.udp.clone(),
            tcp: cfg.sip.tcp.clone(),
            tls: cfg.sip.tls.clone(),
            ws: cfg.sip.ws.clone(),
            wss: cfg.sip.wss.clone(),
            tls_server: sip_tls.server.clone(),
            tls_client: Some(sip_tls.client.clone()),
            tls_names: cfg
                .trunks
                .iter()
                .filter_map(|t| Some((t.outbound_proxy?, t.outbound_tls_name.clone()?)))
                .collect(),
            limits: sip::StreamLimits {
                per_source: cfg.sip.max_connections_per_source,
                ..sip::StreamLimits::default()
            },
            timers: TimerConfig {
                t1,
                ..TimerConfig::default()
            },
            guard: GuardConfig {
                max_backlog: cfg.sip.max_backlog,
                retry_after_s: cfg.calls.retry_after_s,
                remember: t1 * 64,
            },
            shed_records: Some(shed_tx),
        },
        events_tx,
    )
    .await
    .context("binding the SIP listeners")?;

    let script = Arc::new(FlowScript::new(flows, store));
    script.set_test_dids(cfg.flows.test_dids.iter().cloned());
    let script_dyn: Arc<dyn call::CallScript> = script.clone();
    let ctx = CallContext {
        endpoint: endpoint.clone(),
        cdr: journal.sink(),
        registry: CallRegistry::default(),
        script: script_dyn,
        media_ip: cfg.media.ip,
        codecs: cfg.media.codecs.clone(),
    };
    // One digest authenticator for agents' REGISTERs and trunks' INVITEs:
    // a source's failures count whichever it tries. Its counters for
    // /metrics: `sip_auth.stats()`.
    let sip_auth = SipAuth::new(cfg.digest_config());
    tokio::spawn(sip_auth.clone().run_sweep());
    let (reg_tx, reg_rx) = tokio::sync::mpsc::unbounded_channel();
    let registrar = Registrar::with_static_uris(
        sip_auth.clone(),
        cfg.agent_accounts(),
        cfg.agent_static_uris(),
        ExpiryLimits::default(),
        reg_tx,
    );
    tokio::spawn(registrar.clone().run_expiry());
    let trunks = Arc::new(
        Trunks::new(cfg.trunks.clone(), sip_auth.clone())
            .map_err(|e| anyhow::anyhow!("{}: {e}", cfg.origin))?,
    );
    script.set_dialer(call::Dialer::new(
        ctx.clone(),
        media.clone(),
        trunks.clone(),
    ));
    let manager = CallManager::new(
        ctx.clone(),
        media.clone(),
        trunks,
        CallLimits {
            max_calls: cfg.calls.max_calls,
            retry_after_secs: cfg.calls.retry_after_s,
            max_cps: cfg.calls.max_cps,
        },
        Some(registrar.clone()),
    );
    tokio::spawn(manager.clone().run(events_rx));
    tokio::spawn(manager.clone().record_shed(shed_rx));
    let recordings = cfg.data.dir.join("recordings");
    tokio::spawn(purge_recordings(cfg.clone(), recordings.clone()));
    let acd = Acd::start(
        cfg.acd(),
        ctx,
        media.clone(),
        registrar,
        reg_rx,
        recordings.clone(),
    )
    .map_err(|e| anyhow::anyhow!("{}: ACD: {e}", cfg.origin))?;
    script.set_acd(acd.clone());
    tracing::info!(
        queues = cfg.queues.len(),
        agents = cfg.agents.len(),
        static_agents = cfg.agents.iter().filter(|a| a.uri.is_some()).count(),
        "ACD started"
    );

    let join = |v: &[std::net::SocketAddr]| {
        v.iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let records = crate::admin_start::Records {
        today,
        sip_auth: sip_auth.stats().clone(),
        recordings,
        cdr_dir: cdr_dir.clone(),
        live,
        push,
    };
    let admin = crate::admin_start::start_admin(
        &cfg,
        &script,
        manager.registry().clone(),
        acd,
        media.stats.clone(),
        &endpoint,
        records,
    )
    .await?;
    // Machine-readable: tests and scripts wait for this line.
    println!(
        "READY sip_udp={} sip_tcp={} sip_tls={} sip_ws={} sip_wss={} rtp={}-{} cdr={} admin={} admin_url={}://{}",
        join(&endpoint.udp_addrs),
        join(&endpoint.tcp_addrs),
        join(&endpoint.tls_addrs),
        join(&endpoint.ws_addrs),
        join(&endpoint.wss_addrs),
        cfg.media.port_min,
        cfg.media.port_max,
        cdr_dir.display(),
        admin.addr,
        admin.scheme,
        admin.addr
    );
    tracing::info!("ready");

    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            _ = hup.recv() => {
                let _ = reload_flows(&cfg, &script, "SIGHUP");
                admin.reload_tls();
                if let Some(live) = &sip_tls.server {
                    crate::sip_tls::reload(live);
                }
            }
            _ = term.recv() => { tracing::info!("SIGTERM: shutting down"); break }
            _ = int.recv() => { tracing::info!("SIGINT: shutting down"); break }
        }
    }
    let drain = Duration::from_secs(cfg.calls.drain_timeout_s);
    let shutdown = manager.shutdown(drain);
    tokio::select! {
        hung_up = shutdown => tracing::info!(hung_up, "all calls ended"),
        _ = int.recv() => tracing::warn!("second SIGINT: not waiting for calls"),
        _ = term.recv() => tracing::warn!("second SIGTERM: not waiting for calls"),
    }
    // Let the last BYEs leave before the runtime stops.
    tokio::time::sleep(Duration::from_millis(100)).await;
    tokio::task::spawn_blocking(move || journal.shutdown()).await?;
    admin.sync();
    cdr::uptime::write_uptime(&cdr_dir, "stop");
    tracing::info!("stopped");
    Ok(())
}

/// Load the flow directory and check that every DID leads to a flow; the
/// errors as `file:line: message` lines.
fn load_flows(cfg: &Config, has_prompt: &dyn Fn(&str) -> bool) -> Result<FlowSet, Vec<String>> {
    let queues = cfg.queue_names();
    let known = ivr::Known {
        prompt: has_prompt,
        queues: Some(&queues),
    };
    let flows = FlowSet::load_dir(&cfg.flows.dir, &known)
        .map_err(|errs| errs.iter().map(|e| e.to_string()).collect::<Vec<_>>())?;
    let mut errors = Vec::new();
    for t in &cfg.trunks {
        for (did, flow) in &t.dids {
            if flows.get(flow).is_none() {
                errors.push(format!(
                    "{}:{}: trunk {:?}: DID {did:?} leads to flow {flow:?}, which is not in {} (flows: {})",
                    cfg.origin,
                    cfg.line_of_did(did),
                    t.name,
                    cfg.flows.dir.display(),
                    flows.names().join(", ")
                ));
            }
        }
    }
    errors.extend(check_transfer_trunks(cfg, &flows));
    if errors.is_empty() {
        Ok(flows)
    } else {
        Err(errors)
    }
}

/// Every `transfer` node's trunk must exist and call out.
fn check_transfer_trunks(cfg: &Config, flows: &FlowSet) -> Vec<String> {
    flows
        .names()
        .into_iter()
        .filter_map(|name| flows.get(name))
        .flat_map(|flow| transfer_trunk_errors(cfg, &flow))
        .map(|e| e.to_string())
        .collect()
}

/// The `transfer` nodes of one flow whose trunk is missing or cannot call
/// out.
fn transfer_trunk_errors(cfg: &Config, flow: &ivr::Flow) -> Vec<ivr::FlowError> {
    let mut errors = Vec::new();
    let mut nodes: Vec<_> = flow.nodes.iter().collect();
    nodes.sort_by_key(|(_, e)| e.line);
    for (node, entry) in nodes {
        let ivr::node::Node::Transfer(t) = &entry.node else {
            continue;
        };
        let Some(trunk) = &t.trunk else {
            continue;
        };
        let problem = match cfg.trunks.iter().find(|c| &c.name == trunk) {
            None => Some(format!(
                "no trunk {trunk:?} in {} (trunks: {})",
                cfg.origin,
                cfg.trunks
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Some(c) if c.outbound_proxy.is_none() => Some(format!(
                "trunk {trunk:?} has no `outbound_proxy` in {}: it cannot call out",
                cfg.origin
            )),
            Some(_) => None,
        };
        if let Some(p) = problem {
            errors.push(ivr::FlowError {
                file: flow.file.display().to_string(),
                line: entry.line,
                message: format!("node {node:?}: {p}"),
            });
        }
    }
    errors
}

/// Check a flow file's text as the console edits it: against the prompts
/// of the moment, the configured queues and trunks.
pub(crate) fn check_flow_text(
    cfg: &Config,
    script: &FlowScript,
    path: &std::path::Path,
    text: &str,
) -> Result<ivr::Flow, Vec<ivr::FlowError>> {
    let library = script.prompts().current();
    let has_prompt = |p: &str| library.get(p).is_some();
    let queues = cfg.queue_names();
    let known = ivr::Known {
        prompt: &has_prompt,
        queues: Some(&queues),
    };
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("flow");
    let base = path.parent().unwrap_or(std::path::Path::new("."));
    let mut flow = ivr::Flow::parse(text, &path.display().to_string(), stem, base, &known)?;
    flow.file = path.to_path_buf();
    let errors = transfer_trunk_errors(cfg, &flow);
    if errors.is_empty() {
        Ok(flow)
    } else {
        Err(errors)
    }
}

/// Load the flows again for new calls (SIGHUP, admin API). Calls in
/// progress keep the version they started with; any error leaves the
/// running set in place.
pub(crate) fn reload_flows(
    cfg: &Config,
    script: &FlowScript,
    why: &str,
) -> Result<Vec<String>, Vec<String>> {
    let library = script.prompts().current();
    match load_flows(cfg, &|p| library.get(p).is_some()) {
        Ok(flows) => {
            let names: Vec<String> = flows.names().into_iter().map(str::to_string).collect();
            tracing::info!(flows = ?names, "{why}: flows reloaded; new calls use them");
            let version = script.replace(flows, why);
            tracing::info!(version, "flow version published");
            Ok(names)
        }
        Err(errors) => {
            tracing::error!(
                "{why}: flows not reloaded, the running ones stay:\n{}",
                errors.join("\n")
            );
            Err(errors)
        }
    }
}

/// The CDR journal with what feeds on its records: the live figures
/// (refilled from the journal first, so a restart keeps them) and the HTTP
/// push.
async fn start_journal(
    cfg: &Config,
    cdr_dir: &std::path::Path,
) -> Result<(
    Journal,
    Arc<LiveStats>,
    Option<PushHandle>,
    Arc<sla::today::Today>,
)> {
    std::fs::create_dir_all(cdr_dir)
        .with_context(|| format!("creating the CDR directory {}", cdr_dir.display()))?;
    let live = Arc::new(LiveStats::new(
        Duration::from_secs(cfg.cdr.live_window_s),
        Duration::from_secs(cfg.cdr.live_service_level_s),
        &cfg.sla,
    ));
    let (l, dir) = (live.clone(), cdr_dir.to_path_buf());
    match tokio::task::spawn_blocking(move || l.seed(&dir)).await? {
        Ok(n) => tracing::info!(records = n, "live figures refilled from the CDR journal"),
        Err(e) => tracing::error!(error = %e, "cannot read the CDR journal for the live figures"),
    }
    // Today's calls for the wallboard, from local midnight.
    let today = Arc::new(sla::today::Today::new(cfg.sla.clone(), chrono::Utc::now()));
    let (t, dir) = (today.clone(), cdr_dir.to_path_buf());
    let seeded = tokio::task::spawn_blocking(move || {
        cdr::read_records(&dir, Some(t.since()), None).map(|recs| {
            for r in &recs {
                t.observe(r);
            }
            recs.len()
        })
    })
    .await?;
    match seeded {
        Ok(n) => tracing::info!(records = n, "today's figures refilled from the CDR journal"),
        Err(e) => tracing::error!(error = %e, "cannot read the CDR journal for today's figures"),
    }
    let push = match &cfg.cdr.push {
        Some(p) => {
            let h = cdr::push::start(p.clone(), cdr_dir.to_path_buf())
                .map_err(|e| anyhow::anyhow!("{}: [cdr.push]: {e}", cfg.origin))?;
            tracing::info!(url = %p.url, batch = p.batch, "CDR push to the SLA engine started");
            Some(h)
        }
        None => None,
    };
    let mut journal_cfg = JournalConfig::new(cdr_dir, cfg.data.cdr_fsync);
    journal_cfg.fold = cfg.cdr.fold_options();
    let l = live.clone();
    journal_cfg.hooks.push(Box::new(move |r| l.observe(r)));
    let t = today.clone();
    journal_cfg.hooks.push(Box::new(move |r| t.observe(r)));
    if let Some(h) = push.clone() {
        journal_cfg.hooks.push(Box::new(move |_| h.wake()));
    }
    let journal = tokio::task::spawn_blocking(move || Journal::start(journal_cfg))
        .await?
        .with_context(|| format!("opening the CDR journal in {}", cdr_dir.display()))?;
    Ok((journal, live, push, today))
}

/// Delete recordings past their queue's retention, at start and hourly.
async fn purge_recordings(cfg: Arc<Config>, dir: std::path::PathBuf) {
    let mut every = tokio::time::interval(Duration::from_secs(3600));
    loop {
        every.tick().await;
        let (c, d) = (cfg.clone(), dir.clone());
        let done = tokio::task::spawn_blocking(move || {
            let retention = |queue: &str| {
                c.queues
                    .iter()
                    .find(|q| q.name == queue)
                    .map_or(60, |q| q.recording_retention_days)
            };
            media::record::purge(&d, media::record::today(), &retention)
        })
        .await;
        match done {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => {
                tracing::info!(files = n, dir = %dir.display(), "recordings past retention deleted")
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, dir = %dir.display(), "recording purge failed")
            }
            Err(e) => tracing::error!(error = %e, "recording purge task failed"),
        }
    }
}
