//! Call records as an XLSX workbook (`rust_xlsxwriter`), for analysts who
//! open it in a spreadsheet: one sheet per local day, a frozen header row
//! of French labels with a filter, and typed cells (times as dates,
//! durations as `[h]:mm:ss`, yes/no as booleans), so that sums and sorts
//! work without any conversion.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate};
use chrono_tz::Tz;
use rust_xlsxwriter::{Format, Workbook, XlsxError};
use serde_json::Value;

use crate::export::{mask_record, DEFAULT_COLUMNS};
use crate::CallRecord;

/// The French label of a record field (the column header).
pub fn label_fr(field: &str) -> &str {
    match field {
        "record_id" => "Identifiant",
        "arrived_at" => "Arrivée",
        "answered_at" => "Décroché plateforme",
        "ended_at" => "Fin",
        "trunk" => "Trunk",
        "did" => "SDA",
        "flow" => "Parcours",
        "caller" => "Appelant",
        "caller_class" => "Type d'appelant",
        "test_number" => "Numéro de test",
        "outcome" => "Issue",
        "dissuasion" => "Dissuasion",
        "sip_code" => "Code SIP",
        "ended_by" => "Raccroché par",
        "end_reason" => "Motif de fin",
        "queue" => "File",
        "queued_at" => "Entrée en file",
        "agent" => "Agent",
        "agent_answered_at" => "Décroché agent",
        "wait_ms" => "Attente",
        "talk_ms" => "Conversation",
        "wrapup_ms" => "Post-appel",
        "disposition" => "Qualification",
        "short_abandon" => "Abandon court",
        "duration_ms" => "Durée",
        other => other,
    }
}

/// Why a workbook cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum XlsxExportError {
    /// The workbook writer failed.
    #[error("writing the workbook: {0}")]
    Xlsx(#[from] XlsxError),
    /// A record cannot be turned into JSON.
    #[error("reading a record: {0}")]
    Json(#[from] serde_json::Error),
}

/// The workbook of `records` (every number masked when `mask`), sheets by
/// the day each call arrived in `tz`.
pub fn write_xlsx(records: &[CallRecord], mask: bool, tz: Tz) -> Result<Vec<u8>, XlsxExportError> {
    let mut days: BTreeMap<NaiveDate, Vec<&CallRecord>> = BTreeMap::new();
    for r in records {
        days.entry(r.arrived_at.with_timezone(&tz).date_naive())
            .or_default()
            .push(r);
    }
    let mut wb = Workbook::new();
    let header = Format::new().set_bold().set_background_color("#DDE4EE");
    let when = Format::new().set_num_format("dd/mm/yyyy hh:mm:ss");
    let span = Format::new().set_num_format("[h]:mm:ss");
    if days.is_empty() {
        let ws = wb.add_worksheet();
        ws.set_name("Aucun appel")?;
        write_header(ws, &header)?;
    }
    for (day, recs) in days {
        let ws = wb.add_worksheet();
        ws.set_name(day.format("%d-%m-%Y").to_string())?;
        write_header(ws, &header)?;
        for (i, r) in recs.iter().enumerate() {
            let row = i as u32 + 1;
            let mut v = serde_json::to_value(r)?;
            if mask {
                mask_record(&mut v);
            }
            for (c, field) in DEFAULT_COLUMNS.iter().enumerate() {
                let col = c as u16;
                match (field, v.get(*field)) {
                    (_, None | Some(Value::Null)) => {}
                    (f, Some(Value::String(s))) if f.ends_with("_at") => {
                        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                            let local = t.to_utc().with_timezone(&tz).naive_local();
                            ws.write_datetime_with_format(row, col, local, &when)?;
                        }
                    }
                    (f, Some(Value::Number(n))) if f.ends_with("_ms") => {
                        let days = n.as_f64().unwrap_or(0.0) / 86_400_000.0;
                        ws.write_number_with_format(row, col, days, &span)?;
                    }
                    (_, Some(Value::Number(n))) => {
                        ws.write_number(row, col, n.as_f64().unwrap_or(0.0))?;
                    }
                    (_, Some(Value::Bool(b))) => {
                        ws.write_boolean(row, col, *b)?;
                    }
                    (_, Some(Value::String(s))) => {
                        // Written as a string cell: a formula-looking
                        // value stays text.
                        ws.write_string(row, col, s)?;
                    }
                    (_, Some(other)) => {
                        ws.write_string(row, col, other.to_string())?;
                    }
                }
            }
        }
        let last = recs.len() as u32;
        ws.autofilter(0, 0, last.max(1), DEFAULT_COLUMNS.len() as u16 - 1)?;
    }
    Ok(wb.save_to_buffer()?)
}

