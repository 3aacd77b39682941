//! Comparing a credential a client sent with the one configured, in time
//! that says nothing about either: both are reduced to SHA-256 digests
//! (32 bytes whatever their length) and the digests compared without an
//! early exit. A byte-wise compare that stops at the first difference tells
//! an attacker how much of a guess was right; one that stops on a length
//! mismatch tells them the key's length.

use sha2::{Digest as _, Sha256};

/// A credential's SHA-256 digest, the form in which expected keys are kept
/// (hashed once, when configured).
pub(crate) type SecretDigest = [u8; 32];

pub(crate) fn digest(secret: &[u8]) -> SecretDigest {
    Sha256::digest(secret).into()
}

/// Whether `given` is the secret whose digest is `expected`. Hashing
/// `given` takes time by its own length (the client's, already known to
/// it); the compare takes the same time for every pair of digests.
pub(crate) fn matches(given: &[u8], expected: &SecretDigest) -> bool {
    digests_equal(&digest(given), expected)
}

/// Equality of two digests, touching every byte of both.
pub(crate) fn digests_equal(a: &SecretDigest, b: &SecretDigest) -> bool {
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    // Keeps the compiler from turning the loop into an early exit.
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_unequal_and_different_length_secrets() {
        let key = digest(b"nginx-key-0123456789abcdef");
        assert!(matches(b"nginx-key-0123456789abcdef", &key));
        assert!(!matches(b"nginx-key-0123456789abcdeF", &key));
        // Prefixes and extensions differ in length: same answer, same work
        // (a 32-byte compare) as any other wrong key.
        assert!(!matches(b"nginx-key-0123456789abcde", &key));
        assert!(!matches(b"nginx-key-0123456789abcdef0", &key));
        assert!(!matches(b"", &key));
        assert!(matches(b"", &digest(b"")));
        assert!(digests_equal(&key, &key));
        assert!(!digests_equal(&key, &digest(b"other")));
    }
}
