//! Report output: an aligned text table, CSV (any one-character
//! separator, `;` for spreadsheets set to French) or JSON (an array of the
//! report lines).

use std::str::FromStr;

use crate::error::Error;
use crate::report::ReportLine;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns for a terminal.
    Table,
    /// CSV (separator configurable), one line per group and KPI.
    Csv,
    /// JSON, one object per group and KPI.
    Json,
}

impl FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Format, Error> {
        match s {
            "table" => Ok(Format::Table),
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            _ => Err(Error::UnknownFormat(s.to_string())),
        }
    }
}

/// Render `lines`; `separator` is for CSV.
pub fn render(lines: &[ReportLine], format: Format, separator: char) -> Result<String, Error> {
    match format {
        Format::Table => Ok(table(lines)),
        Format::Csv => csv(lines, separator),
        Format::Json => json(lines),
    }
}

const HEADER: [&str; 10] = [
    "group",
    "kpi",
    "value",
    "unit",
    "numerator",
    "denominator",
    "target",
    "penalty",
    "status",
    "alias",
];

/// A whole number without decimals, else up to 4 decimals.
fn plain(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The fields of a line, as text, in [`HEADER`] order.
fn fields(l: &ReportLine) -> [String; 10] {
    let opt = |v: Option<f64>| v.map(plain).unwrap_or_default();
    [
        l.group.clone(),
        l.kpi.clone(),
        l.value
            .map(|v| format!("{v:.*}", l.unit.decimals() as usize))
            .unwrap_or_default(),
        l.unit.name().to_string(),
        opt(l.numerator),
        opt(l.denominator),
        opt(l.target),
        opt(l.penalty),
        l.status.map(|s| s.name().to_string()).unwrap_or_default(),
        l.alias.clone(),
    ]
}

/// Columns aligned with spaces, numbers to the right, `-` for no figure.
pub fn table(lines: &[ReportLine]) -> String {
    let rows: Vec<[String; 10]> = lines.iter().map(fields).collect();
    let mut widths = HEADER.map(|h| h.chars().count());
    for row in &rows {
        for (w, f) in widths.iter_mut().zip(row) {
            *w = (*w).max(f.chars().count().max(1));
        }
    }
    let numeric = |i: usize| (2..=7).contains(&i) && i != 3;
    let mut out = String::new();
    let header = HEADER.map(str::to_string);
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, f) in row.iter().enumerate() {
            let f = if f.is_empty() { "-" } else { f.as_str() };
            let pad = widths[i].saturating_sub(f.chars().count());
            if i > 0 {
                line.push_str("  ");
            }
            if numeric(i) {
                line.push_str(&" ".repeat(pad));
                line.push_str(f);
            } else if i + 1 == row.len() {
                line.push_str(f);
            } else {
                line.push_str(f);
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A header line, then one line per report line; fields holding the
/// separator, a quote or a line break are quoted. Decimals use `.`.
pub fn csv(lines: &[ReportLine], separator: char) -> Result<String, Error> {
    if matches!(separator, '"' | '.' | '\r' | '\n') {
        return Err(Error::BadSeparator(separator));
    }
    let quote = |f: &str| {
        if f.contains(separator) || f.contains(['"', '\r', '\n']) {
            format!("\"{}\"", f.replace('"', "\"\""))
        } else {
            f.to_string()
        }
    };
    let sep = separator.to_string();
    let mut out = HEADER.join(&sep);
    out.push('\n');
    for l in lines {
        let row: Vec<String> = fields(l).iter().map(|f| quote(f)).collect();
        out.push_str(&row.join(&sep));
        out.push('\n');
    }
    Ok(out)
}

/// A JSON array of the lines, one object per line.
pub fn json(lines: &[ReportLine]) -> Result<String, Error> {
    let mut s = serde_json::to_string_pretty(lines)?;
    s.push('\n');
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Unit;
    use crate::target::Status;

    fn lines() -> Vec<ReportLine> {
        vec![
            ReportLine {
                group: "2026-10-25".into(),
                kpi: "pickup_rate".into(),
                alias: "taux de décroché".into(),
                unit: Unit::Rate,
                value: Some(0.6667),
                numerator: Some(2.0),
                denominator: Some(3.0),
                target: Some(0.9),
                penalty: Some(0.89),
                status: Some(Status::Missed),
            },
            ReportLine {
                group: "queue=a;b".into(),
                kpi: "average_wait".into(),
                alias: "temps d'attente moyen".into(),
                unit: Unit::Seconds,
                value: None,
                numerator: Some(0.0),
                denominator: Some(0.0),
                target: Some(180.0),
                penalty: None,
                status: Some(Status::NoData),
            },
        ]
    }

    #[test]
    fn csv_with_a_semicolon_quotes_what_holds_one() {
        let out = csv(&lines(), ';').unwrap();
        assert_eq!(
            out,
            "group;kpi;value;unit;numerator;denominator;target;penalty;status;alias\n\
             2026-10-25;pickup_rate;0.6667;rate;2;3;0.9;0.89;missed;taux de décroché\n\
             \"queue=a;b\";average_wait;;s;0;0;180;;no_data;temps d'attente moyen\n"
        );
        assert!(csv(&lines(), '.').is_err());
    }

    #[test]
    fn plain_numbers_drop_trailing_zeros() {
        assert_eq!(plain(390.0), "390");
        assert_eq!(plain(0.1083), "0.1083");
        assert_eq!(plain(0.5), "0.5");
        assert_eq!(plain(2.00001), "2");
    }

    #[test]
    fn json_keeps_whole_numbers_whole() {
        let v: serde_json::Value = serde_json::from_str(&json(&lines()).unwrap()).unwrap();
        assert_eq!(v[0]["value"], serde_json::json!(0.6667));
        assert_eq!(v[0]["numerator"].to_string(), "2");
        assert_eq!(v[0]["status"], "missed");
        assert_eq!(v[0]["unit"], "rate");
        assert_eq!(v[1]["value"], serde_json::Value::Null);
        assert_eq!(v[1]["status"], "no_data");
    }

    #[test]
    fn table_aligns_columns() {
        let out = table(&lines());
        let rows: Vec<&str> = out.lines().collect();
        assert_eq!(rows.len(), 3);
        assert!(rows[0].starts_with("group       kpi"), "{out}");
        // Numbers end in the same column; no figure is `-`.
        let end = |row: &str, field: &str| row.find(field).unwrap() + field.len();
        assert_eq!(end(rows[0], "value"), end(rows[1], "0.6667"));
        assert!(rows[2].contains("average_wait       -"), "{out}");
    }
}
