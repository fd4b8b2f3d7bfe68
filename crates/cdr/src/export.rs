//! Exports for analysts: CSV (chosen columns, `;` for French spreadsheet
//! users, caller number masked on its last 4 digits when asked) and JSONL.

use std::io::Write;

use serde_json::Value;

use crate::event::{CallEvent, EventKind};
use crate::record::CallRecord;

/// Columns of a CSV export when none are chosen.
pub const DEFAULT_COLUMNS: &[&str] = &[
    "record_id",
    "arrived_at",
    "answered_at",
    "ended_at",
    "trunk",
    "did",
    "flow",
    "caller",
    "caller_class",
    "test_number",
    "outcome",
    "dissuasion",
    "sip_code",
    "ended_by",
    "end_reason",
    "queue",
    "queued_at",
    "agent",
    "agent_answered_at",
    "wait_ms",
    "talk_ms",
    "wrapup_ms",
    "disposition",
    "short_abandon",
    "duration_ms",
];

/// Why an export cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A chosen column is not a record field.
    #[error("unknown column {column:?}; a column is a record field: {known}")]
    UnknownColumn {
        /// The column asked for.
        column: String,
        /// Every record field, comma-separated (for the message).
        known: String,
    },
    /// The separator is not one ASCII character (or is `"` or a newline).
    #[error("the CSV separator must be one ASCII character, not {0:?}")]
    Separator(String),
    /// Writing the output failed.
    #[error("writing the export: {0}")]
    Io(#[from] std::io::Error),
    /// The CSV writer failed.
    #[error("writing the export: {0}")]
    Csv(#[from] csv::Error),
}

/// How records are exported.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The record fields written as CSV columns, in order.
    pub columns: Vec<String>,
    /// The CSV field separator (`,` unless chosen).
    pub separator: u8,
    /// Replace the last 4 digits of the caller's number with `X`.
    pub mask_caller: bool,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            columns: DEFAULT_COLUMNS.iter().map(|c| c.to_string()).collect(),
            separator: b',',
            mask_caller: false,
        }
    }
}

impl ExportOptions {
    /// Options from their text form (`a,b,c`, `;`), checked.
    pub fn parse(
        columns: Option<&str>,
        separator: Option<&str>,
        mask_caller: bool,
    ) -> Result<ExportOptions, ExportError> {
        let mut opts = ExportOptions {
            mask_caller,
            ..ExportOptions::default()
        };
        if let Some(cols) = columns.filter(|c| !c.trim().is_empty()) {
            opts.columns = cols.split(',').map(|c| c.trim().to_string()).collect();
        }
        if let Some(sep) = separator {
            opts.separator = match sep.as_bytes() {
                [b] if b.is_ascii() && *b != b'"' && *b != b'\n' => *b,
                _ if sep == "\\t" => b'\t',
                _ => return Err(ExportError::Separator(sep.to_string())),
            };
        }
        let known = field_names();
        if let Some(bad) = opts.columns.iter().find(|c| !known.contains(c)) {
            return Err(ExportError::UnknownColumn {
                column: bad.clone(),
                known: known.join(", "),
            });
        }
        Ok(opts)
    }
}

/// Every field name of a record, in order.
pub fn field_names() -> Vec<String> {
    let ev = CallEvent::now(
        "x",
        EventKind::Arrived {
            sip_call_id: String::new(),
            trunk: None,
            did: None,
            flow: None,
            caller: None,
            caller_withheld: true,
            source: String::new(),
            transport: String::new(),
        },
    );
    let sample = CallRecord::open(&ev).expect("an Arrived event opens a record");
    match serde_json::to_value(sample) {
        Ok(Value::Object(m)) => m.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// `0612345678` -> `061234XXXX`: the last 4 digits hidden.
pub fn mask_number(number: &str) -> String {
    let mut left = 4;
    let mut out: Vec<char> = number.chars().collect();
    for c in out.iter_mut().rev() {
        if left == 0 {
            break;
        }
        if c.is_ascii_digit() {
            *c = 'X';
            left -= 1;
        }
    }
    out.into_iter().collect()
}

/// Mask every field of a record (as JSON) that can carry a number: the
/// caller, the source address, the digits entered (as one number: its last
/// 4), each step's input, the transfer destination.
pub fn mask_record(v: &mut Value) {
    let masked_string = |v: Option<&mut Value>| {
        if let Some(Value::String(s)) = v {
            *s = mask_number(s);
        }
    };
    masked_string(v.get_mut("caller"));
    // The source address: its host part (the port says nothing).
    if let Some(Value::String(s)) = v.get_mut("source") {
        *s = match s.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') || host.ends_with(']') => {
                format!("{}:{port}", mask_number(host))
            }
            _ => mask_number(s),
        };
    }
    masked_string(v.get_mut("transfer_out").and_then(|t| t.get_mut("to")));
    if let Some(Value::Array(steps)) = v.get_mut("steps") {
        for s in steps {
            masked_string(s.get_mut("input"));
        }
    }
    if let Some(Value::Array(digits)) = v.get_mut("digits") {
        for d in digits.iter_mut().rev().take(4) {
            if let Some(Value::String(c)) = d.get_mut("digit") {
                if c.chars().all(|c| c.is_ascii_digit()) {
                    *c = "X".into();
                }
            }
        }
    }
}

fn as_value(r: &CallRecord, mask: bool) -> Result<Value, ExportError> {
    let mut v = serde_json::to_value(r).map_err(std::io::Error::from)?;
    if mask {
        mask_record(&mut v);
    }
    Ok(v)
}

/// A CSV cell; one starting with `= + - @` (or a tab or carriage return)
/// gets a leading `'`, so that a spreadsheet shows it instead of running
/// it as a formula.
fn cell(v: Option<&Value>) -> String {
    let s = match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => return n.to_string(),
        Some(other) => other.to_string(),
    };
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s
    }
}

