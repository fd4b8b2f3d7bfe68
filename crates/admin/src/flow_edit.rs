//! Changing flows from the console and the API: check an edited flow file
//! (every error, by line), put a version under test on the test DIDs,
//! promote it to every number or withdraw it, make an earlier version
//! current again; the line diff between two versions. A version made
//! current is written to the flow files (the text replaced is kept first in
//! `var/flows`), so a reload or a restart keeps it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;
use ivr::script::FlowVersion;
use ivr::{Flow, FlowError, FlowSet};
use serde::Serialize;
use serde_json::json;

use crate::principal::Principal;
use crate::AdminState;

/// Why a change to the flows was refused.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("no flow {0:?} (see GET /api/v1/flows)")]
    UnknownFlow(String),
    #[error("no flow version {0} (see GET /api/v1/flows)")]
    UnknownVersion(u64),
    #[error("the file names flow {found:?}, not {expected:?}: a flow is renamed in its file and the DIDs of the configuration, not here")]
    Renamed { expected: String, found: String },
    #[error("{} error(s) in the flow; nothing changed", .0.len())]
    Invalid(Vec<FlowError>),
    #[error("no flow version is under test")]
    NothingUnderTest,
    #[error("the text is the same as the version in use: nothing to test")]
    Unchanged,
    #[error("cannot write the flow file {path}: {error}; nothing changed")]
    Write { path: String, error: String },
}

impl EditError {
    /// The same, in French, for the console.
    pub fn french(&self) -> String {
        match self {
            EditError::UnknownFlow(f) => format!("Aucun parcours « {f} »."),
            EditError::UnknownVersion(n) => format!("Aucune version {n} des parcours."),
            EditError::Renamed { expected, found } => format!(
                "Le fichier nomme le parcours « {found} », pas « {expected} » : un parcours se renomme dans son fichier et dans les SDA de la configuration, pas ici."
            ),
            EditError::Invalid(list) => format!(
                "{} erreur(s) dans le parcours : rien n'a été changé.",
                list.len()
            ),
            EditError::NothingUnderTest => "Aucune version n'est en essai.".into(),
            EditError::Unchanged => {
                "Le texte est celui de la version en service : rien à mettre en essai.".into()
            }
            EditError::Write { path, error } => format!(
                "Impossible d'écrire le fichier {path} ({error}) : rien n'a été changé."
            ),
        }
    }
}

/// The line diff of one flow between two versions.
#[derive(Debug, Serialize)]
pub struct FlowDiff {
    pub flow: String,
    pub added: usize,
    pub removed: usize,
    /// Unified diff (3 lines of context); empty when the same.
    pub unified: String,
}

/// A version of the history, or `None` for the one in use.
pub fn version(st: &AdminState, version: Option<u64>) -> Result<FlowVersion, EditError> {
    let Some(n) = version else {
        return Ok(in_use(st));
    };
    st.script
        .history()
        .into_iter()
        .find(|v| v.version == n)
        .ok_or(EditError::UnknownVersion(n))
}

/// The version in use on production numbers.
pub fn in_use(st: &AdminState) -> FlowVersion {
    st.script.in_use()
}

/// What an edit starts from: the version under test, else the one in use.
pub fn base(st: &AdminState) -> FlowVersion {
    st.script.candidate().unwrap_or_else(|| in_use(st))
}

/// Check an edited text of flow `name` (its file, the prompts, queues and
/// trunks of the running configuration); the flow when it is right.
pub fn check(st: &AdminState, name: &str, text: &str) -> Result<Flow, EditError> {
    let current = base(st)
        .flows
        .get(name)
        .ok_or_else(|| EditError::UnknownFlow(name.to_string()))?;
    let flow = (st.check_flow)(&current.file, text).map_err(EditError::Invalid)?;
    if flow.name != name {
        return Err(EditError::Renamed {
            expected: name.to_string(),
            found: flow.name,
        });
    }
    Ok(flow)
}

/// Put the edited flow under test: a new version (the one under test, or
/// the one in use, with this flow replaced) that new calls to the test DIDs
/// use.
pub fn stage(
    st: &AdminState,
    p: &Principal,
    name: &str,
    text: &str,
) -> Result<FlowVersion, EditError> {
    let flow = check(st, name, text)?;
    let from = base(st);
    if from.flows.get(name).is_some_and(|f| *f.source == *text) {
        return Err(EditError::Unchanged);
    }
    let set = from.flows.replacing(flow);
    let v = st.script.stage(set, &format!("modifié par {}", p.account));
    p.audit(
        st,
        "flows.stage",
        name,
        json!({ "version": v.version, "test_dids": st.script.test_dids() }),
    );
    Ok(v)
}

/// Make the version under test current for every number, writing its
/// changed flows to their files first.
pub fn promote(st: &AdminState, p: &Principal) -> Result<FlowVersion, EditError> {
    let candidate = st.script.candidate().ok_or(EditError::NothingUnderTest)?;
    let written = write_files(st, &in_use(st).flows, &candidate.flows)?;
    let v = st.script.promote().ok_or(EditError::NothingUnderTest)?;
    p.audit(
        st,
        "flows.promote",
        "*",
        json!({ "version": v.version, "files": written }),
    );
    Ok(v)
}

