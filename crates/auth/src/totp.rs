//! Two-factor authentication: TOTP (RFC 6238, 6 digits every 30 s, SHA-1
//! as authenticator apps expect) with a QR code to enrol, and single-use
//! recovery codes. A code is accepted once: a replayed one is refused.

use rand::RngCore;
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, Secret, TOTP};

use crate::AuthError;

/// Shown as the issuer in authenticator apps.
pub const ISSUER: &str = "softswitch";
const STEP: u64 = 30;

fn totp(secret_b32: &str, account: &str) -> Result<TOTP, AuthError> {
    let bytes = Secret::Encoded(secret_b32.to_string())
        .to_bytes()
        .map_err(|e| AuthError::Invalid(format!("stored TOTP secret unreadable: {e:?}")))?;
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP,
        bytes,
        Some(ISSUER.to_string()),
        account.to_string(),
    )
    .map_err(|e| AuthError::Invalid(format!("TOTP: {e}")))
}

/// A new random secret (160 bits, base32).
pub fn new_secret() -> String {
    let mut b = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut b);
    Secret::Raw(b.to_vec()).to_encoded().to_string()
}

/// The `otpauth://` URL an authenticator app reads from the QR code.
pub fn otpauth_url(secret_b32: &str, account: &str) -> Result<String, AuthError> {
    Ok(totp(secret_b32, account)?.get_url())
}

/// The QR code of the enrolment URL, as an SVG element for the page.
pub fn qr_svg(secret_b32: &str, account: &str) -> Result<String, AuthError> {
    let url = otpauth_url(secret_b32, account)?;
    let code = qrcode::QrCode::new(url.as_bytes())
        .map_err(|e| AuthError::Invalid(format!("QR code: {e}")))?;
    Ok(code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

/// The code for `unix_time` (tests and the enrolment check use it).
pub fn code_at(secret_b32: &str, unix_time: u64) -> Result<String, AuthError> {
    Ok(totp(secret_b32, "x")?.generate(unix_time))
}

/// Check `code` at `unix_time`, one step of drift either way allowed.
/// Returns the time step it matched, which must be later than
/// `last_step` (the step of the last code accepted: a code is used once).
pub fn check(
    secret_b32: &str,
    code: &str,
    unix_time: u64,
    last_step: Option<u64>,
) -> Result<u64, AuthError> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        return Err(AuthError::Invalid("the code has 6 digits".into()));
    }
    let t = totp(secret_b32, "x")?;
    let now_step = unix_time / STEP;
    for step in [now_step.saturating_sub(1), now_step, now_step + 1] {
        if t.generate(step * STEP) == code {
            if last_step.is_some_and(|l| step <= l) {
                return Err(AuthError::Invalid(
                    "this code was already used: wait for the next one".into(),
                ));
            }
            return Ok(step);
        }
    }
    Err(AuthError::Invalid("wrong code".into()))
}

/// Ten new recovery codes (`xxxxx-xxxxx`, about 50 bits each), and their
/// hashes to store.
pub fn recovery_codes() -> (Vec<String>, Vec<String>) {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut codes = Vec::new();
    for _ in 0..10 {
        let mut raw = [0u8; 10];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let s: String = raw
            .iter()
            .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
            .collect();
        codes.push(format!("{}-{}", &s[..5], &s[5..]));
    }
    let hashes = codes.iter().map(|c| recovery_hash(c)).collect();
    (codes, hashes)
}

/// The stored form of a recovery code (spaces and case do not matter).
pub fn recovery_hash(code: &str) -> String {
    let norm: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    hex::encode(Sha256::digest(norm.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_vector() {
        // RFC 6238 appendix B, SHA-1 secret "12345678901234567890", T = 59:
        // 94287082 on 8 digits, so 287082 on 6.
        let secret = Secret::Raw(b"12345678901234567890".to_vec())
            .to_encoded()
            .to_string();
        assert_eq!(code_at(&secret, 59).unwrap(), "287082");
        assert_eq!(code_at(&secret, 1111111109).unwrap(), "081804");
    }

    #[test]
    fn codes_are_checked_once_with_drift() {
        let s = new_secret();
        let now = 1_800_000_000;
        let c = code_at(&s, now).unwrap();
        let step = check(&s, &c, now, None).unwrap();
        assert!(check(&s, &c, now, Some(step)).is_err(), "replay refused");
        let before = code_at(&s, now - 30).unwrap();
        assert!(
            check(&s, &before, now, None).is_ok(),
            "one step late is fine"
        );
        let old = code_at(&s, now - 90).unwrap();
        assert!(check(&s, &old, now, None).is_err());
        assert!(check(&s, "12a456", now, None).is_err());
        assert!(otpauth_url(&s, "marie")
            .unwrap()
            .starts_with("otpauth://totp/"));
        assert!(qr_svg(&s, "marie").unwrap().contains("<svg"));
    }

    #[test]
    fn recovery_codes_hash_loosely() {
        let (codes, hashes) = recovery_codes();
        assert_eq!(codes.len(), 10);
        assert_eq!(
            recovery_hash(&codes[0].to_uppercase().replace('-', " ")),
            hashes[0]
        );
    }
}
