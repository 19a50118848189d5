//! Signed media URLs for files that are not public.
//!
//! `/media/{key}?exp={unix secs}&sig={hex}` where `sig` is
//! HMAC-SHA256(key, "v1\n{object key}\n{exp}\n{acl_version}"). The object key
//! binds the URL to one photo and one resolution; the photo's `acl_version`,
//! bumped by every visibility, viewer or deletion change, revokes every URL
//! signed before the change, the moment it commits.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone)]
pub struct MediaSigner {
    key: [u8; 32],
    /// Lifetime of a signed URL.
    pub ttl_secs: i64,
}

impl MediaSigner {
    /// Derives the URL-signing key from the service secret, so it never
    /// equals the JWT key.
    pub fn new(secret: &[u8], ttl_secs: i64) -> Self {
        let mut h = Sha256::new();
        h.update(b"photostream media url signing v1\0");
        h.update(secret);
        Self {
            key: h.finalize().into(),
            ttl_secs,
        }
    }

    fn mac(&self, object_key: &str, exp: i64, acl_version: i64) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(format!("v1\n{object_key}\n{exp}\n{acl_version}").as_bytes());
        mac
    }

    /// The query string (`exp=…&sig=…`) for `object_key`, valid from `now`.
    pub fn sign(&self, object_key: &str, acl_version: i64, now_secs: i64) -> String {
        let exp = now_secs + self.ttl_secs;
        let sig = hex::encode(self.mac(object_key, exp, acl_version).finalize().into_bytes());
        format!("exp={exp}&sig={sig}")
    }

    /// Whether `sig` is a valid, unexpired signature (constant-time compare).
    pub fn verify(&self, object_key: &str, acl_version: i64, exp: i64, sig: &str, now_secs: i64) -> bool {
        if exp < now_secs || exp > now_secs + self.ttl_secs + 60 {
            return false;
        }
        let Ok(sig) = hex::decode(sig) else {
            return false;
        };
        self.mac(object_key, exp, acl_version).verify_slice(&sig).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_key_version_and_time() {
        let s = MediaSigner::new(b"0123456789abcdef0123456789abcdef", 300);
        let q = s.sign("a/default/original/x.jpg", 3, 1000);
        let exp: i64 = q.split('&').next().unwrap()[4..].parse().unwrap();
        let sig = &q.split("sig=").nth(1).unwrap();
        assert!(s.verify("a/default/original/x.jpg", 3, exp, sig, 1000));
        assert!(!s.verify("a/default/thumbnail/x.jpg", 3, exp, sig, 1000), "other resolution");
        assert!(!s.verify("a/default/original/x.jpg", 4, exp, sig, 1000), "revoked by ACL change");
        assert!(!s.verify("a/default/original/x.jpg", 3, exp, sig, 1301), "expired");
        assert!(!s.verify("a/default/original/x.jpg", 3, exp + 1, sig, 1000), "tampered expiry");
        assert!(!s.verify("a/default/original/x.jpg", 3, exp, "zz", 1000));
        let other = MediaSigner::new(b"another secret, another key.....", 300);
        assert!(!other.verify("a/default/original/x.jpg", 3, exp, sig, 1000));
    }
}