/// Write a header line then one line per record.
pub fn write_csv<'a, W: Write>(
    records: impl IntoIterator<Item = &'a CallRecord>,
    opts: &ExportOptions,
    out: W,
) -> Result<(), ExportError> {
    let mut w = csv::WriterBuilder::new()
        .delimiter(opts.separator)
        .from_writer(out);
    w.write_record(&opts.columns)?;
    for r in records {
        let v = as_value(r, opts.mask_caller)?;
        w.write_record(opts.columns.iter().map(|c| cell(v.get(c))))?;
    }
    w.flush()?;
    Ok(())
}

/// One JSON object per line, as in the journal.
pub fn write_jsonl<'a, W: Write>(
    records: impl IntoIterator<Item = &'a CallRecord>,
    mask_caller: bool,
    mut out: W,
) -> Result<(), ExportError> {
    for r in records {
        serde_json::to_writer(&mut out, &as_value(r, mask_caller)?)
            .map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// The records as one JSON array.
pub fn write_json<'a, W: Write>(
    records: impl IntoIterator<Item = &'a CallRecord>,
    mask_caller: bool,
    mut out: W,
) -> Result<(), ExportError> {
    out.write_all(b"[")?;
    for (i, r) in records.into_iter().enumerate() {
        if i > 0 {
            out.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut out, &as_value(r, mask_caller)?)
            .map_err(std::io::Error::from)?;
    }
    out.write_all(b"]\n")?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Party;

    fn record(caller: &str) -> CallRecord {
        let mut r = CallRecord::open(&CallEvent::now(
            "r1",
            EventKind::Arrived {
                sip_call_id: "c1".into(),
                trunk: Some("local".into()),
                did: Some("3422".into()),
                flow: Some("demo; \"main\"".into()),
                caller: Some(caller.into()),
                caller_withheld: false,
                source: "127.0.0.1:1".into(),
                transport: "UDP".into(),
            },
        ))
        .unwrap();
        r.apply(&CallEvent::now(
            "r1",
            EventKind::Ended {
                by: Party::Caller,
                reason: "cancel".into(),
            },
        ));
        r
    }

    #[test]
    fn masks_the_last_four_digits() {
        assert_eq!(mask_number("0612345678"), "061234XXXX");
        assert_eq!(mask_number("+33 6 12 34 56 78"), "+33 6 12 34 XX XX");
        assert_eq!(mask_number("12"), "XX");
    }

    #[test]
    fn csv_with_semicolons_quotes_and_masking() {
        let opts = ExportOptions::parse(
            Some("record_id,flow,caller,outcome,sip_code,digits"),
            Some(";"),
            true,
        )
        .unwrap();
        let mut out = Vec::new();
        write_csv([&record("0612345678")], &opts, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "record_id;flow;caller;outcome;sip_code;digits\n\
             r1;\"demo; \"\"main\"\"\";061234XXXX;cancelled;487;[]\n"
        );
    }

    #[test]
    fn masking_covers_every_number_and_formulas_are_neutralised() {
        let mut r = record("0612345678");
        let at = r.arrived_at;
        r.source = "203.0.113.45:5060".into();
        for d in "1234567".chars() {
            r.digits.push(crate::record::DigitRecord {
                digit: d,
                source: crate::event::DigitSource::Rfc4733,
                at,
            });
        }
        r.steps.push(crate::record::StepRecord {
            node: "account".into(),
            kind: "collect".into(),
            input: Some("40012345".into()),
            at,
        });
        r.transfer_out = Some(crate::record::TransferOutRecord {
            to: "0145678901".into(),
            trunk: None,
            at,
            answered_at: None,
            ended_at: None,
            result: None,
            sip_code: None,
            ended_by: None,
        });
        let v = as_value(&r, true).unwrap();
        let text = v.to_string();
        for secret in ["5678", "113.45", "2345", "8901", "4567\"", "34567"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(v["steps"][0]["input"], "4001XXXX");
        assert_eq!(v["source"], "203.0.1XX.XX:5060");
        let digits: String = v["digits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["digit"].as_str().unwrap())
            .collect();
        assert_eq!(digits, "123XXXX");
        // A caller id that is a formula stays text in a spreadsheet.
        let opts = ExportOptions::parse(Some("caller,flow"), None, false).unwrap();
        let mut out = Vec::new();
        write_csv([&record("=HYPERLINK(\"x\")")], &opts, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.lines().nth(1).unwrap().starts_with("\"'=HYPERLINK"),
            "{text}"
        );
    }

    #[test]
    fn bad_options_say_what_is_expected() {
        let e = ExportOptions::parse(Some("record_id,colour"), None, false).unwrap_err();
        assert!(e.to_string().contains("\"colour\""), "{e}");
        assert!(e.to_string().contains("wait_ms"), "{e}");
        assert!(ExportOptions::parse(None, Some(";;"), false).is_err());
        assert_eq!(
            ExportOptions::parse(None, Some("\\t"), false)
                .unwrap()
                .separator,
            b'\t'
        );
    }

    #[test]
    fn jsonl_and_json_round_trip() {
        let recs = [record("0612345678"), record("0184903422")];
        let mut out = Vec::new();
        write_jsonl(&recs, false, &mut out).unwrap();
        let back: Vec<CallRecord> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(back, recs);
        let mut out = Vec::new();
        write_json(&recs, true, &mut out).unwrap();
        let arr: Vec<CallRecord> = serde_json::from_slice(&out).unwrap();
        assert_eq!(arr[1].caller.as_deref(), Some("018490XXXX"));
    }
}
