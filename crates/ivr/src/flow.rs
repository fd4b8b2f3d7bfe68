//! A flow file: parsed into nodes, validated with `file:line: message`
//! errors (unknown targets, unreachable nodes, missing prompts, bad digits,
//! loops that spin without caller input, bad regex, bad times), and the set
//! of loaded flows. A flow that fails validation is never activated.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use crate::node::recover::{deserialize, parse_all, repair, Failure};
use crate::node::{Node, PromptRef};
use crate::schedule::{Schedule, ScheduleConfig};

/// One validation error, printed `file:line: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowError {
    /// The file's path (or the label given to `Flow::parse`).
    pub file: String,
    /// Line the error points at, from 1.
    pub line: usize,
    /// What is wrong, often with how to fix it.
    pub message: String,
}

impl fmt::Display for FlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// A node with the line it starts on.
#[derive(Debug, Clone)]
pub struct NodeEntry {
    pub line: usize,
    pub node: Node,
}

/// A validated, immutable flow.
#[derive(Debug)]
pub struct Flow {
    /// `[flow] name`, else the default name (the file name without `.toml`
    /// when loaded from disk).
    pub name: String,
    /// The file it was loaded from (for `Flow::parse`, the `file` label).
    pub file: PathBuf,
    /// Free text from `[flow] description`, if given.
    pub description: Option<String>,
    /// Name of the node every call starts at (`[flow] start`).
    pub start: String,
    /// Every node by name (`[nodes.NAME]`), with the line it starts on.
    pub nodes: HashMap<String, NodeEntry>,
    /// Opening hours from `[schedule]`; always open when the file has none.
    pub schedule: Schedule,
    /// The file's text as loaded (history, diffs, the console's editor).
    pub source: Arc<str>,
}

/// The file's top level, each part kept as a table so that a bad field in
/// one part does not hide the errors of the others.
#[derive(Deserialize)]
struct RawFlow {
    flow: Option<Spanned<toml::Table>>,
    schedule: Option<Spanned<toml::Table>>,
    #[serde(default)]
    nodes: BTreeMap<String, Spanned<toml::Table>>,
}

const TOP_LEVEL: [&str; 3] = ["flow", "schedule", "nodes"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    name: Option<String>,
    start: String,
    description: Option<String>,
}

/// What a flow may name, for validation.
pub struct Known<'a> {
    /// Whether a prompt exists in the prompt library.
    pub prompt: &'a dyn Fn(&str) -> bool,
    /// The configured queues; `None` leaves queue names unchecked.
    pub queues: Option<&'a [String]>,
}

impl<'a> Known<'a> {
    /// Prompts checked, queues not.
    pub fn prompts(prompt: &'a dyn Fn(&str) -> bool) -> Self {
        Known {
            prompt,
            queues: None,
        }
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Collects errors against one file's text.
struct Errors<'a> {
    file: &'a str,
    text: &'a str,
    list: Vec<FlowError>,
}

impl Errors<'_> {
    fn at(&mut self, line: usize, message: String) {
        self.list.push(FlowError {
            file: self.file.to_string(),
            line,
            message,
        });
    }

    /// The field errors of one part of the file (`what`: "[flow]",
    /// "node \"x\" (menu)"): on the field's line, else the part's first.
    fn part(&mut self, span: &std::ops::Range<usize>, what: &str, errors: &[Failure]) {
        for (key, msg) in errors {
            let line = match key {
                Some(k) if !msg.starts_with("missing field") => self.line_in(span, k),
                _ => line_of(self.text, span.start),
            };
            let msg = match key {
                Some(k) if !msg.contains(&format!("`{k}`")) => format!("{k}: {msg}"),
                _ => msg.clone(),
            };
            self.at(line, format!("{what}: {msg}"));
        }
    }

    /// Line of the first occurrence of `needle` inside `span`, else the
    /// span's first line.
    fn line_in(&self, span: &std::ops::Range<usize>, needle: &str) -> usize {
        let end = span.end.min(self.text.len());
        let start = span.start.min(end);
        match self.text[start..end].find(needle) {
            Some(i) => line_of(self.text, start + i),
            None => line_of(self.text, start),
        }
    }
}

