//! API keys: `rpk_<id>_<secret>`, where the id (16 hex digits, 8 random
//! bytes) is the public lookup index and the secret (43 base64url
//! characters, 32 random bytes from the OS) is never stored: the store
//! keeps `hex(HMAC-SHA256(server secret, secret bytes))`.
//!
//! Why HMAC and not a password hash (argon2): the secret is 256 random
//! bits, so a deliberately slow hash adds nothing against guessing and
//! would cost tens of milliseconds per request; keying it with the server
//! secret means a stolen database alone cannot even test a guess.

use std::fmt;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use riposte_model::KeyId;
use sha2::Sha256;

/// Every key starts with it, so secret scanners and people recognise one.
pub const KEY_PREFIX: &str = "rpk_";
/// `rpk_` + 16 + `_` + 43.
pub const KEY_TEXT_LEN: usize = 4 + KeyId::LEN + 1 + SECRET_TEXT_LEN;
const SECRET_LEN: usize = 32;
const SECRET_TEXT_LEN: usize = 43;

/// Text that is not an API key. It never quotes the text: it may be a real
/// key pasted into the wrong place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed API key (expected rpk_<16 hex digits>_<43 base64url characters>)")]
pub struct MalformedKey;

/// A key as presented by a client, parsed. Its `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct BearerKey {
    pub id: KeyId,
    secret: [u8; SECRET_LEN],
}

impl fmt::Debug for BearerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerKey")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl BearerKey {
    /// Accepts exactly `rpk_<16 lowercase hex>_<43 base64url, canonical>`
    /// and nothing else; never panics, whatever the input (it comes from
    /// any client).
    pub fn parse(text: &str) -> Result<Self, MalformedKey> {
        let bytes = text.as_bytes();
        if bytes.len() != KEY_TEXT_LEN
            || !bytes.starts_with(KEY_PREFIX.as_bytes())
            || bytes[4 + KeyId::LEN] != b'_'
        {
            return Err(MalformedKey);
        }
        let id = std::str::from_utf8(&bytes[4..4 + KeyId::LEN]).map_err(|_| MalformedKey)?;
        let id: KeyId = id.parse().map_err(|_| MalformedKey)?;
        // 43 characters decode to at most 33 bytes by the engine's estimate;
        // the canonical encoding of 32 bytes is exactly 43 with zero
        // trailing bits (the engine rejects any other).
        let mut buf = [0u8; SECRET_LEN + 1];
        let n = URL_SAFE_NO_PAD
            .decode_slice(&bytes[4 + KeyId::LEN + 1..], &mut buf)
            .map_err(|_| MalformedKey)?;
        if n != SECRET_LEN {
            return Err(MalformedKey);
        }
        let mut secret = [0u8; SECRET_LEN];
        secret.copy_from_slice(&buf[..SECRET_LEN]);
        Ok(Self { id, secret })
    }

    fn text(&self) -> String {
        format!(
            "{KEY_PREFIX}{}_{}",
            self.id,
            URL_SAFE_NO_PAD.encode(self.secret)
        )
    }
}

/// A freshly generated key: its text is shown once and then exists only
/// with whoever holds it.
pub struct NewKey {
    pub key: BearerKey,
    /// `rpk_…`, for the person who asked for the key.
    pub text: String,
}

impl fmt::Debug for NewKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewKey")
            .field("id", &self.key.id)
            .finish_non_exhaustive()
    }
}

/// The operating system's generator failed (it does not, on Linux, once
/// booted; but a key must never come from anything weaker).
#[derive(Debug, thiserror::Error)]
#[error("no randomness from the operating system: {0}")]
pub struct NoRandomness(getrandom::Error);

fn random<const N: usize>() -> Result<[u8; N], NoRandomness> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(NoRandomness)?;
    Ok(bytes)
}

/// A new key: 8 random bytes of id and 32 of secret.
pub fn generate_key() -> Result<NewKey, NoRandomness> {
    let key = BearerKey {
        id: KeyId::from_bytes(random()?),
        secret: random()?,
    };
    Ok(NewKey {
        text: key.text(),
        key,
    })
}

/// The server's HMAC key. Several hosts on one PostgreSQL share one file;
/// losing it invalidates every key (they can be re-issued, not recovered).
#[derive(Clone)]
pub struct ServerSecret {
    /// Keyed once: each hash clones the prepared state instead of
    /// re-deriving the pads.
    mac: Hmac<Sha256>,
}

impl fmt::Debug for ServerSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerSecret(<redacted>)")
    }
}

