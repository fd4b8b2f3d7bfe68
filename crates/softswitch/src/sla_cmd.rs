//! `softswitch sla`: KPIs over the call records of a CDR directory or of
//! one JSONL file, grouped, checked against the `[sla]` targets, printed
//! as a table, CSV or JSON.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use cdr::CallRecord;
use chrono::{DateTime, NaiveDate, Utc};
use sla::{Dimension, Format, Grouping, Period};

use crate::config::Config;

/// `softswitch sla` options.
#[derive(clap::Args)]
pub struct Args {
    /// CDR directory (var/cdr: cdr-YYYY-MM-DD.jsonl files) or one .jsonl file.
    #[arg(long)]
    cdr: PathBuf,
    /// Calls that arrived from this time: RFC 3339, or a date YYYY-MM-DD
    /// (midnight in the [sla] time zone).
    #[arg(long)]
    from: Option<String>,
    /// Calls that arrived before this time (same forms as --from).
    #[arg(long)]
    to: Option<String>,
    /// Time slots: halfhour, hour, day, week (ISO) or month.
    #[arg(long)]
    by: Option<String>,
    /// table, csv or json.
    #[arg(long, default_value = "table")]
    format: String,
    /// Configuration file, for [sla] (targets, switches) and, with
    /// --split-hours, the flows and DIDs.
    #[arg(long)]
    config: Option<PathBuf>,
    /// CSV field separator (one character, e.g. ';').
    #[arg(long, default_value = ",")]
    separator: String,
    /// Also group by queue, flow or did.
    #[arg(long)]
    group_by: Option<String>,
    /// Split business hours (HO) from the rest (HNO), by the schedule of
    /// each call's flow.
    #[arg(long)]
    split_hours: bool,
}

pub fn run(args: &Args) -> ExitCode {
    match report(args) {
        Ok(text) => {
            // A closed pipe (`| head`) is not an error.
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("softswitch sla: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn report(args: &Args) -> Result<String> {
    let period: Option<Period> = args
        .by
        .as_deref()
        .map(str::parse)
        .transpose()
        .context("--by")?;
    let dimension: Option<Dimension> = args
        .group_by
        .as_deref()
        .map(str::parse)
        .transpose()
        .context("--group-by")?;
    let format: Format = args.format.parse().context("--format")?;
    let separator = separator(&args.separator)?;
    let cfg = Config::load(args.config.as_deref())?;
    let tz = cfg.sla.timezone;
    let from = args
        .from
        .as_deref()
        .map(|t| time(t, tz).context("--from"))
        .transpose()?;
    let to = args
        .to
        .as_deref()
        .map(|t| time(t, tz).context("--to"))
        .transpose()?;
    if let (Some(f), Some(t)) = (from, to) {
        if f >= t {
            bail!(
                "--from ({}) is not before --to ({})",
                f.to_rfc3339(),
                t.to_rfc3339()
            );
        }
    }

    // Later calls too: first-contact resolution looks for repeats there.
    let records = load(
        &args.cdr,
        from,
        to.map(|t| t + sla::report::lookahead(&cfg.sla)),
    )?;
    let hours = args.split_hours.then(|| business_hours(&cfg)).transpose()?;
    let grouping = Grouping {
        period,
        tz,
        dimension,
        hours: hours.as_ref().map(|f| f as &sla::HoursFn),
    };
    let mut lines = sla::report::over(&records, from, to, &grouping, &cfg.sla);
    // Agent idle share comes from the agent-state journal beside the CDRs.
    if args.cdr.is_dir() {
        let states = cdr::agents::read_agent_states(&args.cdr)
            .with_context(|| format!("reading the agent states in {}", args.cdr.display()))?;
        if !states.is_empty() {
            lines.extend(sla::report::agent_lines(&states, from, to, &cfg.sla));
        }
        // Availability (GAP01) from the uptime journal beside them.
        let beats = cdr::uptime::read_uptime(&args.cdr)
            .with_context(|| format!("reading the uptime journal in {}", args.cdr.display()))?;
        lines.extend(sla::report::availability_lines(&beats, from, to, &cfg.sla));
    }
    Ok(sla::format::render(&lines, format, separator)?)
}

fn separator(s: &str) -> Result<char> {
    let mut chars = s.chars();
    match (s, chars.next(), chars.next()) {
        ("tab" | "\\t", _, _) => Ok('\t'),
        (_, Some(c), None) => Ok(c),
        _ => bail!("--separator {s:?}: expected one character, e.g. ';'"),
    }
}

/// An RFC 3339 time, or a date meaning its local midnight in `tz`.
fn time(s: &str, tz: chrono_tz::Tz) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        Ok(d) => Ok(sla::group::local_midnight(tz, d)),
        Err(_) => bail!(
            "cannot read {s:?}: expected RFC 3339 (2026-10-25T08:00:00+01:00) or a date (2026-10-25)"
        ),
    }
}

/// The records of a CDR directory or file that ended from `from` and
/// before `until`; a bad line is reported as `file:line: message`.
fn load(
    path: &Path,
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> Result<Vec<CallRecord>> {
    let meta = std::fs::metadata(path).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    if meta.is_dir() {
        return cdr::read_records(path, from, until).map_err(|e| match e.kind() {
            // Already `file:line: message`.
            std::io::ErrorKind::InvalidData => anyhow!(e),
            _ => anyhow!("{}: {e}", path.display()),
        });
    }
    let text = std::fs::read_to_string(path).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            serde_json::from_str(line).map_err(|e| anyhow!("{}:{}: {e}", path.display(), n + 1))
        })
        .collect()
}

/// Business hours of a call: the schedule of its flow (for refused calls,
/// the flow its DID leads to) at its arrival, from the flows as they are
/// now; unknown when the flow is not there.
fn business_hours(cfg: &Config) -> Result<impl Fn(&CallRecord) -> Option<bool>> {
    let flows = ivr::FlowSet::load_dir(&cfg.flows.dir, &ivr::Known::prompts(&|_| true)).map_err(
        |errs| {
            let errs: Vec<String> = errs.iter().map(ToString::to_string).collect();
            anyhow!("--split-hours needs the flows:\n{}", errs.join("\n"))
        },
    )?;
    let dids: HashMap<String, String> = cfg.trunks.iter().flat_map(|t| t.dids.clone()).collect();
    Ok(move |r: &CallRecord| {
        let flow = match (&r.flow, &r.did) {
            (Some(f), _) => f,
            (None, Some(did)) => dids.get(did)?,
            (None, None) => return None,
        };
        Some(flows.get(flow)?.schedule.is_open(r.arrived_at))
    })
}
