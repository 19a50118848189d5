use serde::{Deserialize, Serialize};
use std::fmt;

use crate::InvalidValue;

/// A username: 3–32 characters of `a-z`, `0-9`, `_` and `-`, starting with a
/// letter or digit. Lower-cased on parse so `Alice` and `alice` are one account.
/// It appears in object keys and URLs, so the alphabet is deliberately small.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let s = raw.trim().to_ascii_lowercase();
        let ok_len = (3..=32).contains(&s.len());
        let ok_chars = s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        let ok_start = s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
        if ok_len && ok_chars && ok_start {
            Ok(Self(s))
        } else {
            Err(InvalidValue(
                "username must be 3-32 characters of a-z, 0-9, '_' or '-', starting with a letter or digit".into(),
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Username {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}
impl From<Username> for String {
    fn from(u: Username) -> String {
        u.0
    }
}
impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An album name as it appears in object keys and `/media/` paths: 1–64
/// characters of `a-z`, `0-9`, `_` and `-` (no dots, so never `.` or `..`).
/// Albums keep a free-form display title elsewhere; this is the path segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AlbumName(String);

impl AlbumName {
    pub const DEFAULT: &'static str = "default";

    pub fn default_album() -> Self {
        Self(Self::DEFAULT.into())
    }

    /// Accepts a human name (`"Summer 2024!"`) and slugs it (`"summer-2024"`).
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let mut slug = String::new();
        for c in raw.trim().chars() {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() || c == '_' {
                slug.push(c);
            } else if !slug.ends_with('-') && !slug.is_empty() {
                slug.push('-');
            }
        }
        let slug = slug.trim_end_matches('-').to_string();
        if slug.is_empty() || slug.len() > 64 {
            return Err(InvalidValue(
                "album name must contain 1-64 letters, digits, '-' or '_'".into(),
            ));
        }
        Ok(Self(slug))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AlbumName {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}
impl From<AlbumName> for String {
    fn from(a: AlbumName) -> String {
        a.0
    }
}
impl fmt::Display for AlbumName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The stem of a stored file name, sanitised from whatever the client sent:
/// no directories, no dots, no control or non-ASCII characters, at most 80
/// bytes, never empty. The extension always comes from the sniffed format,
/// never from the client.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileName {
    stem: String,
}

impl FileName {
    pub const MAX_STEM: usize = 80;

    /// Never fails: a hostile or empty name becomes `photo`.
    pub fn sanitise(client_name: Option<&str>) -> Self {
        let raw = client_name.unwrap_or("");
        // Last path component, whichever separator the client used.
        let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
        let stem = match base.rfind('.') {
            Some(0) | None => base,
            Some(i) => &base[..i],
        };
        let mut out = String::new();
        for c in stem.chars() {
            if out.len() >= Self::MAX_STEM {
                break;
            }
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                out.push(c);
            } else if !out.ends_with('-') && !out.is_empty() {
                out.push('-');
            }
        }
        let out = out.trim_matches('-').to_string();
        Self {
            stem: if out.is_empty() { "photo".into() } else { out },
        }
    }

    pub fn stem(&self) -> &str {
        &self.stem
    }

    /// The same name made unique with a short suffix.
    pub fn with_suffix(&self, suffix: &str) -> Self {
        Self {
            stem: format!("{}-{}", self.stem, suffix),
        }
    }

    /// `{stem}.{ext}`
    pub fn with_ext(&self, ext: &str) -> String {
        format!("{}.{}", self.stem, ext)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(Username::parse("Alice").unwrap().as_str(), "alice");
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse("-abc").is_err());
        assert!(Username::parse("a/b/c").is_err());
        assert!(Username::parse(&"a".repeat(33)).is_err());
    }

    #[test]
    fn album_names_are_slugged() {
        assert_eq!(AlbumName::parse("Summer 2024!").unwrap().as_str(), "summer-2024");
        assert_eq!(AlbumName::parse("../..").is_err(), true);
        assert_eq!(AlbumName::parse("default").unwrap(), AlbumName::default_album());
    }

    #[test]
    fn hostile_file_names_are_tamed() {
        assert_eq!(FileName::sanitise(Some("swans.png")).stem(), "swans");
        assert_eq!(FileName::sanitise(Some("../../etc/passwd")).stem(), "passwd");
        assert_eq!(FileName::sanitise(Some("C:\\x\\evil name.jpg")).stem(), "evil-name");
        assert_eq!(FileName::sanitise(Some(".htaccess")).stem(), "htaccess");
        assert_eq!(FileName::sanitise(Some("\u{0}\u{7}.jpg")).stem(), "photo");
        assert_eq!(FileName::sanitise(None).stem(), "photo");
        assert_eq!(FileName::sanitise(Some("ünïcødé.jpg")).stem(), "n-c-d");
        let long = "x".repeat(1000);
        assert_eq!(FileName::sanitise(Some(&long)).stem().len(), FileName::MAX_STEM);
        assert_eq!(FileName::sanitise(Some("a.b.c.jpeg")).with_ext("jpg"), "a-b-c.jpg");
    }
}
