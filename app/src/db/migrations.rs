//! Versioned, idempotent schema migrations, applied at start-up.
//!
//! `meta:schema.version` records the last applied step. Each step runs in its own
//! transaction together with the version bump, so a crash leaves the database at a whole
//! step. A database written by a newer sunfleet is refused rather than silently misread.

use super::Db;

/// Steps in order; step N brings the schema to version N (1-based). Never edit a released
/// step: append a new one.
const STEPS: &[&str] = &[
    include_str!("schema_v1.surql"),
    include_str!("schema_v2.surql"),
    include_str!("schema_v3.surql"),
    include_str!("schema_v4.surql"),
    include_str!("schema_v5.surql"),
    include_str!("schema_v6.surql"),
    include_str!("schema_v7.surql"),
    include_str!("schema_v8.surql"),
    include_str!("schema_v9.surql"),
    include_str!("schema_v10.surql"),
    include_str!("schema_v11.surql"),
    include_str!("schema_v12.surql"),
];

pub const SCHEMA_VERSION: i64 = STEPS.len() as i64;

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "the database has schema version {found}, newer than this sunfleet understands ({known}); \
         run a newer sunfleet or point SUNFLEET_DB at another database"
    )]
    TooNew { found: i64, known: i64 },
    #[error("database migration to version {version} failed: {reason}")]
    Failed { version: i64, reason: String },
}

/// Brings the schema up to date and returns its version.
pub async fn migrate(db: &Db) -> Result<i64, MigrateError> {
    let failed = |version: i64| {
        move |e: surrealdb::Error| MigrateError::Failed {
            version,
            reason: e.to_string(),
        }
    };
    let found = current_version(db).await.map_err(failed(0))?;
    if found > SCHEMA_VERSION {
        return Err(MigrateError::TooNew {
            found,
            known: SCHEMA_VERSION,
        });
    }
    for (index, step) in STEPS.iter().enumerate().skip(found as usize) {
        let version = index as i64 + 1;
        tracing::info!(version, "applying database migration");
        db.query("BEGIN TRANSACTION")
            .query(*step)
            .query("UPSERT meta:schema SET version = $version, applied_at = time::now()")
            .query("COMMIT TRANSACTION")
            .bind(("version", version))
            .await
            .map_err(failed(version))?
            .check()
            .map_err(failed(version))?;
    }
    Ok(SCHEMA_VERSION)
}

async fn current_version(db: &Db) -> Result<i64, surrealdb::Error> {
    let mut response = db
        .query("DEFINE TABLE IF NOT EXISTS meta SCHEMALESS")
        .query("SELECT VALUE version FROM ONLY meta:schema")
        .await?
        .check()?;
    let version: Option<i64> = response.take(1)?;
    Ok(version.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn fresh() -> Db {
        crate::db::in_memory(false).await
    }

    #[tokio::test]
    async fn migrating_twice_is_harmless() {
        let db = fresh().await;
        assert_eq!(migrate(&db).await.unwrap(), SCHEMA_VERSION);
        assert_eq!(migrate(&db).await.unwrap(), SCHEMA_VERSION);
    }

    #[tokio::test]
    async fn orgs_from_before_accounts_get_their_ancestry_filled_in() {
        let db = fresh().await;
        // A version 2 database: parent links, no ancestors.
        for step in &STEPS[..2] {
            db.query(*step).await.unwrap().check().unwrap();
        }
        db.query(
            "CREATE org:op SET name = 'Op', kind = 'operator';
             CREATE org:dealer SET name = 'D', kind = 'dealer', parent = org:op;
             CREATE org:farm SET name = 'F', kind = 'customer', parent = org:dealer;",
        )
        .await
        .unwrap()
        .check()
        .unwrap();
        db.query(STEPS[2]).await.unwrap().check().unwrap();
        let mut response = db
            .query("SELECT VALUE ancestors FROM org:farm")
            .await
            .unwrap();
        let ancestors: Vec<Vec<surrealdb::types::RecordId>> = response.take(0).unwrap();
        assert_eq!(
            ancestors,
            vec![vec![
                surrealdb::types::RecordId::new("org", "op"),
                surrealdb::types::RecordId::new("org", "dealer")
            ]]
        );
    }

    #[tokio::test]
    async fn a_database_from_a_newer_version_is_refused() {
        let db = fresh().await;
        migrate(&db).await.unwrap();
        db.query("UPSERT meta:schema SET version = $v")
            .bind(("v", SCHEMA_VERSION + 1))
            .await
            .unwrap()
            .check()
            .unwrap();
        let err = migrate(&db).await.unwrap_err();
        assert!(matches!(err, MigrateError::TooNew { .. }), "{err}");
        assert!(err.to_string().contains("newer than this sunfleet"));
    }
}
