//! Secrets: random tokens (sessions, links, API keys), their stored sha-256, and argon2id
//! password hashes. Server-only.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sha2::{Digest, Sha256};

use crate::error::AppError;

/// A random token: `prefix` + 40 hex digits (160 bits from the OS generator).
pub fn token(prefix: &str) -> String {
    let mut bytes = [0u8; 20];
    OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

/// What is stored for a token: its sha-256 in hex. Tokens are long and random, so a fast
/// hash is enough (unlike passwords).
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// argon2id with the crate's defaults (19 MiB, 2 passes: OWASP's minimum), as a PHC string.
pub fn hash_password(password: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::internal("hashing a password", e))
}

/// Whether `password` matches the stored PHC string. An unreadable hash matches nothing.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(hash) => Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok(),
        Err(e) => {
            tracing::error!(error = %e, "unreadable password hash");
            false
        }
    }
}

/// Spends the time a real verification takes, so an unknown email answers as slowly as a
/// wrong password does.
pub fn burn_password_check(password: &str) {
    static DUMMY: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| hash_password("not anyone's password").unwrap_or_default());
    let _ = verify_password(password, &DUMMY);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn tokens_are_prefixed_random_and_hashed_stably() {
        let a = token("sfk_");
        let b = token("sfk_");
        assert!(a.starts_with("sfk_") && a.len() == 44, "{a}");
        assert_ne!(a, b);
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_eq!(token_hash(&a).len(), 64);
    }
}