/// Make `set` current for every number at once (no test step: a crisis
/// strategy prepared in advance), writing its changed flows to their files.
pub fn publish(
    st: &AdminState,
    p: &Principal,
    set: FlowSet,
    origin: &str,
) -> Result<FlowVersion, EditError> {
    let written = write_files(st, &in_use(st).flows, &set)?;
    let n = st.script.replace(set, origin);
    p.audit(
        st,
        "flows.publish",
        "*",
        json!({ "version": n, "origin": origin, "files": written }),
    );
    version(st, Some(n))
}

/// Withdraw the version under test.
pub fn discard(st: &AdminState, p: &Principal) -> Result<FlowVersion, EditError> {
    let v = st.script.discard().ok_or(EditError::NothingUnderTest)?;
    p.audit(st, "flows.discard", "*", json!({ "version": v.version }));
    Ok(v)
}

/// Make an earlier version current again, on its files too.
pub fn rollback(st: &AdminState, p: &Principal, n: u64) -> Result<FlowVersion, EditError> {
    let target = version(st, Some(n))?;
    let written = write_files(st, &in_use(st).flows, &target.flows)?;
    let v = st.script.rollback(n).ok_or(EditError::UnknownVersion(n))?;
    p.audit(
        st,
        "flows.rollback",
        "*",
        json!({ "version": v.version, "files": written }),
    );
    Ok(v)
}

/// Write each flow of `to` whose text differs from `from` to its file,
/// keeping the replaced text in `var/flows` first; the files written.
fn write_files(st: &AdminState, from: &FlowSet, to: &FlowSet) -> Result<Vec<String>, EditError> {
    let mut written = Vec::new();
    for name in to.names() {
        let Some(new) = to.get(name) else { continue };
        if from.get(name).is_some_and(|old| old.source == new.source) {
            continue;
        }
        write_one(&st.flows_backup, &new.file, &new.source).map_err(|e| EditError::Write {
            path: new.file.display().to_string(),
            error: e.to_string(),
        })?;
        tracing::warn!(flow = %name, file = %new.file.display(), "flow file written");
        written.push(new.file.display().to_string());
    }
    Ok(written)
}

fn write_one(backup_dir: &Path, path: &Path, text: &str) -> std::io::Result<()> {
    if let Ok(old) = std::fs::read(path) {
        std::fs::create_dir_all(backup_dir)?;
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("flow");
        let kept: PathBuf = backup_dir.join(format!(
            "{stem}.{}.toml",
            Utc::now().format("%Y%m%dT%H%M%S%.3fZ")
        ));
        std::fs::write(kept, old)?;
    }
    // Whole or not at all: a crash leaves the old file or the new one.
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// The diff of every flow that differs between two sets.
pub fn diff(from: &FlowSet, to: &FlowSet) -> Vec<FlowDiff> {
    let mut names: Vec<&str> = from.names();
    names.extend(to.names());
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter_map(|name| {
            let a = from.get(name).map(|f| f.source.clone());
            let b = to.get(name).map(|f| f.source.clone());
            if a == b {
                return None;
            }
            let (a, b) = (
                a.unwrap_or_else(|| Arc::from("")),
                b.unwrap_or_else(|| Arc::from("")),
            );
            let d = similar::TextDiff::from_lines(&*a, &*b);
            let (mut added, mut removed) = (0, 0);
            for c in d.iter_all_changes() {
                match c.tag() {
                    similar::ChangeTag::Insert => added += 1,
                    similar::ChangeTag::Delete => removed += 1,
                    similar::ChangeTag::Equal => {}
                }
            }
            let unified = d
                .unified_diff()
                .context_radius(3)
                .header(name, name)
                .to_string();
            Some(FlowDiff {
                flow: name.to_string(),
                added,
                removed,
                unified,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(texts: &[(&str, &str)]) -> FlowSet {
        let known = ivr::Known::prompts(&|_| true);
        texts.iter().fold(FlowSet::default(), |s, (name, text)| {
            s.replacing(Flow::parse(text, name, name, Path::new("."), &known).unwrap())
        })
    }

    #[test]
    fn the_diff_names_each_changed_flow_and_counts_lines() {
        let a = "[flow]\nstart = \"h\"\n[nodes.h]\nkind = \"hangup\"\n";
        let b = "[flow]\nstart = \"h\"\n[nodes.h]\nkind = \"hangup\"\nprompt = \"info\"\n";
        let d = diff(&set(&[("x", a), ("y", a)]), &set(&[("x", b), ("y", a)]));
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].flow.as_str(), d[0].added, d[0].removed), ("x", 1, 0));
        assert!(
            d[0].unified.contains("+prompt = \"info\""),
            "{}",
            d[0].unified
        );
    }

    #[test]
    fn a_file_is_replaced_whole_and_its_old_text_kept() {
        let dir = std::env::temp_dir().join(format!("flow-edit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("demo.toml");
        std::fs::write(&file, "old").unwrap();
        write_one(&dir.join("backup"), &file, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "new");
        let kept: Vec<_> = std::fs::read_dir(dir.join("backup"))
            .unwrap()
            .flatten()
            .collect();
        assert_eq!(kept.len(), 1);
        assert_eq!(std::fs::read_to_string(kept[0].path()).unwrap(), "old");
        std::fs::remove_dir_all(&dir).ok();
    }
}