impl Flow {
    /// Load and validate a flow file against what it may name.
    pub fn load(path: &Path, known: &Known<'_>) -> Result<Flow, Vec<FlowError>> {
        let label = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            vec![FlowError {
                file: label.clone(),
                line: 1,
                message: format!("cannot read: {e}"),
            }]
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("flow");
        Flow::parse(&text, &label, stem, base, known).map(|mut f| {
            f.file = path.to_path_buf();
            f
        })
    }

    /// Parse and validate flow text; `default_name` is used when the file
    /// gives no `[flow] name`. Every error of the file is reported, like a
    /// compiler: a bad field is reported and the rest still checked.
    pub fn parse(
        text: &str,
        file: &str,
        default_name: &str,
        base_dir: &Path,
        known: &Known<'_>,
    ) -> Result<Flow, Vec<FlowError>> {
        let mut errs = Errors {
            file,
            text,
            list: Vec::new(),
        };
        let syntax = |e: toml::de::Error| {
            vec![FlowError {
                file: file.to_string(),
                line: e.span().map_or(1, |s| line_of(text, s.start)),
                message: e.message().trim().to_string(),
            }]
        };
        let top: toml::Table = toml::from_str(text).map_err(syntax)?;
        let raw: RawFlow = toml::from_str(text).map_err(syntax)?;
        for key in top.keys().filter(|k| !TOP_LEVEL.contains(&k.as_str())) {
            let line = errs.line_in(&(0..text.len()), key);
            errs.at(
                line,
                format!(
                    "unknown table or key {key:?}: expected [flow], [schedule] and [nodes.NAME]"
                ),
            );
        }
        let header = match &raw.flow {
            None => {
                errs.at(
                    1,
                    "[flow] is missing: add [flow] with start = \"NODE\"".into(),
                );
                None
            }
            Some(h) => {
                let r = repair(h.get_ref().clone(), deserialize::<RawHeader>);
                errs.part(&h.span(), "[flow]", &r.errors);
                // A header with a placeholder start would cascade.
                r.value.map(|v| (v, r.errors.is_empty()))
            }
        };
        let schedule = match &raw.schedule {
            Some(s) => match repair(s.get_ref().clone(), deserialize::<ScheduleConfig>) {
                r if !r.errors.is_empty() => {
                    errs.part(&s.span(), "[schedule]", &r.errors);
                    Schedule::always()
                }
                r => match r.value.map(|c| Schedule::compile(&c, base_dir)) {
                    Some(Ok(s)) => s,
                    Some(Err(e)) => {
                        // "hours.mon[1]" is written on the line of `mon`.
                        let key = e
                            .field()
                            .and_then(|f| f.rsplit('.').next())
                            .map(|k| k.split('[').next().unwrap_or(k));
                        let line = errs.line_in(&s.span(), key.unwrap_or("[schedule]"));
                        errs.at(line, format!("[schedule]: {e}"));
                        Schedule::always()
                    }
                    None => Schedule::always(),
                },
            },
            None => Schedule::always(),
        };
        let mut nodes: HashMap<String, NodeEntry> = HashMap::new();
        let mut checked = Checked::default();
        for (name, table) in raw.nodes {
            let span = table.span();
            let line = line_of(text, span.start);
            let mut t = table.into_inner();
            let kind = match t.remove("kind") {
                Some(toml::Value::String(k)) => k,
                _ => {
                    errs.at(
                        line,
                        format!(
                            "node {name:?}: `kind = \"...\"` is required ({})",
                            crate::node::KINDS
                        ),
                    );
                    checked.broken.insert(name, t);
                    continue;
                }
            };
            let parsed = parse_all(&kind, t.clone());
            errs.part(&span, &format!("node {name:?} ({kind})"), &parsed.errors);
            checked.spans.insert(name.clone(), span);
            match parsed.value {
                Some(node) => {
                    checked.repaired.insert(name.clone(), parsed.repaired);
                    nodes.insert(name, NodeEntry { line, node });
                }
                None => {
                    checked.broken.insert(name, t);
                }
            }
        }
        let (header, header_ok) = header.unwrap_or((
            RawHeader {
                name: None,
                start: String::new(),
                description: None,
            },
            false,
        ));
        let flow = Flow {
            name: header.name.unwrap_or_else(|| default_name.to_string()),
            file: PathBuf::from(file),
            description: header.description,
            start: header.start,
            nodes,
            schedule,
            source: Arc::from(text),
        };
        checked.has_schedule = raw.schedule.is_some();
        checked.header_ok = header_ok;
        validate(&flow, &checked, known, &mut errs);
        if errs.list.is_empty() {
            Ok(flow)
        } else {
            errs.list.sort_by_key(|e| e.line);
            Err(errs.list)
        }
    }
}

