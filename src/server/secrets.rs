//! Secrets at rest (integration credentials, webhook secrets and header
//! values): sealed with AES-256-GCM under the bank's key, each stored with
//! the id of the key that sealed it, so that keys can be rotated (the
//! previous keys still open what they sealed until it is sealed again). A
//! sealed value is bound to its context (say, the row and column it belongs
//! to): moved elsewhere, it no longer opens. The key comes from
//! `VERIPHY_SECRET_KEY` (base64 of 32 bytes) or from a key file created
//! under the data directory on first start, readable by its owner only.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::path::Path;

/// Bytes of a nonce, stored before the ciphertext.
const NONCE_BYTES: usize = 12;

/// Why a secret could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// A key is not base64 of 32 bytes.
    #[error("The secret key must be base64 of exactly 32 bytes.")]
    BadKey,
    /// The key file could not be read or written.
    #[error("The secret key file {path} cannot be used: {reason}")]
    KeyFile {
        /// Its path.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// Sealed under a key this process does not have.
    #[error("This secret was sealed with key {0}, which is not configured.")]
    UnknownKey(String),
    /// Altered, moved to another context, or corrupt.
    #[error("This secret cannot be opened: it was altered or belongs elsewhere.")]
    Unreadable,
}

/// One key and its id (the first 8 bytes of its SHA-256, in hex).
pub struct SecretKey {
    id: String,
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // never the key itself
        f.debug_struct("SecretKey").field("id", &self.id).finish()
    }
}

impl SecretKey {
    /// The key of `bytes`.
    pub fn from_bytes(bytes: &[u8; 32]) -> SecretKey {
        let digest = Sha256::digest(bytes);
        SecretKey {
            id: digest[..8].iter().map(|b| format!("{b:02x}")).collect(),
            cipher: Aes256Gcm::new(bytes.into()),
        }
    }

    /// The key written as base64 (the setting's and the key file's form).
    pub fn from_base64(text: &str) -> Result<SecretKey, SecretError> {
        let bytes = BASE64
            .decode(text.trim())
            .map_err(|_| SecretError::BadKey)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| SecretError::BadKey)?;
        Ok(SecretKey::from_bytes(&bytes))
    }

    /// A new random key and its base64 form.
    pub fn generate() -> (SecretKey, String) {
        let bytes: [u8; 32] = Aes256Gcm::generate_key(&mut OsRng).into();
        (SecretKey::from_bytes(&bytes), BASE64.encode(bytes))
    }

    /// Its id, stored beside what it seals.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Reads the keyring of the key file at `path` — the current key on its
/// first line, earlier ones (still opening what they sealed) on the next —
/// or creates the file with a new key, readable and writable by its owner
/// only.
pub fn load_or_create_key_file(path: &Path) -> Result<Keyring, SecretError> {
    match std::fs::read_to_string(path) {
        Ok(text) => keyring_of_file(&text),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                use std::os::unix::fs::DirBuilderExt;
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .map_err(|e| key_file_error(path, e))?;
            }
            let (key, text) = SecretKey::generate();
            write_key_file(path, &text, true)?;
            Ok(Keyring::new(key, Vec::new()))
        }
        Err(error) => Err(key_file_error(path, error)),
    }
}

/// Puts a new current key at the head of the key file at `path` (the
/// earlier ones stay, to open what they sealed until it is sealed again).
pub fn add_key_to_file(path: &Path) -> Result<Keyring, SecretError> {
    let earlier = std::fs::read_to_string(path).map_err(|e| key_file_error(path, e))?;
    keyring_of_file(&earlier)?;
    let (_, text) = SecretKey::generate();
    let replacement = path.with_extension("key.new");
    write_key_file(&replacement, &format!("{text}\n{}", earlier.trim()), true)?;
    std::fs::rename(&replacement, path).map_err(|e| key_file_error(path, e))?;
    load_or_create_key_file(path)
}

fn keyring_of_file(text: &str) -> Result<Keyring, SecretError> {
    let mut keys = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(SecretKey::from_base64);
    let current = keys.next().ok_or(SecretError::BadKey)??;
    Ok(Keyring::new(current, keys.collect::<Result<_, _>>()?))
}

fn key_file_error(path: &Path, error: std::io::Error) -> SecretError {
    SecretError::KeyFile {
        path: path.display().to_string(),
        reason: error.to_string(),
    }
}

/// Writes `text` to a new file at `path`, mode 0600, flushed to disk.
fn write_key_file(path: &Path, text: &str, create_new: bool) -> Result<(), SecretError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).mode(0o600);
    if create_new {
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|e| key_file_error(path, e))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| key_file_error(path, e))
}

/// A sealed secret as stored: the key's id and nonce + ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The id of the key that sealed it.
    pub key_id: String,
    /// Nonce followed by ciphertext and tag.
    pub data: Vec<u8>,
}

/// The current key, which seals, and earlier ones, which still open.
#[derive(Debug)]
pub struct Keyring {
    current: SecretKey,
    previous: Vec<SecretKey>,
}

