//! Importing devices from CSV: the columns, one parsed row per record, and the report the
//! preview and the commit both show. A bad row never blocks the good ones; the same file
//! imported twice changes nothing the second time.

use serde::{Deserialize, Serialize};

use super::csv;
use super::filter::Coordinates;
use super::model::DeviceId;
use crate::error::AppError;

/// Most rows one import may hold.
pub const MAX_ROWS: usize = 5_000;
/// Largest file accepted, in bytes.
pub const MAX_BYTES: usize = 2 * 1024 * 1024;

/// Columns the importer reads. `id` is required; the others may be left out.
pub const COLUMNS: [&str; 9] = [
    "id",
    "name",
    "model",
    "firmware",
    "owner",
    "timezone",
    "lat",
    "lon",
    "offline_timeout_min",
];
/// Columns of the export the importer accepts and ignores, so an exported file imports back.
const EXPORT_ONLY: [&str; 7] = [
    "owner_name",
    "status",
    "fault_code",
    "last_seen",
    "solar_w",
    "grid_w",
    "load_w",
];

/// A row as the file states it: `None` means "not given" (keep / default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Draft {
    pub line: usize,
    pub id: DeviceId,
    pub name: Option<String>,
    pub model: Option<String>,
    pub firmware: Option<String>,
    /// Org id (slug) or exact org name.
    pub owner: Option<String>,
    pub timezone: Option<String>,
    pub location: Option<Coordinates>,
    pub offline_timeout_min: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowAction {
    Create,
    Update,
    Unchanged,
    Error,
}

impl RowAction {
    pub fn label(self) -> &'static str {
        match self {
            Self::Create => "new",
            Self::Update => "update",
            Self::Unchanged => "unchanged",
            Self::Error => "error",
        }
    }
}

/// What happens (or happened) to one row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowReport {
    pub line: usize,
    /// The id as written in the file.
    pub id: String,
    pub action: RowAction,
    /// The changes ("name: Old → New"), or the reason of an error.
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ImportReport {
    /// False for a preview: nothing was written.
    pub committed: bool,
    pub rows: Vec<RowReport>,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub errors: usize,
}

impl ImportReport {
    pub fn push(&mut self, row: RowReport) {
        match row.action {
            RowAction::Create => self.created += 1,
            RowAction::Update => self.updated += 1,
            RowAction::Unchanged => self.unchanged += 1,
            RowAction::Error => self.errors += 1,
        }
        self.rows.push(row);
    }
}

/// Reads a file into drafts and row errors (in file order). Errors about the file as a whole
/// (unreadable, no `id` column, unknown or repeated columns, too big) reject it entirely:
/// nothing in it could be trusted to mean what it says.
pub fn parse(text: &str) -> Result<Vec<Result<Draft, RowReport>>, AppError> {
    if text.len() > MAX_BYTES {
        return Err(AppError::validation(format!(
            "the file is larger than {} MB",
            MAX_BYTES / (1024 * 1024)
        )));
    }
    let records = csv::parse(text).map_err(|e| AppError::validation(e.to_string()))?;
    let Some((header, rows)) = records.split_first() else {
        return Err(AppError::validation(
            "the file is empty; the first line names the columns, e.g. id,name,model,owner",
        ));
    };
    let columns: Vec<String> = header
        .fields
        .iter()
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    for (i, c) in columns.iter().enumerate() {
        if !COLUMNS.contains(&c.as_str()) && !EXPORT_ONLY.contains(&c.as_str()) {
            return Err(AppError::validation(format!(
                "unknown column {c:?}; the columns are {}",
                COLUMNS.join(", ")
            )));
        }
        if columns[..i].contains(c) {
            return Err(AppError::validation(format!("column {c:?} appears twice")));
        }
    }
    if !columns.iter().any(|c| c == "id") {
        return Err(AppError::validation(
            "the first line must name the columns and include \"id\"",
        ));
    }
    if rows.len() > MAX_ROWS {
        return Err(AppError::validation(format!(
            "the file has {} rows; import at most {MAX_ROWS} at a time",
            rows.len()
        )));
    }
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    Ok(rows
        .iter()
        .map(|record| {
            let draft = draft(&columns, record)?;
            if let Some(first) = seen.get(draft.id.as_str()) {
                return Err(RowReport {
                    line: record.line,
                    id: draft.id.to_string(),
                    action: RowAction::Error,
                    detail: format!("device {} already appears on line {first}", draft.id),
                });
            }
            seen.insert(draft.id.to_string(), record.line);
            Ok(draft)
        })
        .collect())
}

