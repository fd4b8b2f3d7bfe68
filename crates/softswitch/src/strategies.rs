//! `[[strategies]]`: crisis strategies prepared in the configuration (GVP05),
//! each a set of file 0 switches and prepared flow files, checked at start
//! (targets, prompts, queues, every error of each prepared flow) so that one
//! found wrong at 3 a.m. is found at start instead.

use std::path::{Path, PathBuf};

use admin::strategy::{PreparedFlow, Strategy, Switch};
use ivr::{FlowScript, Mode};
use serde::Deserialize;

use crate::config::{line_of_value, Config};

/// A strategy as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyConfig {
    pub name: String,
    /// What it is for ("Grève nationale : fermeture").
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub file0: Vec<Switch>,
    #[serde(default)]
    pub flows: Vec<PreparedConfig>,
}

/// A prepared flow file: `{ flow = "demo", file = "strategies/demo-crise.toml" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreparedConfig {
    pub flow: String,
    /// Relative to the configuration file's directory.
    pub file: PathBuf,
}

/// The strategies, checked; every error as `file:line: message`.
pub fn load(cfg: &Config, script: &FlowScript) -> Result<Vec<Strategy>, Vec<String>> {
    let mut errors = Vec::new();
    let mut out: Vec<Strategy> = Vec::new();
    // The embedded configuration ("<embedded ...>") has no directory.
    let base = match Path::new(&cfg.origin).parent() {
        Some(dir) if !cfg.origin.starts_with('<') => dir,
        _ => Path::new("."),
    };
    let dids: Vec<&String> = cfg.trunks.iter().flat_map(|t| t.dids.keys()).collect();
    let flows = script.current();
    let library = script.prompts().current();
    let queues = cfg.queue_names();
    for s in &cfg.strategies {
        let line = line_of_value(&cfg.text, &s.name).unwrap_or(1);
        let mut err = |msg: String| {
            errors.push(format!(
                "{}:{line}: strategy {:?}: {msg}",
                cfg.origin, s.name
            ))
        };
        if out.iter().any(|o| o.name == s.name) {
            err("the name is used twice".into());
        }
        if s.file0.is_empty() && s.flows.is_empty() {
            err("switches nothing: give `file0` switches and/or prepared `flows`".into());
        }
        for sw in &s.file0 {
            check_switch(
                sw,
                &dids,
                &flows,
                &|p| library.get(p).is_some(),
                &queues,
                &mut err,
            );
        }
        let mut prepared = Vec::new();
        for f in &s.flows {
            let path = base.join(&f.file);
            let Some(current) = flows.get(&f.flow) else {
                err(format!("flows: {:?} is not a loaded flow", f.flow));
                continue;
            };
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) => {
                    err(format!("flows: cannot read {}: {e}", path.display()));
                    continue;
                }
            };
            // Checked as the flow it replaces (its directory, its name).
            match crate::run::check_flow_text(cfg, script, &current.file, &text) {
                Ok(flow) if flow.name == f.flow => prepared.push(PreparedFlow {
                    flow: f.flow.clone(),
                    file: path,
                    text,
                }),
                Ok(flow) => err(format!(
                    "flows: {} names flow {:?}, not {:?}",
                    path.display(),
                    flow.name,
                    f.flow
                )),
                Err(list) => {
                    for e in list {
                        // The prepared file's own lines.
                        err(format!(
                            "flows: {}:{}: {}",
                            path.display(),
                            e.line,
                            e.message
                        ));
                    }
                }
            }
        }
        out.push(Strategy {
            name: s.name.clone(),
            label: s.label.clone(),
            file0: s.file0.clone(),
            flows: prepared,
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn check_switch(
    sw: &Switch,
    dids: &[&String],
    flows: &ivr::FlowSet,
    has_prompt: &dyn Fn(&str) -> bool,
    queues: &[String],
    err: &mut dyn FnMut(String),
) {
    if !dids.iter().any(|d| **d == sw.target) && flows.get(&sw.target).is_none() {
        err(format!(
            "file0: target {:?} is neither a DID nor a flow",
            sw.target
        ));
    }
    if !has_prompt(&sw.prompt) {
        err(format!("file0: prompt {:?} does not exist", sw.prompt));
    }
    match (sw.mode, &sw.queue) {
        (Mode::Queue, None) => err(format!(
            "file0 on {}: mode \"queue\" needs `queue`",
            sw.target
        )),
        (Mode::Queue, Some(q)) if !queues.contains(q) => err(format!(
            "file0 on {}: queue {q:?} is not configured (queues: {})",
            sw.target,
            queues.join(", ")
        )),
        (Mode::Continue | Mode::Hangup, Some(_)) => err(format!(
            "file0 on {}: `queue` goes with mode \"queue\" only",
            sw.target
        )),
        _ => {}
    }
}