/// What parsing learned that validation needs.
#[derive(Default)]
struct Checked {
    /// Each node's text, for error lines.
    spans: HashMap<String, std::ops::Range<usize>>,
    /// Fields of built nodes that hold a placeholder (already reported).
    repaired: HashMap<String, HashSet<String>>,
    /// Nodes that could not be built at all (already reported), with their
    /// raw table.
    broken: HashMap<String, toml::Table>,
    has_schedule: bool,
    header_ok: bool,
}

fn validate(flow: &Flow, checked: &Checked, known: &Known<'_>, errs: &mut Errors<'_>) {
    use crate::node::recover::{strings, REPAIRED};
    let start_line = errs.line_in(&(0..errs.text.len()), "start");
    let exists = |n: &str| flow.nodes.contains_key(n) || checked.broken.contains_key(n);
    if flow.nodes.is_empty() && checked.broken.is_empty() {
        errs.at(1, "the flow has no nodes: add [nodes.NAME] tables".into());
        return;
    }
    if checked.header_ok && !exists(&flow.start) {
        errs.at(
            start_line,
            format!("start node {:?} is not a node", flow.start),
        );
    }
    let mut names: Vec<&String> = flow.nodes.keys().collect();
    names.sort();
    for name in &names {
        let entry = &flow.nodes[*name];
        let span = &checked.spans[*name];
        let repaired = checked.repaired.get(*name);
        let skip = |key: &str| repaired.is_some_and(|r| r.contains(key));
        for (key, target) in entry.node.targets() {
            if target != REPAIRED && !exists(target) {
                let line = errs.line_in(span, &format!("\"{target}\""));
                errs.at(
                    line,
                    format!("node {name:?}: {key} -> {target:?} is not a node"),
                );
            }
        }
        for (key, p) in entry.node.prompts() {
            if let PromptRef::Name(p) = p {
                if p != REPAIRED && !(known.prompt)(p) {
                    let line = errs.line_in(span, &format!("\"{p}\""));
                    errs.at(
                        line,
                        format!("node {name:?}: {key}: prompt {p:?} does not exist"),
                    );
                }
            }
        }
        if let Some(queues) = known.queues {
            for (key, q) in entry.node.queues() {
                if q != REPAIRED && !queues.iter().any(|c| c == q) {
                    let line = errs.line_in(span, &format!("\"{q}\""));
                    errs.at(
                        line,
                        format!(
                            "node {name:?}: {key}: queue {q:?} is not configured (queues: {})",
                            queues.join(", ")
                        ),
                    );
                }
            }
        }
        for (key, msg) in entry.node.check() {
            if !skip(key) {
                let line = errs.line_in(span, key);
                errs.at(line, format!("node {name:?}: {key}: {msg}"));
            }
        }
        if let Node::Branch(b) = &entry.node {
            if b.on == "schedule" && !checked.has_schedule {
                errs.at(
                    entry.line,
                    format!(
                        "node {name:?}: branches on the schedule but the flow has no [schedule]"
                    ),
                );
            }
        }
    }
    if !checked.header_ok || !exists(&flow.start) {
        return; // reachability means nothing without a start
    }
    // Reachability from the start node; a node that could not be built
    // leads to every node its table names.
    let mut seen = HashSet::new();
    let mut stack = vec![flow.start.as_str()];
    while let Some(n) = stack.pop() {
        if !seen.insert(n) {
            continue;
        }
        if let Some(e) = flow.nodes.get(n) {
            stack.extend(e.node.targets().into_iter().map(|(_, t)| t));
        } else if let Some(t) = checked.broken.get(n) {
            stack.extend(strings(t).into_iter().filter(|s| exists(s)));
        }
    }
    for name in &names {
        if !seen.contains(name.as_str()) {
            errs.at(
                flow.nodes[*name].line,
                format!("node {name:?} is unreachable from start {:?}", flow.start),
            );
        }
    }
    // Loops that never wait for the caller (would spin forever).
    if let Some(cycle) = spin_cycle(flow) {
        let line = flow.nodes[&cycle[0]].line;
        errs.at(
            line,
            format!(
                "loop without caller input: {} -> {} (put a menu or collect on it)",
                cycle.join(" -> "),
                cycle[0]
            ),
        );
    }
}

