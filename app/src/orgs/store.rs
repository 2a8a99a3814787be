//! SurrealQL for organisations. Server-only.

use std::collections::HashMap;

use surrealdb::types::{RecordId, SurrealValue};

use super::model::{OrgId, OrgKind, OrgView};
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
    // Scopes are cached with callers; a changed tree must not be served from there.
    crate::accounts::cache::forget_callers();
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
    // The fleet snapshot names each device's orgs.
    crate::devices::snapshot::forget_fleet();
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

#[derive(Debug, SurrealValue)]
struct OrgListRow {
    id: String,
    name: String,
    kind: String,
    parent: Option<String>,
    parent_name: Option<String>,
    ancestors: Vec<RecordId>,
    devices: i64,
    users: i64,
    children: i64,
}

/// The orgs of `scope` (`None`: all) with their counts, in tree order.
pub async fn list(db: &Db, scope: Option<Vec<RecordId>>) -> Result<Vec<OrgView>> {
    let mut response = db
        .query(
            "SELECT record::id(id) AS id, name, kind,
                    (IF parent THEN record::id(parent) END) AS parent, parent.name AS parent_name,
                    ancestors,
                    count(SELECT VALUE id FROM device WHERE owner = $parent.id) AS devices,
                    count(SELECT VALUE id FROM user WHERE org = $parent.id) AS users,
                    count(SELECT VALUE id FROM org WHERE parent = $parent.id) AS children
             FROM org WHERE $all OR id IN $orgs",
        )
        .bind(("all", scope.is_none()))
        .bind(("orgs", scope.unwrap_or_default()))
        .await
        .and_then(|r| r.check())
        .map_err(internal("list orgs"))?;
    let rows: Vec<OrgListRow> = response.take(0).map_err(internal("list orgs"))?;
    // Tree order: by the ids along the path from the root, so children follow their parent
    // (and siblings sort by id, which comes from the name).
    let mut rows: Vec<(Vec<String>, OrgListRow)> = rows
        .into_iter()
        .map(|r| {
            let mut path: Vec<String> = r.ancestors.iter().map(crate::db::key_string).collect();
            path.push(r.id.clone());
            (path, r)
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(rows
        .into_iter()
        .filter_map(|(_, r)| {
            Some(OrgView {
                kind: OrgKind::parse(&r.kind).ok()?,
                id: r.id,
                name: r.name,
                parent: r.parent,
                parent_name: r.parent_name,
                depth: r.ancestors.len(),
                devices: r.devices.max(0) as u64,
                users: r.users.max(0) as u64,
                children: r.children.max(0) as u64,
            })
        })
        .collect())
}

/// One org as [`list`] shows it.
pub async fn view(db: &Db, org: &RecordId) -> Result<Option<OrgView>> {
    let all = list(db, Some(vec![org.clone()])).await?;
    Ok(all.into_iter().next())
}

/// Creates an org named `name` under `parent`; its id comes from the name (with a suffix
/// when taken).
pub async fn create(db: &Db, name: &str, kind: OrgKind, parent: &RecordId) -> Result<RecordId> {
    let base = OrgId::from_name(name);
    for attempt in 0..20 {
        let slug = match attempt {
            0 => base.as_str().to_string(),
            n => format!("{}-{}", base.as_str(), n + 1),
        };
        let id = org_record(&slug);
        let taken: Option<String> = {
            let mut r = db
                .query("SELECT VALUE name FROM ONLY $id")
                .bind(("id", id.clone()))
                .await
                .and_then(|r| r.check())
                .map_err(internal("org id taken"))?;
            r.take(0).map_err(internal("org id taken"))?
        };
        if taken.is_some() {
            continue;
        }
        insert_orgs(
            db,
            vec![NewOrg {
                id: id.clone(),
                name: name.to_string(),
                kind: kind.as_str().into(),
                parent: Some(parent.clone()),
            }],
        )
        .await?;
        return Ok(id);
    }
    Err(AppError::Conflict {
        message: format!("too many organisations are named like {name:?}"),
    })
}

pub async fn rename(db: &Db, org: &RecordId, name: &str) -> Result<()> {
    // Scopes are cached with callers; a changed tree must not be served from there.
    crate::accounts::cache::forget_callers();
    db.query("UPDATE $org SET name = $name RETURN NONE")
        .bind(("org", org.clone()))
        .bind(("name", name.to_string()))
        .await
        .and_then(|r| r.check())
        .map_err(internal("rename org"))?;
    // The fleet snapshot names each device's orgs.
    crate::devices::snapshot::forget_fleet();
    Ok(())
}

/// Moves `org` under `parent` and rewrites the ancestry of it and every org below it, in
/// one transaction. Refused (422) under itself or one of its descendants.
pub async fn move_subtree(db: &Db, org: &RecordId, parent: &RecordId) -> Result<()> {
    // Scopes are cached with callers; a changed tree must not be served from there.
    crate::accounts::cache::forget_callers();
    let mut response = db
        .query("SELECT id, ancestors FROM ONLY $parent")
        .query("SELECT id, ancestors FROM ONLY $org")
        .query("SELECT id, ancestors FROM org WHERE ancestors CONTAINS $org")
        .bind(("parent", parent.clone()))
        .bind(("org", org.clone()))
        .await
        .and_then(|r| r.check())
        .map_err(internal("org move"))?;
    let p: Option<Ancestry> = response.take(0).map_err(internal("org move"))?;
    let o: Option<Ancestry> = response.take(1).map_err(internal("org move"))?;
    let below: Vec<Ancestry> = response.take(2).map_err(internal("org move"))?;
    let (Some(p), Some(o)) = (p, o) else {
        return Err(AppError::not_found("org"));
    };
    if &p.id == org || p.ancestors.contains(org) {
        return Err(AppError::validation(
            "an organisation cannot be moved under itself or one of its own descendants",
        ));
    }
    let mut new_ancestors = p.ancestors.clone();
    new_ancestors.push(parent.clone());
    let depth = o.ancestors.len();
    let mut rows = vec![Ancestry {
        id: org.clone(),
        ancestors: new_ancestors.clone(),
    }];
    for d in below {
        // Everything after `org` in a descendant's ancestry stays; what is above changes.
        let mut a = new_ancestors.clone();
        a.extend(d.ancestors.into_iter().skip(depth));
        rows.push(Ancestry {
            id: d.id,
            ancestors: a,
        });
    }
    db.query(
        "BEGIN TRANSACTION;
         UPDATE $org SET parent = $parent;
         FOR $row IN $rows { UPDATE $row.id SET ancestors = $row.ancestors; };
         COMMIT TRANSACTION;",
    )
    .bind(("org", org.clone()))
    .bind(("parent", parent.clone()))
    .bind(("rows", rows))
    .await
    .and_then(|r| r.check())
    .map_err(internal("org move"))?;
    // The fleet snapshot names each device's orgs.
    crate::devices::snapshot::forget_fleet();
    Ok(())
}

#[derive(Debug, SurrealValue)]
struct Holdings {
    name: String,
    devices: i64,
    users: i64,
    children: i64,
    keys: i64,
}

/// Deletes an org that holds nothing; 409 naming what it still holds. Returns its name.
pub async fn delete_if_empty(db: &Db, org: &RecordId) -> Result<String> {
    // Scopes are cached with callers; a changed tree must not be served from there.
    crate::accounts::cache::forget_callers();
    let mut response = db
        .query(
            "SELECT name,
                    count(SELECT VALUE id FROM device WHERE owner = $org) AS devices,
                    count(SELECT VALUE id FROM user WHERE org = $org) AS users,
                    count(SELECT VALUE id FROM org WHERE parent = $org) AS children,
                    count(SELECT VALUE id FROM api_key WHERE org = $org) AS keys
             FROM ONLY $org",
        )
        .bind(("org", org.clone()))
        .await
        .and_then(|r| r.check())
        .map_err(internal("org holdings"))?;
    let h: Option<Holdings> = response.take(0).map_err(internal("org holdings"))?;
    let h = h.ok_or(AppError::not_found("org"))?;
    let held: Vec<String> = [
        (h.devices, "device"),
        (h.users, "user"),
        (h.children, "child organisation"),
        (h.keys, "API key"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}{}", if n == 1 { "" } else { "s" }))
    .collect();
    if !held.is_empty() {
        return Err(AppError::Conflict {
            message: format!(
                "{} still has {}; move or remove them first",
                h.name,
                held.join(", ")
            ),
        });
    }
    db.query("DELETE $org")
        .bind(("org", org.clone()))
        .await
        .and_then(|r| r.check())
        .map_err(internal("delete org"))?;
    // The fleet snapshot names each device's orgs.
    crate::devices::snapshot::forget_fleet();
    Ok(h.name)
}

#[derive(Debug, SurrealValue)]
struct OrgName {
    id: String,
    name: String,
}

/// (id, name) of the orgs of `scope` (`None`: all), by name: the choices of an org picker.
pub async fn names(db: &Db, scope: Option<Vec<RecordId>>) -> Result<Vec<(String, String)>> {
    let mut response = db
        .query("SELECT record::id(id) AS id, name FROM org WHERE $all OR id IN $orgs ORDER BY name")
        .bind(("all", scope.is_none()))
        .bind(("orgs", scope.unwrap_or_default()))
        .await
        .and_then(|r| r.check())
        .map_err(internal("org names"))?;
    let rows: Vec<OrgName> = response.take(0).map_err(internal("org names"))?;
    Ok(rows.into_iter().map(|o| (o.id, o.name)).collect())
}

/// The names of `orgs` by id key (orgs that no longer exist are left out): one point read
/// each.
pub async fn names_of(db: &Db, orgs: Vec<RecordId>) -> Result<HashMap<String, String>> {
    if orgs.is_empty() {
        return Ok(HashMap::new());
    }
    let mut response = db
        .query("SELECT record::id(id) AS id, name FROM $orgs")
        .bind(("orgs", orgs))
        .await
        .and_then(|r| r.check())
        .map_err(internal("org names"))?;
    let rows: Vec<OrgName> = response.take(0).map_err(internal("org names"))?;
    Ok(rows.into_iter().map(|o| (o.id, o.name)).collect())
}
