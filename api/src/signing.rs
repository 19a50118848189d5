//! Signed media URLs for files that are not public.
//!
//! `/media/{key}?exp={unix secs}[&u={user id}]&sig={hex}` where `sig` is
//! HMAC-SHA256(key, "v2\n{object key}\n{exp}\n{acl_version}\n{user id}"). The
//! object key binds the URL to one photo and one resolution; the photo's
//! `acl_version`, bumped by every visibility, viewer or deletion change,
//! revokes every URL signed before the change, the moment it commits. The
//! user id (empty for an anonymous caller) names whom the URL was signed
//! for: that user's one download slot is the one a signed original holds,
//! however the URL is fetched.

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

    fn mac(&self, object_key: &str, exp: i64, acl_version: i64, subject: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(format!("v2\n{object_key}\n{exp}\n{acl_version}\n{subject}").as_bytes());
        mac
    }

    /// The query string (`exp=…[&u=…]&sig=…`) for `object_key`, signed for
    /// `subject` (a user id; `None` for an anonymous caller), valid from `now`.
    pub fn sign(&self, object_key: &str, acl_version: i64, subject: Option<&str>, now_secs: i64) -> String {
        let exp = now_secs + self.ttl_secs;
        let sig = hex::encode(self.mac(object_key, exp, acl_version, subject.unwrap_or("")).finalize().into_bytes());
        match subject {
            Some(u) => format!("exp={exp}&u={u}&sig={sig}"),
            None => format!("exp={exp}&sig={sig}"),
        }
    }

    /// Whether `sig` is a valid, unexpired signature for `subject`
    /// (constant-time compare).
    pub fn verify(
        &self,
        object_key: &str,
        acl_version: i64,
        exp: i64,
        subject: Option<&str>,
        sig: &str,
        now_secs: i64,
    ) -> bool {
        if exp < now_secs || exp > now_secs + self.ttl_secs + 60 {
            return false;
        }
        let Ok(sig) = hex::decode(sig) else {
            return false;
        };
        self.mac(object_key, exp, acl_version, subject.unwrap_or("")).verify_slice(&sig).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_key_version_and_time() {
        let s = MediaSigner::new(b"0123456789abcdef0123456789abcdef", 300);
        let q = s.sign("a/default/original/x.jpg", 3, Some("u1"), 1000);
        let exp: i64 = q.split('&').next().unwrap()[4..].parse().unwrap();
        assert!(q.contains("&u=u1&"), "{q}");
        let sig = &q.split("sig=").nth(1).unwrap();
        let k = "a/default/original/x.jpg";
        assert!(s.verify(k, 3, exp, Some("u1"), sig, 1000));
        assert!(!s.verify(k, 3, exp, Some("u2"), sig, 1000), "other subject");
        assert!(!s.verify(k, 3, exp, None, sig, 1000), "subject dropped");
        assert!(!s.verify("a/default/thumbnail/x.jpg", 3, exp, Some("u1"), sig, 1000), "other resolution");
        assert!(!s.verify(k, 4, exp, Some("u1"), sig, 1000), "revoked by ACL change");
        assert!(!s.verify(k, 3, exp, Some("u1"), sig, 1301), "expired");
        assert!(!s.verify(k, 3, exp + 1, Some("u1"), sig, 1000), "tampered expiry");
        assert!(!s.verify(k, 3, exp, Some("u1"), "zz", 1000));
        let other = MediaSigner::new(b"another secret, another key.....", 300);
        assert!(!other.verify(k, 3, exp, Some("u1"), sig, 1000));
        let anon = s.sign(k, 3, None, 1000);
        assert!(!anon.contains("u="));
        assert!(s.verify(k, 3, exp, None, anon.split("sig=").nth(1).unwrap(), 1000));
    }
}
