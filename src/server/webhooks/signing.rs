//! Standard Webhooks signatures: `webhook-signature` is `v1,` followed by
//! the base64 HMAC-SHA256 of `id.timestamp.body`, keyed with the secret's
//! decoded bytes; secrets are `whsec_` and the base64 of random bytes.
//! During a rotation's grace period both secrets sign, the signatures
//! separated by a space, so a receiver holding either accepts.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// The prefix of a secret's text form.
pub const SECRET_PREFIX: &str = "whsec_";

/// Random bytes in a new secret (the specification allows 24 to 64).
const SECRET_BYTES: usize = 32;

/// A new secret: `whsec_` and the base64 of 32 random bytes.
pub fn new_secret() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

/// The key bytes of `secret` (its base64 after an optional `whsec_`);
/// `None` when it is not base64.
fn key_of(secret: &str) -> Option<Vec<u8>> {
    STANDARD
        .decode(secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret))
        .ok()
        .filter(|key| !key.is_empty())
}

/// One `v1,` signature of `body` sent as message `id` at `timestamp`.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = key_of(secret)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// The `webhook-signature` header's value: one signature per secret
/// (current first), space-separated.
pub fn signature_header(secrets: &[&str], id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let signatures: Option<Vec<String>> = secrets
        .iter()
        .map(|secret| sign(secret, id, timestamp, body))
        .collect();
    signatures.map(|s| s.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;

    #[test]
    fn the_specification_s_test_vector_is_reproduced() {
        assert_eq!(
            sign(SECRET, ID, TIMESTAMP, BODY).unwrap(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_tampered_body_or_timestamp_signs_differently() {
        let genuine = sign(SECRET, ID, TIMESTAMP, BODY).unwrap();
        assert_ne!(
            sign(SECRET, ID, TIMESTAMP, br#"{"test": 2432232315}"#).unwrap(),
            genuine
        );
        assert_ne!(sign(SECRET, ID, TIMESTAMP + 1, BODY).unwrap(), genuine);
    }

    #[test]
    fn during_a_rotation_both_secrets_sign_the_new_one_first() {
        let new = new_secret();
        let header = signature_header(&[&new, SECRET], ID, TIMESTAMP, BODY).unwrap();
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], sign(&new, ID, TIMESTAMP, BODY).unwrap());
        assert_eq!(parts[1], "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn new_secrets_are_whsec_and_32_random_bytes() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert_eq!(key_of(&a).unwrap().len(), 32);
        assert!(a.starts_with("whsec_"));
        assert_eq!(sign("whsec_not base64!", ID, TIMESTAMP, BODY), None);
    }
}