impl Keyring {
    /// A keyring sealing with `current`.
    pub fn new(current: SecretKey, previous: Vec<SecretKey>) -> Keyring {
        Keyring { current, previous }
    }

    /// A keyring of one new random key, for what keeps nothing it seals
    /// beyond the process (benchmarks, tests).
    pub fn ephemeral() -> Keyring {
        Keyring::new(SecretKey::generate().0, Vec::new())
    }

    /// Seals `secret` for `context` (e.g. `system_integrations/<id>/credentials`).
    pub fn seal(&self, secret: &str, context: &str) -> Sealed {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = self
            .current
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: secret.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of an in-memory value does not fail");
        let mut data = nonce.to_vec();
        data.extend_from_slice(&ciphertext);
        Sealed {
            key_id: self.current.id.clone(),
            data,
        }
    }

    /// Opens what was sealed for `context`.
    pub fn open(&self, sealed: &Sealed, context: &str) -> Result<String, SecretError> {
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|key| key.id == sealed.key_id)
            .ok_or_else(|| SecretError::UnknownKey(sealed.key_id.clone()))?;
        if sealed.data.len() <= NONCE_BYTES {
            return Err(SecretError::Unreadable);
        }
        let (nonce, ciphertext) = sealed.data.split_at(NONCE_BYTES);
        let plain = key
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Unreadable)?;
        String::from_utf8(plain).map_err(|_| SecretError::Unreadable)
    }

    /// The id of the key that seals.
    pub fn current_id(&self) -> &str {
        self.current.id()
    }

    /// Whether `sealed` should be sealed again under the current key.
    pub fn is_stale(&self, sealed: &Sealed) -> bool {
        sealed.key_id != self.current.id
    }
}

/// A secret as a browser may see it: its last four characters.
pub fn masked(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() <= 4 {
        return "••••".into();
    }
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("••••{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyring() -> Keyring {
        Keyring::ephemeral()
    }

    #[test]
    fn a_sealed_secret_opens_in_its_context_only() {
        let ring = keyring();
        let sealed = ring.seal("token-123", "system_integrations/1/credentials");
        assert!(!sealed.data.windows(9).any(|w| w == b"token-123"));
        assert_eq!(
            ring.open(&sealed, "system_integrations/1/credentials"),
            Ok("token-123".into())
        );
        assert_eq!(
            ring.open(&sealed, "system_integrations/2/credentials"),
            Err(SecretError::Unreadable)
        );
    }

    #[test]
    fn an_altered_secret_does_not_open() {
        let ring = keyring();
        let mut sealed = ring.seal("token-123", "ctx");
        let last = sealed.data.len() - 1;
        sealed.data[last] ^= 1;
        assert_eq!(ring.open(&sealed, "ctx"), Err(SecretError::Unreadable));
    }

    #[test]
    fn after_rotation_old_secrets_open_and_are_marked_stale() {
        let (old, old_text) = SecretKey::generate();
        let sealed = Keyring::new(old, Vec::new()).seal("s3cret", "ctx");
        let rotated = Keyring::new(
            SecretKey::generate().0,
            vec![SecretKey::from_base64(&old_text).unwrap()],
        );
        assert_eq!(rotated.open(&sealed, "ctx"), Ok("s3cret".into()));
        assert!(rotated.is_stale(&sealed));
        assert!(!rotated.is_stale(&rotated.seal("s3cret", "ctx")));
        let without_old = keyring();
        assert_eq!(
            without_old.open(&sealed, "ctx"),
            Err(SecretError::UnknownKey(sealed.key_id.clone()))
        );
    }

    #[test]
    fn a_key_must_be_base64_of_32_bytes() {
        assert_eq!(
            SecretKey::from_base64("c2hvcnQ=").unwrap_err(),
            SecretError::BadKey
        );
        assert_eq!(
            SecretKey::from_base64("not base64!").unwrap_err(),
            SecretError::BadKey
        );
    }

    #[test]
    fn the_key_file_is_made_once_for_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("veriphy-key-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("secret.key");
        let made = load_or_create_key_file(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        let again = load_or_create_key_file(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(mode, 0o600);
        assert_eq!(made.current_id(), again.current_id());
    }

    #[test]
    fn a_key_added_to_the_file_seals_and_the_earlier_one_still_opens() {
        let dir = std::env::temp_dir().join(format!("veriphy-key-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("secret.key");
        let before = load_or_create_key_file(&path).unwrap();
        let sealed = before.seal("token", "ctx");

        let after = add_key_to_file(&path).unwrap();
        let reread = load_or_create_key_file(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();

        assert_ne!(after.current_id(), before.current_id());
        assert_eq!(reread.current_id(), after.current_id());
        assert!(after.is_stale(&sealed));
        assert_eq!(after.open(&sealed, "ctx").unwrap(), "token");
        assert!(!after.is_stale(&after.seal("token", "ctx")));
    }

    #[test]
    fn a_browser_sees_only_the_last_four_characters() {
        assert_eq!(masked("AC1234567890abcd"), "••••abcd");
        assert_eq!(masked("abc"), "••••");
    }
}