/// What went wrong with the secret file.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("auth secret file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "auth secret file {} is readable by group or others (mode {mode:04o}); \
         restrict it with `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    Permissive { path: PathBuf, mode: u32 },
    #[error("auth secret file {} does not hold 64 hex digits (32 bytes)", path.display())]
    Malformed { path: PathBuf },
    #[error(transparent)]
    Random(#[from] NoRandomness),
}

/// Stored hashes are hex of 32 bytes; this one matches nothing and is what
/// an unknown key id is checked against, so that it costs one HMAC too.
const NO_HASH: [u8; 32] = [0; 32];

impl ServerSecret {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self {
            // HMAC accepts keys of any length; 32 bytes cannot fail.
            mac: <Hmac<Sha256> as Mac>::new_from_slice(&bytes)
                .unwrap_or_else(|_| unreachable!("HMAC takes any key length")),
        }
    }

    /// A new random secret (tests, benches; servers use
    /// [`ServerSecret::load_or_create`]).
    pub fn generate() -> Result<Self, NoRandomness> {
        Ok(Self::from_bytes(random()?))
    }

    /// Reads the secret at `path`, or creates it (32 random bytes as hex,
    /// mode 0600, parent directories included) when there is none. Refuses
    /// a file that group or others may read. Two processes creating it at
    /// once agree on one secret: the file appears complete or not at all
    /// (written aside, then hard-linked into place, which fails if it
    /// exists).
    pub fn load_or_create(path: &Path) -> Result<Self, SecretError> {
        match Self::load(path) {
            Err(SecretError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound => {}
            other => return other,
        }
        let bytes: [u8; 32] = random()?;
        let io = |source| SecretError::Io {
            path: path.to_owned(),
            source,
        };
        match create_exclusive(path, &bytes) {
            Ok(()) => Ok(Self::from_bytes(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::load(path),
            Err(e) => Err(io(e)),
        }
    }

    /// Reads an existing secret file.
    pub fn load(path: &Path) -> Result<Self, SecretError> {
        let io = |source| SecretError::Io {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = meta.permissions().mode() & 0o7777;
            if mode & 0o077 != 0 {
                return Err(SecretError::Permissive {
                    path: path.to_owned(),
                    mode,
                });
            }
        }
        let malformed = || SecretError::Malformed {
            path: path.to_owned(),
        };
        if !meta.is_file() {
            return Err(malformed());
        }
        // 64 hex digits and a newline; anything much longer is not ours.
        let mut text = String::new();
        file.take(256).read_to_string(&mut text).map_err(io)?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| malformed())?;
        Ok(Self::from_bytes(bytes))
    }

    fn mac(&self, key: &BearerKey) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(&key.secret);
        mac
    }

    /// What the store keeps for `key`: hex of the HMAC of its secret.
    pub fn hash(&self, key: &BearerKey) -> String {
        hex::encode(self.mac(key).finalize().into_bytes())
    }

    /// Whether `key` is the key whose hash is `stored` (32 bytes, as
    /// decoded from the stored hex), in constant time.
    pub fn verify(&self, key: &BearerKey, stored: &[u8; 32]) -> bool {
        self.mac(key).verify_slice(stored).is_ok()
    }

    /// The same work as a real check, for a key id the store does not
    /// know: an attacker timing responses learns nothing about which ids
    /// exist.
    pub fn verify_nothing(&self, key: &BearerKey) -> bool {
        self.verify(key, &NO_HASH)
    }
}

/// Decodes a stored hash; a corrupt one matches nothing.
pub(crate) fn stored_hash(hex_text: &str) -> [u8; 32] {
    let mut out = NO_HASH;
    if hex::decode_to_slice(hex_text, &mut out).is_err() {
        out = NO_HASH;
    }
    out
}

fn create_exclusive(path: &Path, bytes: &[u8; 32]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let name = path
        .file_name()
        .map_or_else(|| "auth.secret".into(), |n| n.to_string_lossy());
    let nonce: [u8; 8] = random().map_err(std::io::Error::other)?;
    let aside = path.with_file_name(format!(".{name}.{}.tmp", hex::encode(nonce)));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let written = (|| {
        let mut file = options.open(&aside)?;
        file.write_all(format!("{}\n", hex::encode(bytes)).as_bytes())?;
        file.sync_all()?;
        std::fs::hard_link(&aside, path)
    })();
    let _ = std::fs::remove_file(&aside);
    written
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_back_to_themselves() {
        let new = generate_key().unwrap();
        assert_eq!(new.text.len(), 64);
        assert!(new.text.starts_with("rpk_"));
        assert_eq!(&new.text[4..20], new.key.id.as_str());
        let parsed = BearerKey::parse(&new.text).unwrap();
        assert_eq!(parsed, new.key);
        assert_eq!(parsed.text(), new.text);
        // Two keys share neither id nor secret.
        let other = generate_key().unwrap();
        assert_ne!(other.key.id, new.key.id);
        assert_ne!(other.key.secret, new.key.secret);
    }

    #[test]
    fn the_key_format_is_fixed() {
        let key = BearerKey {
            id: "0123456789abcdef".parse().unwrap(),
            secret: [0xfb; 32],
        };
        assert_eq!(
            key.text(),
            "rpk_0123456789abcdef_-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_s"
        );
        assert_eq!(BearerKey::parse(&key.text()).unwrap(), key);
    }

    #[test]
    fn malformed_keys_are_rejected_without_panicking() {
        let good = generate_key().unwrap().text;
        let mut bad: Vec<String> = vec![
            String::new(),
            "rpk_".into(),
            good[..63].into(),
            format!("{good}A"),
            good.replacen("rpk_", "rpK_", 1),
            good.replacen("rpk_", "xyz_", 1),
            format!(" {}", &good[1..]),
            // Uppercase hex in the id.
            format!("rpk_0123456789ABCDEF{}", &good[20..]),
            // The separator replaced.
            format!("{}-{}", &good[..20], &good[21..]),
            // Standard base64 characters, not base64url.
            format!("{}+{}", &good[..21], &good[22..]),
            format!("{}={}", &good[..21], &good[22..]),
            // A multi-byte character where the separator is: no slicing
            // panic on a char boundary.
            format!("{}é{}", &good[..20], &good[22..]),
            "rpk_0123456789abcdef_".to_owned() + &"é".repeat(21) + "a",
            "Bearer rpk_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
        ];
        // Non-canonical: 43 characters whose last one carries set low bits.
        let noncanonical = format!("rpk_0123456789abcdef_{}B", "A".repeat(42));
        bad.push(noncanonical);
        for text in &bad {
            assert_eq!(BearerKey::parse(text), Err(MalformedKey), "{text:?}");
        }
        assert_eq!(
            MalformedKey.to_string(),
            "malformed API key (expected rpk_<16 hex digits>_<43 base64url characters>)"
        );
        // Every byte string of the right length that is not a key.
        for b in 0..=255u8 {
            let mut text = good.clone().into_bytes();
            text[30] = b;
            if let Ok(text) = String::from_utf8(text) {
                let _ = BearerKey::parse(&text);
            }
        }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let new = generate_key().unwrap();
        let secret_text = &new.text[21..];
        for shown in [format!("{:?}", new.key), format!("{new:?}")] {
            assert!(!shown.contains(secret_text), "{shown}");
            assert!(shown.contains(new.key.id.as_str()), "{shown}");
        }
        assert_eq!(
            format!("{:?}", ServerSecret::from_bytes([1; 32])),
            "ServerSecret(<redacted>)"
        );
    }

    #[test]
    fn hashes_verify_only_under_the_same_secret() {
        let secret = ServerSecret::from_bytes([1; 32]);
        let key = generate_key().unwrap().key;
        let hash = secret.hash(&key);
        assert_eq!(hash.len(), 64);
        assert!(secret.verify(&key, &stored_hash(&hash)));
        assert!(!ServerSecret::from_bytes([2; 32]).verify(&key, &stored_hash(&hash)));
        let other = generate_key().unwrap().key;
        assert!(!secret.verify(&other, &stored_hash(&hash)));
        assert!(!secret.verify_nothing(&key));
        assert_eq!(stored_hash("not hex"), NO_HASH);
        // Pinned: HMAC-SHA256 with a 32-byte zero key over 32 zero bytes
        // (Python: hmac.new(bytes(32), bytes(32), sha256).hexdigest()).
        let fixed = BearerKey {
            id: "0000000000000000".parse().unwrap(),
            secret: [0; 32],
        };
        assert_eq!(
            ServerSecret::from_bytes([0; 32]).hash(&fixed),
            "33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a"
        );
    }

    #[test]
    fn the_secret_file_is_created_0600_and_read_back() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/auth.secret");
        let first = ServerSecret::load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.len(), 65);
        assert!(text.ends_with('\n'));
        // Nothing left beside it.
        let names: Vec<_> = std::fs::read_dir(dir.path().join("data"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["auth.secret"]);
        let again = ServerSecret::load_or_create(&path).unwrap();
        let key = generate_key().unwrap().key;
        assert_eq!(first.hash(&key), again.hash(&key));
    }

    #[test]
    fn a_secret_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.secret");
        ServerSecret::load_or_create(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let err = ServerSecret::load_or_create(&path).unwrap_err();
        assert!(
            matches!(err, SecretError::Permissive { mode: 0o640, .. }),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "auth secret file {0} is readable by group or others (mode 0640); \
                 restrict it with `chmod 600 {0}`",
                path.display()
            )
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(ServerSecret::load(&path).is_ok());
    }

    #[test]
    fn a_secret_file_without_64_hex_digits_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.secret");
        std::fs::write(&path, "abc\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = ServerSecret::load_or_create(&path).unwrap_err();
        assert!(matches!(err, SecretError::Malformed { .. }), "{err:?}");
        // It is not replaced: a wrong secret must be fixed, not forgotten.
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "abc\n");
    }
}
