//! Organisation types shared by both sides.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    Operator,
    Partner,
    Dealer,
    Customer,
}

impl OrgKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::Partner => "partner",
            Self::Dealer => "dealer",
            Self::Customer => "customer",
        }
    }
}

impl OrgKind {
    pub const ALL: [OrgKind; 4] = [Self::Operator, Self::Partner, Self::Dealer, Self::Customer];

    pub fn parse(s: &str) -> Result<Self, crate::error::AppError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| {
                crate::error::AppError::validation(
                    "kind must be one of operator, partner, dealer, customer",
                )
            })
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Operator => "Operator",
            Self::Partner => "Partner",
            Self::Dealer => "Dealer",
            Self::Customer => "Customer",
        }
    }

    /// Where an org of this kind may sit (DESIGN.md §3): partners and dealers under the
    /// operator, dealers also under a partner, customers under any of those. The operator
    /// is the root and is never placed.
    pub fn may_have_parent(self, parent: OrgKind) -> bool {
        use OrgKind::*;
        match self {
            Operator => false,
            Partner => parent == Operator,
            Dealer => matches!(parent, Operator | Partner),
            Customer => matches!(parent, Operator | Partner | Dealer),
        }
    }
}

/// An org id (the key of `org:…`): lower-case letters, digits and `-`, 1–64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OrgId(String);

impl OrgId {
    pub fn parse(raw: &str) -> Result<Self, crate::error::AppError> {
        let s = raw.trim();
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(crate::error::AppError::validation(
                "an org id is 1–64 lower-case letters, digits and '-'",
            ))
        }
    }

    /// A new id from a name: "Basin & Range Water" → "basin-range-water".
    pub fn from_name(name: &str) -> Self {
        let mut slug = String::new();
        for c in name.chars().flat_map(char::to_lowercase) {
            if c.is_ascii_alphanumeric() {
                slug.push(c);
            } else if !slug.ends_with('-') && !slug.is_empty() {
                slug.push('-');
            }
        }
        let slug = slug.trim_end_matches('-');
        let slug: String = slug.chars().take(48).collect();
        Self(if slug.is_empty() { "org".into() } else { slug })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    #[cfg(feature = "ssr")]
    pub fn record(&self) -> surrealdb::types::RecordId {
        surrealdb::types::RecordId::new("org", self.0.as_str())
    }
}

/// An org as the management pages show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgView {
    pub id: String,
    pub name: String,
    pub kind: OrgKind,
    pub parent: Option<String>,
    pub parent_name: Option<String>,
    /// 0 for the root.
    pub depth: usize,
    pub devices: u64,
    pub users: u64,
    pub children: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_has_rules_about_who_sits_under_whom() {
        use OrgKind::*;
        assert!(Customer.may_have_parent(Dealer));
        assert!(Dealer.may_have_parent(Partner));
        assert!(!Dealer.may_have_parent(Customer));
        assert!(!Partner.may_have_parent(Dealer));
        assert!(!Operator.may_have_parent(Operator));
    }

    #[test]
    fn org_ids_come_from_names_and_are_checked() {
        assert_eq!(
            OrgId::from_name("Basin & Range Water").as_str(),
            "basin-range-water"
        );
        assert_eq!(OrgId::from_name("  ¡¡ ").as_str(), "org");
        assert!(OrgId::parse("Acme").is_err());
        assert!(OrgId::parse("acme-2").is_ok());
    }
}
