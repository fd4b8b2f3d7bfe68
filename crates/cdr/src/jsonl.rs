//! Reading the JSONL files the writer keeps (records, agent states,
//! uptime): one object per line, errors as `file:line: message`.

use std::io;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// Every line of the `*.jsonl` files of `dir` that `keep_file` accepts,
/// files in name order (their names carry their day). A missing `dir` is
/// an error when `must_exist`, else no line at all. A last line with no
/// newline yet is being written by the running server (a reader may see
/// part of a `write`): it is left for the next read, not an error.
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
        let complete = text.rfind('\n').map_or("", |end| &text[..end]);
        for (n, line) in complete.lines().enumerate() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_still_being_written_is_left_for_the_next_read() {
        let dir = std::env::temp_dir().join(format!("jsonl-{}", crate::event::new_record_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("2026-12-05.jsonl");
        std::fs::write(&file, "{\"n\":1}\n{\"n\":2}\n{\"n\":").unwrap();
        let read = |dir: &Path| read_dir::<serde_json::Value>(dir, true, |_| true);
        assert_eq!(read(&dir).unwrap().len(), 2);
        // A broken line that is complete is still an error, named by line.
        std::fs::write(&file, "{\"n\":1}\n{\"n\":\n{\"n\":3}\n").unwrap();
        let err = read(&dir).unwrap_err().to_string();
        assert!(err.contains("2026-12-05.jsonl:2:"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
