//! SurrealQL for organisations. Server-only.

use surrealdb::types::{RecordId, SurrealValue};

use crate::db::{internal, Db};
use crate::error::Result;

#[derive(Debug, Clone, SurrealValue)]
pub struct NewOrg {
    pub id: RecordId,
    pub name: String,
    /// One of `OrgKind::as_str()`; the schema asserts the set.
    pub kind: String,
    pub parent: Option<RecordId>,
}

pub fn org_record(slug: &str) -> RecordId {
    RecordId::new("org", slug)
}

/// Creates organisations; existing ids are left alone.
pub async fn insert_orgs(db: &Db, orgs: Vec<NewOrg>) -> Result<()> {
    db.query("INSERT IGNORE INTO org $rows RETURN NONE")
        .bind(("rows", orgs))
        .await
        .and_then(|r| r.check())
        .map_err(internal("insert orgs"))?;
    Ok(())
}
