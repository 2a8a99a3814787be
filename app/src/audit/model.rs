//! Audit types shared by both sides.

use serde::{Deserialize, Serialize};

/// One change, as the audit page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// UTC, "2026-11-23 00:47:12 UTC".
    pub time: String,
    pub actor: String,
    pub org: Option<String>,
    pub kind: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditList {
    pub entries: Vec<AuditEntry>,
    /// More entries match than [`AUDIT_PAGE`] shown: narrow the filter.
    pub more: bool,
}

/// Entries per answer, newest first.
pub const AUDIT_PAGE: usize = 200;
