//! Account types shared by the server and the browser.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::error::AppError;
use crate::orgs::model::OrgKind;

/// What a user is to sunfleet (DESIGN.md §5). Each persona belongs to one kind of org: an
/// admin to the operator, a partner user to a partner org, and so on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Persona {
    Admin,
    Partner,
    Dealer,
    Customer,
}

impl Persona {
    pub const ALL: [Persona; 4] = [Self::Admin, Self::Partner, Self::Dealer, Self::Customer];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Partner => "partner",
            Self::Dealer => "dealer",
            Self::Customer => "customer",
        }
    }

    pub fn parse(s: &str) -> Result<Self, AppError> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s.trim())
            .ok_or_else(|| {
                AppError::validation("persona must be one of admin, partner, dealer, customer")
            })
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Admin => "Administrator",
            Self::Partner => "Partner",
            Self::Dealer => "Dealer",
            Self::Customer => "Customer",
        }
    }

    /// The kind of org a user of this persona belongs to.
    pub fn org_kind(self) -> OrgKind {
        match self {
            Self::Admin => OrgKind::Operator,
            Self::Partner => OrgKind::Partner,
            Self::Dealer => OrgKind::Dealer,
            Self::Customer => OrgKind::Customer,
        }
    }
}

impl fmt::Display for Persona {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An email address, trimmed and lower-cased: the sign-in name, unique across users.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let s = raw.trim().to_lowercase();
        let bad = || AppError::validation("enter an email address like name@example.com");
        if s.len() > Self::MAX_LEN {
            return Err(AppError::validation(
                "an email address is at most 254 characters",
            ));
        }
        let (local, domain) = s.split_once('@').ok_or_else(bad)?;
        let valid = !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
            && !s.chars().any(|c| c.is_whitespace() || c.is_control());
        if valid {
            Ok(Self(s))
        } else {
            Err(bad())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Email {
    type Error = AppError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> Self {
        e.0
    }
}

/// A new password, checked for length only (NIST 800-63B: length over composition rules).
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);

impl NewPassword {
    pub const MIN_LEN: usize = 10;
    pub const MAX_LEN: usize = 256;

    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let n = raw.chars().count();
        if n < Self::MIN_LEN {
            return Err(AppError::validation(format!(
                "a password has at least {} characters",
                Self::MIN_LEN
            )));
        }
        if n > Self::MAX_LEN {
            return Err(AppError::validation(format!(
                "a password has at most {} characters",
                Self::MAX_LEN
            )));
        }
        Ok(Self(raw.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(…)")
    }
}

/// Who is signed in, as the pages need it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Me {
    pub email: String,
    pub name: String,
    pub persona: Persona,
    pub org_id: String,
    pub org_name: String,
}

/// A display name: trimmed, 1–100 characters, no control characters.
pub fn display_name(raw: &str) -> Result<String, AppError> {
    let s = raw.trim();
    let n = s.chars().count();
    if n == 0 || n > 100 || s.chars().any(char::is_control) {
        return Err(AppError::validation(
            "a name has 1 to 100 characters and no control characters",
        ));
    }
    Ok(s.to_string())
}

/// A form checkbox: browsers send "on" when it is ticked and nothing otherwise.
pub fn ticked(value: Option<&str>) -> bool {
    value.is_some_and(|v| !v.is_empty() && v != "false")
}

/// Where to go after signing in: a local path only, so a crafted link cannot send a user
/// to another site; printable ASCII only (it becomes a `Location` header; anything else
/// arrives percent-encoded from a browser anyway).
pub fn local_path(next: Option<&str>) -> String {
    match next.map(str::trim) {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                && p.len() <= 2000
                && p.chars().all(|c| c.is_ascii_graphic()) =>
        {
            p.to_string()
        }
        _ => "/".to_string(),
    }
}

/// A user as the management page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub name: String,
    pub persona: Persona,
    pub org_id: String,
    pub org_name: String,
    pub disabled: bool,
    /// Invited, no password set yet.
    pub invited: bool,
    /// UTC, or `None` when never signed in.
    pub last_login: Option<String>,
    pub created: String,
}

/// An invite or reset link, shown once to whoever asked for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssuedLink {
    pub email: String,
    /// `/welcome?token=…`; the page prefixes the site's address.
    pub path: String,
    /// UTC.
    pub expires: String,
    pub invite: bool,
    /// Also sent to the user by email (an SMTP relay is configured and took it).
    pub mailed: bool,
    /// Why mailing failed, when it was tried and failed.
    pub mail_error: Option<String>,
}

/// An API key as its list shows it (never the secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyView {
    /// The key's id for revoking (the sha-256 of the secret, which reveals nothing).
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub org_id: String,
    pub org_name: String,
    pub scopes: Vec<String>,
    pub expires: Option<String>,
    pub last_used: Option<String>,
    pub created: String,
    pub created_by: String,
    pub revoked: Option<String>,
}

/// A new key's secret: shown once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewKey {
    pub secret: String,
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_lower_cased_and_checked() {
        assert_eq!(
            Email::parse("  Ana@Example.COM ").unwrap().as_str(),
            "ana@example.com"
        );
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.com",
            "ana@example",
            "a b@x.io",
            "a@.io",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Email::parse(&format!("{}@x.io", "a".repeat(260))).is_err());
    }

    #[test]
    fn passwords_need_ten_characters_and_are_not_printed() {
        assert!(NewPassword::parse("short").is_err());
        assert!(NewPassword::parse(&"x".repeat(257)).is_err());
        let p = NewPassword::parse("correct horse").unwrap();
        assert_eq!(format!("{p:?}"), "NewPassword(…)");
    }

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(local_path(Some("/devices/X")), "/devices/X");
        assert_eq!(local_path(Some("//evil.example")), "/");
        assert_eq!(local_path(Some("https://evil.example")), "/");
        assert_eq!(local_path(Some("/\\evil")), "/");
        assert_eq!(local_path(Some("/a\nLocation: x")), "/");
        assert_eq!(local_path(Some("/ä")), "/");
        assert_eq!(local_path(None), "/");
    }
}
