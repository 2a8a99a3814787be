//! One-time links: an invite (set a first password) or a reset (set a new one). The link
//! is shown once to whoever issued it; only its sha-256 is stored. Server-only.

use chrono::{Duration, Utc};
use surrealdb::types::RecordId;

use super::caller::Caller;
use super::model::{IssuedLink, NewPassword};
use super::{secret, store};
use crate::db::Db;
use crate::error::{AppError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    Invite,
    Reset,
}

impl LinkKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Invite => "invite",
            Self::Reset => "reset",
        }
    }

    fn lifetime(self) -> Duration {
        match self {
            Self::Invite => Duration::days(7),
            Self::Reset => Duration::hours(24),
        }
    }
}

/// Issues a link for `user`; earlier unused links of the user stop working.
pub async fn issue(
    db: &Db,
    caller: &Caller,
    user: &RecordId,
    email: &str,
    kind: LinkKind,
) -> Result<IssuedLink> {
    let token = secret::token("");
    let now = Utc::now();
    let expires = now + kind.lifetime();
    store::replace_links(
        db,
        &secret::token_hash(&token),
        user,
        kind.as_str(),
        now,
        expires,
        &caller.actor,
    )
    .await?;
    let path = format!("/welcome?token={token}");
    let expires = expires.format("%Y-%m-%d %H:%M UTC").to_string();
    let (mailed, mail_error) = match mail(email, &path, &expires, kind).await {
        None => (false, None),
        Some(Ok(())) => (true, None),
        Some(Err(e)) => {
            tracing::warn!(error = %e, "mailing a link failed; it is shown on the page");
            (false, Some(e))
        }
    };
    Ok(IssuedLink {
        email: email.to_string(),
        path,
        expires,
        invite: kind == LinkKind::Invite,
        mailed,
        mail_error,
    })
}

/// Mails the link when a relay is configured (`None` when not).
async fn mail(
    email: &str,
    path: &str,
    expires: &str,
    kind: LinkKind,
) -> Option<Result<(), String>> {
    let mailer = leptos::prelude::use_context::<std::sync::Arc<super::mail::Mailer>>()?;
    let to = match super::model::Email::parse(email) {
        Ok(to) => to,
        Err(e) => return Some(Err(e.to_string())),
    };
    let url = format!("{}{path}", mailer.public_url);
    let (subject, what) = match kind {
        LinkKind::Invite => (
            "Your sunfleet invitation",
            "You have been invited to sunfleet.",
        ),
        LinkKind::Reset => (
            "Reset your sunfleet password",
            "A password reset was requested for you.",
        ),
    };
    let body = format!(
        "{what}\n\nSet your password here (the link works once, until {expires}):\n\n{url}\n\n\
         Then sign in at {}/login with {email}.\n",
        mailer.public_url
    );
    Some(mailer.send(&to, subject, &body).await)
}

/// Sets the password through a link: once, before it expires, for an enabled user. Ends
/// the user's sessions. Answers the user's email.
pub async fn accept(db: &Db, token: &str, password: NewPassword) -> Result<String> {
    let gone = || AppError::Refused {
        code: "link_invalid",
        message: "this link is not valid any more; ask for a new one".into(),
    };
    if token.is_empty() || token.len() > 100 {
        return Err(gone());
    }
    let hash = secret::token_hash(token);
    let link = store::link(db, &hash).await?.ok_or_else(gone)?;
    let now = Utc::now();
    if link.used_at.is_some() || link.expires_at <= now || link.disabled {
        return Err(gone());
    }
    let phc = tokio::task::spawn_blocking(move || secret::hash_password(password.expose()))
        .await
        .map_err(|e| AppError::internal("hash password", e))??;
    // Marks the link used and sets the password in one transaction, so a link raced from
    // two tabs sets one password.
    if !store::use_link(db, &hash, &link.user, &phc, now).await? {
        return Err(gone());
    }
    store::delete_user_sessions(db, &link.user).await?;
    crate::audit::store::record_as(
        db,
        &format!("{} ({})", crate::db::record_string(&link.user), link.email),
        Some(&link.org),
        "password_set",
        format!("{} set a password with a {} link", link.email, link.kind),
    )
    .await?;
    Ok(link.email)
}
