//! `softswitch check-flow FILE...`: validate flows without running anything
//! (every error of every file, queue names against the configuration).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ivr::Flow;

/// Prompt names available in `dir` (file stems of audio files).
fn prompt_names(dir: &Path) -> Result<HashSet<String>, String> {
    let rd = std::fs::read_dir(dir).map_err(|e| {
        format!(
            "{}: cannot read the prompts directory ({e}); pass --prompts DIR",
            dir.display()
        )
    })?;
    Ok(rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().and_then(|x| x.to_str()).is_some_and(|x| {
                media::prompt::EXTENSIONS.contains(&x.to_ascii_lowercase().as_str())
            })
        })
        .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_string))
        .collect())
}

pub fn run(files: &[PathBuf], prompts: &Path, config: Option<&Path>) -> ExitCode {
    let names = match prompt_names(prompts) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let queues = match crate::config::Config::load(config) {
        Ok(c) => c.queue_names(),
        Err(e) => {
            eprintln!("{e:#}\n(the flows' queue names are checked against the configuration; pass --config FILE)");
            return ExitCode::FAILURE;
        }
    };
    let has_prompt = |p: &str| names.contains(p);
    let known = ivr::Known {
        prompt: &has_prompt,
        queues: Some(&queues),
    };
    let mut failed = false;
    for f in files {
        match Flow::load(f, &known) {
            Ok(flow) => println!(
                "{}: ok (flow {:?}, {} nodes)",
                f.display(),
                flow.name,
                flow.nodes.len()
            ),
            Err(errs) => {
                failed = true;
                for e in errs {
                    eprintln!("{e}");
                }
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