/// A cycle through nodes none of which waits for the caller, if any.
fn spin_cycle(flow: &Flow) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let mut names: Vec<&String> = flow.nodes.keys().collect();
    names.sort();
    let mut mark: HashMap<&str, Mark> = names.iter().map(|n| (n.as_str(), Mark::New)).collect();
    fn visit<'a>(
        flow: &'a Flow,
        n: &'a str,
        mark: &mut HashMap<&'a str, Mark>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        let entry = flow.nodes.get(n)?;
        if entry.node.waits_for_caller() {
            return None;
        }
        match mark.get(n).copied() {
            Some(Mark::Active) => {
                let from = path.iter().position(|p| *p == n).unwrap_or(0);
                return Some(path[from..].iter().map(|s| s.to_string()).collect());
            }
            Some(Mark::Done) | None => return None,
            Some(Mark::New) => {}
        }
        mark.insert(n, Mark::Active);
        path.push(n);
        for (_, t) in entry.node.targets() {
            if let Some(c) = visit(flow, t, mark, path) {
                return Some(c);
            }
        }
        path.pop();
        mark.insert(n, Mark::Done);
        None
    }
    for n in names {
        let mut path = Vec::new();
        if let Some(c) = visit(flow, n, &mut mark, &mut path) {
            return Some(c);
        }
    }
    None
}

/// Every loaded flow, by name; immutable once built (swap the whole set).
#[derive(Debug, Default, Clone)]
pub struct FlowSet {
    flows: HashMap<String, Arc<Flow>>,
}

impl FlowSet {
    /// Load every `*.toml` of `dir`. Any error in any file fails the whole
    /// set, with every error listed.
    pub fn load_dir(dir: &Path, known: &Known<'_>) -> Result<FlowSet, Vec<FlowError>> {
        let entries = std::fs::read_dir(dir).map_err(|e| {
            vec![FlowError {
                file: dir.display().to_string(),
                line: 1,
                message: format!("cannot read the flows directory: {e}"),
            }]
        })?;
        let mut paths: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        let mut set = FlowSet::default();
        let mut errors = Vec::new();
        for path in paths {
            match Flow::load(&path, known) {
                Ok(flow) => {
                    if let Some(other) = set.flows.get(&flow.name) {
                        errors.push(FlowError {
                            file: path.display().to_string(),
                            line: 1,
                            message: format!(
                                "flow name {:?} is also used by {}",
                                flow.name,
                                other.file.display()
                            ),
                        });
                    } else {
                        set.flows.insert(flow.name.clone(), Arc::new(flow));
                    }
                }
                Err(mut e) => errors.append(&mut e),
            }
        }
        if errors.is_empty() {
            Ok(set)
        } else {
            Err(errors)
        }
    }

    /// This set with `flow` in place of the flow of the same name (or
    /// added).
    pub fn replacing(&self, flow: Flow) -> FlowSet {
        let mut flows = self.flows.clone();
        flows.insert(flow.name.clone(), Arc::new(flow));
        FlowSet { flows }
    }

