//! SurrealQL for organisations. Server-only.

use std::collections::HashMap;

use surrealdb::types::{RecordId, SurrealValue};

use crate::db::{internal, Db};
use crate::error::{AppError, Result};

#[derive(Debug, Clone, SurrealValue)]
pub struct NewOrg {
    pub id: RecordId,
    pub name: String,
    /// One of `OrgKind::as_str()`; the schema asserts the set.
    pub kind: String,
    pub parent: Option<RecordId>,
}

/// An org as stored, with its materialised ancestry (root first, itself excluded).
#[derive(Debug, Clone, SurrealValue)]
struct OrgRow {
    id: RecordId,
    name: String,
    kind: String,
    parent: Option<RecordId>,
    ancestors: Vec<RecordId>,
}

pub fn org_record(slug: &str) -> RecordId {
    RecordId::new("org", slug)
}

/// Creates organisations (parents before children, or parents already stored); existing
/// ids are left alone.
pub async fn insert_orgs(db: &Db, orgs: Vec<NewOrg>) -> Result<()> {
    // Keyed by the record id's text: `RecordId` itself is not a good map key (clippy).
    let mut known: HashMap<String, Vec<RecordId>> = HashMap::new();
    let outside: Vec<RecordId> = orgs
        .iter()
        .filter_map(|o| o.parent.clone())
        .filter(|p| !orgs.iter().any(|o| &o.id == p))
        .collect();
    if !outside.is_empty() {
        let mut response = db
            .query("SELECT id, ancestors FROM $ids")
            .bind(("ids", outside))
            .await
            .and_then(|r| r.check())
            .map_err(internal("org ancestors"))?;
        let rows: Vec<Ancestry> = response.take(0).map_err(internal("org ancestors"))?;
        known.extend(
            rows.into_iter()
                .map(|r| (crate::db::record_string(&r.id), r.ancestors)),
        );
    }
    let mut rows = Vec::with_capacity(orgs.len());
    for org in orgs {
        let ancestors = match &org.parent {
            None => Vec::new(),
            Some(parent) => {
                let mut a = known
                    .get(&crate::db::record_string(parent))
                    .cloned()
                    .ok_or_else(|| {
                        AppError::validation(format!("parent org {parent:?} does not exist"))
                    })?;
                a.push(parent.clone());
                a
            }
        };
        known.insert(crate::db::record_string(&org.id), ancestors.clone());
        rows.push(OrgRow {
            id: org.id,
            name: org.name,
            kind: org.kind,
            parent: org.parent,
            ancestors,
        });
    }
    db.query("INSERT IGNORE INTO org $rows RETURN NONE")
        .bind(("rows", rows))
        .await
        .and_then(|r| r.check())
        .map_err(internal("insert orgs"))?;
    Ok(())
}

#[derive(Debug, SurrealValue)]
struct Ancestry {
    id: RecordId,
    ancestors: Vec<RecordId>,
}

/// An org's kind (`operator`, …), `None` when it does not exist.
pub async fn org_kind(db: &Db, org: &RecordId) -> Result<Option<String>> {
    let mut response = db
        .query("SELECT VALUE kind FROM ONLY $org")
        .bind(("org", org.clone()))
        .await
        .and_then(|r| r.check())
        .map_err(internal("org kind"))?;
    response.take(0).map_err(internal("org kind"))
}

/// The operator org (the root of the tree), if there is one.
pub async fn operator(db: &Db) -> Result<Option<RecordId>> {
    let mut response = db
        .query("SELECT VALUE id FROM org WHERE kind = 'operator' AND parent IS NONE LIMIT 1")
        .await
        .and_then(|r| r.check())
        .map_err(internal("operator org"))?;
    let ids: Vec<RecordId> = response.take(0).map_err(internal("operator org"))?;
    Ok(ids.into_iter().next())
}
