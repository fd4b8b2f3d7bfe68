//! `softswitch audit verify|export`: check the audit log's hash chain and
//! anchors (exit 1 and one `place: problem` line each when it was
//! tampered with), and export a time range for an auditor (JSONL that
//! checks on its own, or CSV for a spreadsheet).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Subcommand};

use crate::config::Config;

#[derive(Args)]
pub struct AuditArgs {
    /// Configuration file (its data directory holds the audit log).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// The audit folder, instead of the configuration's.
    #[arg(long, global = true)]
    dir: Option<PathBuf>,
    #[command(subcommand)]
    cmd: AuditCmd,
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Check every line's hash and link, and the anchors.
    Verify {
        /// Check one exported file instead (its chain alone).
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Lines between two times (RFC 3339 or dates, UTC).
    Export {
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: Option<String>,
        /// jsonl (as written: verifiable) or csv.
        #[arg(long, default_value = "jsonl")]
        format: String,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn time(name: &str, v: Option<&str>) -> anyhow::Result<Option<DateTime<Utc>>> {
    let Some(v) = v else { return Ok(None) };
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(Some(t.to_utc()));
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return Ok(Some(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc()));
    }
    anyhow::bail!("--{name} {v:?}: expected 2026-11-23 or 2026-11-23T09:00:00Z")
}

pub fn run(a: &AuditArgs) -> ExitCode {
    match exec(a) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("softswitch audit: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn exec(a: &AuditArgs) -> anyhow::Result<ExitCode> {
    let dir = match &a.dir {
        Some(d) => d.clone(),
        None => Config::load(a.config.as_deref())?.data.dir.join("audit"),
    };
    match &a.cmd {
        AuditCmd::Verify { file } => {
            let target = file.clone().unwrap_or(dir);
            let r = auth::audit::verify(&target)?;
            for p in &r.problems {
                println!("{}: {}", p.place, p.what);
            }
            let span = match (r.first_seq, r.last_seq) {
                (Some(f), Some(l)) => format!("lines {f} to {l}"),
                _ => "no line".into(),
            };
            if r.ok() {
                println!(
                    "audit log intact: {} line(s) in {} file(s), {span}, {} anchor(s) checked",
                    r.lines, r.files, r.anchors_checked
                );
                Ok(ExitCode::SUCCESS)
            } else {
                println!(
                    "audit log TAMPERED: {} problem(s) in {} line(s), {span}",
                    r.problems.len(),
                    r.lines
                );
                Ok(ExitCode::FAILURE)
            }
        }
        AuditCmd::Export {
            from,
            to,
            format,
            out,
        } => {
            let lines = auth::audit::read(
                &dir,
                time("from", from.as_deref())?,
                time("to", to.as_deref())?,
            )?;
            let mut w: Box<dyn Write> = match out {
                Some(p) => Box::new(std::fs::File::create(p)?),
                None => Box::new(std::io::stdout().lock()),
            };
            match format.as_str() {
                "jsonl" => {
                    for l in &lines {
                        writeln!(w, "{l}")?;
                    }
                }
                "csv" => auth::audit::export_csv(&lines, &mut w)?,
                other => anyhow::bail!("--format {other:?}: expected jsonl or csv"),
            }
            w.flush()?;
            eprintln!("{} line(s) exported", lines.len());
            Ok(ExitCode::SUCCESS)
        }
    }
}