fn draft(columns: &[String], record: &csv::Record) -> Result<Draft, RowReport> {
    let get = |name: &str| -> Option<String> {
        let i = columns.iter().position(|c| c == name)?;
        record
            .fields
            .get(i)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let id_text = get("id").unwrap_or_default();
    let fail = |detail: String| RowReport {
        line: record.line,
        id: id_text.clone(),
        action: RowAction::Error,
        detail,
    };
    if record.fields.len() != columns.len() {
        return Err(fail(format!(
            "{} fields where the header has {} columns",
            record.fields.len(),
            columns.len()
        )));
    }
    if id_text.is_empty() {
        return Err(fail("no device id".into()));
    }
    let id = DeviceId::parse(&id_text).map_err(|e| fail(e.to_string()))?;
    let text = |name: &str, max: usize| -> Result<Option<String>, RowReport> {
        match get(name) {
            Some(v) if v.chars().count() > max || v.chars().any(char::is_control) => Err(fail(
                format!("{name} must be at most {max} characters on one line"),
            )),
            v => Ok(v),
        }
    };
    let location = match (get("lat"), get("lon")) {
        (None, None) => None,
        (Some(lat), Some(lon)) => {
            Some(Coordinates::parse(&lat, &lon).map_err(|e| fail(e.to_string()))?)
        }
        _ => return Err(fail("give both lat and lon, or neither".into())),
    };
    let offline_timeout_min = match get("offline_timeout_min") {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .ok()
                .filter(|m| (1..=10_080).contains(m))
                .ok_or_else(|| {
                    fail("offline_timeout_min must be whole minutes from 1 to 10080".into())
                })?,
        ),
    };
    Ok(Draft {
        line: record.line,
        name: text("name", 100)?,
        model: text("model", 64)?,
        firmware: text("firmware", 64)?,
        owner: text("owner", 100)?,
        timezone: text("timezone", 64)?,
        location,
        offline_timeout_min,
        id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_rows_parse_and_a_bad_row_is_reported_alone() {
        let rows = parse(
            "id,name,model,lat,lon\n\
             SF-9-00001,North well,SP-3,40.1,-105.2\n\
             not ok!,Broken,SP-3,,\n\
             SF-9-00002,South well,,,\n",
        )
        .unwrap();
        assert_eq!(rows.len(), 3);
        let first = rows[0].as_ref().unwrap();
        assert_eq!(first.name.as_deref(), Some("North well"));
        assert_eq!(first.location.unwrap().lat, 40.1);
        let bad = rows[1].as_ref().unwrap_err();
        assert_eq!(bad.line, 3);
        assert_eq!(bad.action, RowAction::Error);
        assert!(rows[2].as_ref().unwrap().model.is_none());
    }

    #[test]
    fn duplicate_ids_point_at_the_first_line() {
        // The id column need not come first: the error names the device, not the name.
        let rows = parse("name,id\na,SF-1\nb,sf-1\n").unwrap();
        assert!(rows[0].is_ok());
        let e = rows[1].as_ref().unwrap_err();
        assert!(e.detail.contains("line 2"), "{}", e.detail);
        assert_eq!(e.id, "SF-1");
    }

    #[test]
    fn coordinates_out_of_range_and_half_locations_are_row_errors() {
        let rows = parse("id,lat,lon\nA-1,95,10\nA-2,10,\nA-3,x,1\n").unwrap();
        assert!(rows.iter().all(Result::is_err));
        assert!(rows[0].as_ref().unwrap_err().detail.contains("latitude"));
        assert!(rows[1].as_ref().unwrap_err().detail.contains("both"));
    }

    #[test]
    fn wrong_columns_reject_the_file() {
        for text in [
            "",
            "name,model\nX,Y\n",
            "id,colour\nA-1,red\n",
            "id,name,name\nA,b,c\n",
            "id\n\"unclosed\n",
        ] {
            assert!(parse(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn a_row_with_the_wrong_number_of_fields_is_an_error() {
        let rows = parse("id,name\nA-1,x,extra\n").unwrap();
        assert!(rows[0].as_ref().unwrap_err().detail.contains("fields"));
    }

    #[test]
    fn an_exported_file_is_accepted() {
        let rows = parse(
            "id,name,owner,owner_name,model,firmware,status,fault_code,last_seen,solar_w,grid_w,lat,lon,timezone\n\
             SF-1-00001,North,agri,Agri Co,SP-3,2.1.0,online,,2026-11-22T10:00:00Z,850,0,40,-105,America/Denver\n",
        )
        .unwrap();
        assert_eq!(
            rows[0].as_ref().unwrap().timezone.as_deref(),
            Some("America/Denver")
        );
    }
}
