//! Reading the JSONL files the writer keeps (records, agent states,
//! uptime): one object per line, errors as `file:line: message`.

use std::io;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// Every line of the `*.jsonl` files of `dir` that `keep_file` accepts,
/// files in name order (their names carry their day). A missing `dir` is
/// an error when `must_exist`, else no line at all.
pub(crate) fn read_dir<T: DeserializeOwned>(
    dir: &Path,
    must_exist: bool,
    keep_file: impl Fn(&Path) -> bool,
) -> io::Result<Vec<T>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if !must_exist && e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl") && keep_file(p))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path)?;
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            out.push(serde_json::from_str(line).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}:{}: {e}", path.display(), n + 1),
                )
            })?);
        }
    }
    Ok(out)
}
