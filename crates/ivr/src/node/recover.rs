//! Parsing a node table the way a compiler does: every bad field of a node
//! is reported in one pass. serde stops at the first field that fails, so a
//! failed field is reported, replaced by a placeholder its type accepts (or
//! dropped when optional or unknown), and the node parsed again, until it
//! parses or no placeholder fits. Checks later skip the placeholders, so a
//! repaired field never causes a second, made-up error.

use std::collections::HashSet;

use serde_path_to_error::Segment;

use super::Node;

/// The text a failed string field is replaced with; never a valid node,
/// prompt or queue name (it holds a NUL).
pub const REPAIRED: &str = "\u{0}repaired";

/// What parsing one table gave.
#[derive(Debug)]
pub struct Repaired<T> {
    /// The value, with placeholders in the fields listed in `repaired`;
    /// `None` when it could not be built at all.
    pub value: Option<T>,
    /// (field when known, message) for each problem, in the order found.
    pub errors: Vec<(Option<String>, String)>,
    /// Fields holding a placeholder or dropped.
    pub repaired: HashSet<String>,
}

/// A failed parse: the top-level field it failed on, when known, and why.
pub type Failure = (Option<String>, String);

/// Deserialize a table, saying which top-level field failed.
pub fn deserialize<T: serde::de::DeserializeOwned>(t: &toml::Table) -> Result<T, Failure> {
    serde_path_to_error::deserialize(toml::Value::Table(t.clone())).map_err(|e| {
        let key = e.path().iter().next().and_then(|s| match s {
            Segment::Map { key } => Some(key.clone()),
            _ => None,
        });
        (key, e.inner().message().trim().to_string())
    })
}

fn parse_once(kind: &str, t: &toml::Table) -> Result<Node, Failure> {
    Ok(match kind {
        "play" => Node::Play(deserialize(t)?),
        "menu" => Node::Menu(deserialize(t)?),
        "collect" => Node::Collect(deserialize(t)?),
        "branch" => Node::Branch(deserialize(t)?),
        "set" => Node::Set(deserialize(t)?),
        "goto" => Node::Goto(deserialize(t)?),
        "hangup" => Node::Hangup(deserialize(t)?),
        "http" => Node::Http(deserialize(t)?),
        "queue" => Node::Queue(deserialize(t)?),
        "transfer" => Node::Transfer(deserialize(t)?),
        other => {
            return Err((
                None,
                format!(
                    "unknown node kind {other:?}: expected one of {}",
                    super::KINDS
                ),
            ))
        }
    })
}

/// The name between backticks after `prefix` in a serde message
/// ("missing field `next`", "unknown field `nxt`, expected ...").
fn field_after(message: &str, prefix: &str) -> Option<String> {
    let rest = &message[message.find(prefix)? + prefix.len()..];
    Some(rest[..rest.find('`')?].to_string())
}

/// Whether a failure is about `key` (so its placeholder did not fit).
fn about(f: &Failure, key: &str) -> bool {
    f.0.as_deref() == Some(key)
        || field_after(&f.1, "missing field `").as_deref() == Some(key)
        || field_after(&f.1, "unknown field `").as_deref() == Some(key)
}

fn placeholders() -> [toml::Value; 6] {
    [
        toml::Value::String(REPAIRED.into()),
        toml::Value::Integer(0),
        toml::Value::Boolean(false),
        toml::Value::Array(Vec::new()),
        toml::Value::Table(toml::Table::new()),
        toml::Value::Float(0.0),
    ]
}

/// Parse a node table (its `kind` already removed), reporting every bad
/// field.
pub fn parse_all(kind: &str, t: toml::Table) -> Repaired<Node> {
    repair(t, |t| parse_once(kind, t))
}

/// Parse a table with `parse`, reporting every bad field.
pub fn repair<T>(
    mut t: toml::Table,
    parse_once: impl Fn(&toml::Table) -> Result<T, Failure>,
) -> Repaired<T> {
    let mut out = Repaired {
        value: None,
        errors: Vec::new(),
        repaired: HashSet::new(),
    };
    // Each round fixes one field; a table has far fewer.
    for _ in 0..64 {
        let failure = match parse_once(&t) {
            Ok(value) => {
                out.value = Some(value);
                return out;
            }
            Err(f) => f,
        };
        if let Some(unknown) = field_after(&failure.1, "unknown field `") {
            t.remove(&unknown);
            out.repaired.insert(unknown.clone());
            out.errors.push((Some(unknown), failure.1));
            continue;
        }
        let missing = field_after(&failure.1, "missing field `");
        let Some(key) = missing.clone().or(failure.0.clone()) else {
            out.errors.push(failure); // not about one field: nothing to repair
            return out;
        };
        out.errors.push((Some(key.clone()), failure.1));
        if !out.repaired.insert(key.clone()) {
            return out; // already repaired once and still failing
        }
        let mut fixed = false;
        if missing.is_none() {
            let mut without = t.clone();
            without.remove(&key);
            if parse_once(&without).map_or_else(|f| !about(&f, &key), |_| true) {
                t = without;
                fixed = true;
            }
        }
        for value in placeholders() {
            if fixed {
                break;
            }
            let mut with = t.clone();
            with.insert(key.clone(), value);
            if parse_once(&with).map_or_else(|f| !about(&f, &key), |_| true) {
                t = with;
                fixed = true;
            }
        }
        if !fixed {
            return out;
        }
    }
    out
}

/// Every string in a table, at any depth (the targets of a node that could
/// not be built, so that what it leads to is not called unreachable).
pub fn strings(t: &toml::Table) -> Vec<&str> {
    fn walk<'a>(v: &'a toml::Value, out: &mut Vec<&'a str>) {
        match v {
            toml::Value::String(s) => out.push(s),
            toml::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            toml::Value::Table(t) => t.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    t.values().for_each(|v| walk(v, &mut out));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn every_bad_field_of_a_node_is_reported() {
        // A menu with a wrong type for `tries`, an unknown field and a
        // missing `fallback`: three errors, and the node still comes out.
        let p = parse_all(
            "menu",
            table("greeting = \"menu\"\noptions = { \"1\" = \"a\" }\ntries = \"two\"\ncolour = \"red\"\n"),
        );
        let keys: Vec<_> = p.errors.iter().map(|(k, _)| k.clone().unwrap()).collect();
        assert!(keys.contains(&"tries".to_string()), "{:?}", p.errors);
        assert!(keys.contains(&"colour".to_string()), "{:?}", p.errors);
        assert!(keys.contains(&"fallback".to_string()), "{:?}", p.errors);
        assert_eq!(p.errors.len(), 3, "{:?}", p.errors);
        let Some(Node::Menu(m)) = p.value else {
            panic!("repaired node expected")
        };
        assert_eq!(m.fallback, REPAIRED);
    }

    #[test]
    fn a_good_node_has_no_error_and_a_bad_kind_no_node() {
        let p = parse_all("play", table("prompts = [\"welcome\"]\nnext = \"x\"\n"));
        assert!(p.errors.is_empty() && p.value.is_some());
        let p = parse_all("teleport", table("next = \"x\"\n"));
        assert!(p.value.is_none());
        assert!(
            p.errors[0].1.contains("unknown node kind"),
            "{:?}",
            p.errors
        );
    }
}