    /// The flow of that name, if loaded.
    pub fn get(&self, name: &str) -> Option<Arc<Flow>> {
        self.flows.get(name).cloned()
    }

    /// Every flow name, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.flows.keys().map(String::as_str).collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Flow, Vec<FlowError>> {
        let prompts = |p: &str| ["welcome", "menu", "info", "closed"].contains(&p);
        Flow::parse(
            text,
            "t.toml",
            "t",
            Path::new("."),
            &Known::prompts(&prompts),
        )
    }

    fn messages(text: &str) -> Vec<String> {
        parse(text)
            .unwrap_err()
            .iter()
            .map(|e| e.to_string())
            .collect()
    }

    const GOOD: &str = r#"
[flow]
start = "hello"

[nodes.hello]
kind = "play"
prompts = ["welcome"]
next = "main"

[nodes.main]
kind = "menu"
greeting = "menu"
options = { "1" = "info", "0" = "main" }
tries = 2
fallback = "info"

[nodes.info]
kind = "hangup"
prompt = "info"
disposition = "informed"
"#;

    #[test]
    fn a_good_flow_loads() {
        let f = parse(GOOD).unwrap();
        assert_eq!(f.name, "t");
        assert_eq!(f.nodes.len(), 3);
        assert_eq!(f.nodes["main"].line, 10);
    }

    #[test]
    fn unknown_target_and_missing_prompt_name_their_line() {
        let bad = GOOD
            .replace("next = \"main\"", "next = \"mian\"")
            .replace("greeting = \"menu\"", "greeting = \"menuu\"");
        let m = messages(&bad);
        assert!(
            m.contains(&"t.toml:8: node \"hello\": next -> \"mian\" is not a node".to_string()),
            "{m:?}"
        );
        assert!(
            m.contains(
                &"t.toml:12: node \"main\": greeting: prompt \"menuu\" does not exist".to_string()
            ),
            "{m:?}"
        );
        // "main" is now unreachable too.
        assert!(
            m.iter()
                .any(|e| e.starts_with("t.toml:10: node \"main\" is unreachable")),
            "{m:?}"
        );
    }

    #[test]
    fn spin_loop_bad_digit_bad_regex_unknown_kind() {
        let m = messages(
            r#"[flow]
start = "a"
[nodes.a]
kind = "goto"
next = "b"
[nodes.b]
kind = "set"
var = "x"
value = "1"
next = "a"
"#,
        );
        assert!(
            m.iter()
                .any(|e| e.starts_with("t.toml:3: loop without caller input: a -> b -> a")),
            "{m:?}"
        );
        let m = messages(
            r#"[flow]
start = "c"
[nodes.c]
kind = "collect"
var = "pc"
max = 5
regex = "[0-9"
next = "d"
fallback = "d"
[nodes.d]
kind = "menu"
greeting = "menu"
options = { "12" = "d" }
fallback = "d"
[nodes.e]
kind = "teleport"
"#,
        );
        assert!(
            m.iter()
                .any(|e| e.starts_with("t.toml:7: node \"c\": regex: bad regex")),
            "{m:?}"
        );
        assert!(
            m.iter()
                .any(|e| e
                    .starts_with("t.toml:13: node \"d\": options: \"12\" is not one DTMF digit")),
            "{m:?}"
        );
        assert!(
            m.iter()
                .any(|e| e.starts_with("t.toml:15: node \"e\" (teleport): unknown node kind")),
            "{m:?}"
        );
    }

    #[test]
    fn duplicate_digit_and_syntax_error_are_reported_by_line() {
        let m = messages("[flow]\nstart = \"m\"\n[nodes.m]\nkind = \"menu\"\ngreeting = \"menu\"\noptions = { \"1\" = \"m\", \"1\" = \"m\" }\nfallback = \"m\"\n");
        assert_eq!(m.len(), 1);
        assert!(m[0].starts_with("t.toml:6: "), "{m:?}");
        let m = messages(
            "[flow]\nstart = \"m\"\n[nodes.m]\nkind = \"play\"\nprompts = [\"welcome\"]\n",
        );
        assert!(
            m[0].starts_with("t.toml:3: node \"m\" (play): missing field `next`"),
            "{m:?}"
        );
    }

    #[test]
    fn http_node_checks() {
        let m = messages(
            "[flow]\nstart = \"h\"\n[nodes.h]\nkind = \"http\"\nurl = \"ftp://api/x\"\nset = { v = \"field\" }\nnext = \"b\"\nfallback = \"b\"\n[nodes.b]\nkind = \"hangup\"\n",
        );
        assert!(
            m.iter().any(|e| e.starts_with(
                "t.toml:5: node \"h\": url: \"ftp://api/x\": expected an http:// or https:// URL"
            )),
            "{m:?}"
        );
        assert!(
            m.iter()
                .any(|e| e.starts_with("t.toml:6: node \"h\": set: v = \"field\": a JSON pointer")),
            "{m:?}"
        );
    }

    #[test]
    fn every_error_of_a_file_is_reported_in_one_pass() {
        // The start node's first field fails to parse; behind it a wrong
        // prompt, a bad digit, an unknown queue and a bad time zone. All
        // are reported, and the broken start node causes no cascade.
        let text = r#"[flow]
start = "main"

[schedule]
timezone = "Europe/Pariss"
hours = { mon = ["08:00-18:00"] }

[nodes.main]
kind = "menu"
tries = "deux"
greeting = "menuu"
options = { "12" = "q", "2" = "closed" }
fallback = "q"

[nodes.q]
kind = "queue"
queue = "generale"
fallback = "closed"

[nodes.closed]
kind = "hangup"
prompt = "closed"
"#;
        let queues = ["general".to_string()];
        let prompts = |p: &str| ["welcome", "menu", "info", "closed"].contains(&p);
        let known = Known {
            prompt: &prompts,
            queues: Some(&queues),
        };
        let m: Vec<String> = Flow::parse(text, "t.toml", "t", Path::new("."), &known)
            .unwrap_err()
            .iter()
            .map(|e| e.to_string())
            .collect();
        let has = |prefix: &str| {
            assert!(
                m.iter().any(|e| e.starts_with(prefix)),
                "{prefix:?} not in {m:#?}"
            )
        };
        has("t.toml:5: [schedule]: timezone: \"Europe/Pariss\" is not an IANA");
        has("t.toml:10: node \"main\" (menu): tries: invalid type: string \"deux\"");
        has("t.toml:11: node \"main\": greeting: prompt \"menuu\" does not exist");
        has("t.toml:12: node \"main\": options: \"12\" is not one DTMF digit");
        has("t.toml:17: node \"q\": queue: queue \"generale\" is not configured (queues: general)");
        assert_eq!(m.len(), 5, "nothing else, no cascade: {m:#?}");
    }

    #[test]
    fn a_node_that_cannot_be_built_does_not_cascade() {
        // "a" has no kind: reported once; "b", which only "a" leads to, is
        // not called unreachable, and start still names a node.
        let m = messages(
            "[flow]\nstart = \"a\"\n[nodes.a]\nnext = \"b\"\n[nodes.b]\nkind = \"hangup\"\n",
        );
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].starts_with("t.toml:3: node \"a\": `kind"), "{m:?}");
        let m = messages("[flow]\nstrat = \"a\"\n[nodes.a]\nkind = \"hangup\"\n[extra]\n");
        assert!(
            m.iter()
                .any(|e| e.starts_with("t.toml:1: [flow]: missing field `start`")),
            "{m:?}"
        );
        assert!(
            m.iter()
                .any(|e| e.starts_with("t.toml:2: [flow]: unknown field `strat`")),
            "{m:?}"
        );
        assert!(
            m.iter()
                .any(|e| e.starts_with("t.toml:5: unknown table or key \"extra\"")),
            "{m:?}"
        );
    }

    #[test]
    fn loops_through_a_menu_are_fine() {
        // main -> main on "0" is a caller choice, not a spin.
        assert!(parse(GOOD).is_ok());
    }
}