fn write_header(ws: &mut rust_xlsxwriter::Worksheet, header: &Format) -> Result<(), XlsxError> {
    for (c, field) in DEFAULT_COLUMNS.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, label_fr(field), header)?;
        ws.set_column_width(c as u16, if field.ends_with("_at") { 19 } else { 14 })?;
    }
    ws.set_freeze_panes(1, 0)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CallEvent, EventKind, Party};
    use calamine::{Data, Reader, Xlsx};

    fn record(id: &str, at: &str, caller: &str) -> CallRecord {
        let mut ev = CallEvent::now(
            id,
            EventKind::Arrived {
                sip_call_id: id.into(),
                trunk: Some("oxe".into()),
                did: Some("3422".into()),
                flow: Some("demo".into()),
                caller: Some(caller.into()),
                caller_withheld: false,
                source: "10.1.2.3:5060".into(),
                transport: "UDP".into(),
            },
        );
        ev.at = DateTime::parse_from_rfc3339(at).unwrap().to_utc();
        let mut r = CallRecord::open(&ev).unwrap();
        r.apply(&CallEvent::now(
            id,
            EventKind::Ended {
                by: Party::Caller,
                reason: "bye".into(),
            },
        ));
        r.wait_ms = Some(95_000);
        r
    }

    #[test]
    fn one_sheet_per_day_typed_cells_and_masking() {
        let recs = vec![
            record("a", "2026-12-03T22:30:00Z", "0612345678"), // 23:30 in Paris, the 3rd
            record("b", "2026-12-03T23:30:00Z", "=cmd|' /C calc'!A0"), // 00:30, the 4th
        ];
        let bytes = write_xlsx(&recs, true, chrono_tz::Europe::Paris).unwrap();
        let mut x: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(x.sheet_names(), vec!["03-12-2026", "04-12-2026"]);
        let s = x.worksheet_range("03-12-2026").unwrap();
        assert_eq!(s.get((0, 1)), Some(&Data::String("Arrivée".into())));
        let caller_col = DEFAULT_COLUMNS.iter().position(|c| *c == "caller").unwrap();
        assert_eq!(
            s.get((1, caller_col)),
            Some(&Data::String("061234XXXX".into()))
        );
        match s.get((1, 1)) {
            Some(Data::DateTime(d)) => {
                assert_eq!(d.as_datetime().unwrap().to_string(), "2026-12-03 23:30:00")
            }
            other => panic!("arrival not a date: {other:?}"),
        }
        let wait = DEFAULT_COLUMNS
            .iter()
            .position(|c| *c == "wait_ms")
            .unwrap();
        match s.get((1, wait)) {
            Some(Data::DateTime(d)) => assert!((d.as_f64() - 95.0 / 86_400.0).abs() < 1e-9),
            other => panic!("wait not a duration: {other:?}"),
        }
        let s = x.worksheet_range("04-12-2026").unwrap();
        assert_eq!(
            s.get((1, caller_col)),
            Some(&Data::String("=cmd|' /C calc'!AX".into())),
            "text, never a formula"
        );
    }
}
