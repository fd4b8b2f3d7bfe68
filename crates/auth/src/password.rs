//! Passwords: the CNIL rules a new password must follow, and argon2id
//! hashes (never stored in clear).
//!
//! The rule is CNIL's deliberation 2022-100, first case (a password alone
//! must carry about 80 bits): at least 12 characters with upper case, lower
//! case, digits and special characters, or at least 14 with upper case,
//! lower case and digits. The length is configurable upward.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::AuthError;

/// Passwords we refuse whatever their form (the most common ones, and the
/// product's own defaults).
const COMMON: &[&str] = &[
    "password",
    "motdepasse",
    "azerty",
    "qwerty",
    "123456",
    "admin",
    "softswitch",
    "changeme",
    "change-me",
    "bonjour",
    "soleil",
];

/// Check a new password against the rules; the message says what is missing.
pub fn check_rules(password: &str, account: &str, min_length: usize) -> Result<(), AuthError> {
    let n = password.chars().count();
    let upper = password.chars().any(|c| c.is_uppercase());
    let lower = password.chars().any(|c| c.is_lowercase());
    let digit = password.chars().any(|c| c.is_ascii_digit());
    let special = password.chars().any(|c| !c.is_alphanumeric());
    let min = min_length.max(12);
    let long_enough = (n >= min && upper && lower && digit && special)
        || (n >= min.max(14) && upper && lower && digit);
    if !long_enough {
        return Err(AuthError::WeakPassword(format!(
            "at least {min} characters with upper case, lower case, digits and special characters, \
             or at least {} with upper case, lower case and digits (CNIL); this one has {n} \
             characters{}{}{}{}",
            min.max(14),
            if upper { "" } else { ", no upper case" },
            if lower { "" } else { ", no lower case" },
            if digit { "" } else { ", no digit" },
            if special { "" } else { ", no special character" },
        )));
    }
    let folded = password.to_lowercase();
    if !account.is_empty() && folded.contains(&account.to_lowercase()) {
        return Err(AuthError::WeakPassword(
            "the password must not contain the account name".into(),
        ));
    }
    if let Some(w) = COMMON.iter().find(|w| folded.contains(*w)) {
        return Err(AuthError::WeakPassword(format!(
            "the password must not contain a common word ({w:?})"
        )));
    }
    Ok(())
}

/// An argon2id hash in PHC form (`$argon2id$v=19$m=19456,t=2,p=1$...`).
pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters cannot fail")
        .to_string()
}

/// Does `password` match the PHC hash? A malformed hash never matches.
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(h) => Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spend the time of one verification, for unknown accounts, so that the
/// answer's delay does not tell whether an account exists.
pub fn verify_nothing(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let h = DUMMY.get_or_init(|| hash("not-a-real-account-password-Zx9!"));
    let _ = verify(password, h);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cnil_rules() {
        assert!(check_rules("Court1!", "marie", 12).is_err());
        let e = check_rules("longbutsimple12", "marie", 12)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no upper case") && e.contains("no special"),
            "{e}"
        );
        assert!(check_rules("Tr0ub4dour&Horse", "marie", 12).is_ok());
        assert!(
            check_rules("CorrectHorse42Battery", "marie", 12).is_ok(),
            "14+ without special"
        );
        assert!(
            check_rules("Marie-Dupont-2026", "marie", 12).is_err(),
            "contains the account"
        );
        assert!(
            check_rules("MyAzerty-2026-x", "paul", 12).is_err(),
            "common word"
        );
        assert!(
            check_rules("Tr0ub4dour&Horse", "marie", 20).is_err(),
            "longer minimum"
        );
    }

    #[test]
    fn hashes_verify_and_differ() {
        let a = hash("Tr0ub4dour&Horse");
        let b = hash("Tr0ub4dour&Horse");
        assert_ne!(a, b, "salted");
        assert!(a.starts_with("$argon2id$"));
        assert!(verify("Tr0ub4dour&Horse", &a));
        assert!(!verify("tr0ub4dour&Horse", &a));
        assert!(!verify("x", "not a hash"));
    }
}
