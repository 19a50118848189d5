//! Where a photo's files live: `{user}/{album}/{resolution}/{file}`, the
//! same key in every object store (hot and cold) and under `/media/` (the
//! CDN layout). The upload path, the thumbnailer and the file routes all
//! build and read keys through [`ObjectKey`], so the layout is spelled once.

use std::fmt;

/// Which rendition of a photo a key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resolution {
    /// The bytes as uploaded.
    Original,
    /// The 50 px wide thumbnail (client-made or made by the thumbnailer).
    Thumbnail,
    /// The 1024 px display rendition.
    Display,
}

impl Resolution {
    pub const fn as_str(self) -> &'static str {
        match self {
            Resolution::Original => "original",
            Resolution::Thumbnail => "thumbnail",
            Resolution::Display => "display",
        }
    }

    /// The path segment back to a resolution (`None` for anything else).
    pub fn parse(segment: &str) -> Option<Self> {
        match segment {
            "original" => Some(Resolution::Original),
            "thumbnail" => Some(Resolution::Thumbnail),
            "display" => Some(Resolution::Display),
            _ => None,
        }
    }
}

/// The file name suffix of a watermarked display rendition.
const MARKED_DISPLAY_SUFFIX: &str = "_display_wm.jpg";

/// An object's key: `{user}/{album}/{resolution}/{file}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectKey {
    key: String,
    resolution: Resolution,
}

impl ObjectKey {
    pub fn new(user: &str, album: &str, resolution: Resolution, file: &str) -> Self {
        Self {
            key: format!("{user}/{album}/{}/{file}", resolution.as_str()),
            resolution,
        }
    }

    /// Reads a key laid out as above: four `/`-separated parts (the last
    /// may hold more `/`), the third a known resolution. Validates nothing
    /// else: whether an object exists under it is the catalog's answer.
    pub fn parse(key: &str) -> Option<Self> {
        let mut parts = key.splitn(4, '/');
        let (_user, _album, resolution, _file) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        Some(Self {
            key: key.to_owned(),
            resolution: Resolution::parse(resolution)?,
        })
    }

    pub fn resolution(&self) -> Resolution {
        self.resolution
    }

    /// Whether this original's renditions would be stored under the same
    /// keys as `other`'s: renditions are named by the user, the album
    /// segment and the file's stem, not by the extension.
    pub fn renditions_collide(&self, other: &ObjectKey) -> bool {
        let ((user, album, _), (other_user, other_album, _)) = (self.parts(), other.parts());
        user == other_user && album == other_album && self.stem() == other.stem()
    }

    /// `(user, album, file)`.
    fn parts(&self) -> (&str, &str, &str) {
        let mut parts = self.key.splitn(4, '/');
        let user = parts.next().unwrap_or("");
        let album = parts.next().unwrap_or("");
        let file = parts.nth(1).unwrap_or("");
        (user, album, file)
    }

    /// The file name's stem (up to its last `.`).
    fn stem(&self) -> &str {
        let (_, _, file) = self.parts();
        file.rsplit_once('.').map_or(file, |(s, _)| s)
    }

    /// An original's thumbnail, with the thumbnail's own extension:
    /// `alice/summer/original/swans.png` →
    /// `alice/summer/thumbnail/swans_thumbnail.{ext}`. `None` unless this
    /// is an original.
    pub fn thumbnail(&self, ext: &str) -> Option<Self> {
        let (user, album, _) = self.parts();
        let file = format!("{}_thumbnail.{ext}", self.stem());
        (self.resolution == Resolution::Original)
            .then(|| Self::new(user, album, Resolution::Thumbnail, &file))
    }

    /// An original's display rendition: `alice/summer/original/swans.png` →
    /// `alice/summer/display/swans_display.jpg` (`swans_display_wm.jpg`
    /// when `watermarked`). `None` unless this is an original.
    pub fn display(&self, watermarked: bool) -> Option<Self> {
        let (user, album, _) = self.parts();
        let suffix = if watermarked {
            MARKED_DISPLAY_SUFFIX
        } else {
            "_display.jpg"
        };
        let file = format!("{}{suffix}", self.stem());
        (self.resolution == Resolution::Original)
            .then(|| Self::new(user, album, Resolution::Display, &file))
    }

    /// Whether a display rendition's key names a watermarked one.
    pub fn is_marked_display(key: &str) -> bool {
        key.ends_with(MARKED_DISPLAY_SUFFIX)
    }

    pub fn as_str(&self) -> &str {
        &self.key
    }

    pub fn into_string(self) -> String {
        self.key
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key)
    }
}

impl From<ObjectKey> for String {
    fn from(key: ObjectKey) -> Self {
        key.key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renditions_of_an_original() {
        let original = ObjectKey::new("alice", "summer", Resolution::Original, "swans.png");
        assert_eq!(original.as_str(), "alice/summer/original/swans.png");
        assert_eq!(
            original.thumbnail("png").unwrap().as_str(),
            "alice/summer/thumbnail/swans_thumbnail.png"
        );
        assert_eq!(
            original.display(false).unwrap().as_str(),
            "alice/summer/display/swans_display.jpg"
        );
        let marked = original.display(true).unwrap();
        assert_eq!(marked.as_str(), "alice/summer/display/swans_display_wm.jpg");
        assert!(ObjectKey::is_marked_display(marked.as_str()));
        assert_eq!(marked.resolution(), Resolution::Display);
    }

    #[test]
    fn only_originals_have_renditions() {
        let thumb = ObjectKey::parse("alice/summer/thumbnail/x.png").unwrap();
        assert_eq!(thumb.resolution(), Resolution::Thumbnail);
        assert_eq!(thumb.display(false), None);
        assert_eq!(thumb.thumbnail("png"), None);
    }

    #[test]
    fn parse_reads_the_layout() {
        let key = ObjectKey::parse("a/default/original/x.jpg").unwrap();
        assert_eq!(key.resolution(), Resolution::Original);
        assert_eq!(key.to_string(), "a/default/original/x.jpg");
        assert_eq!(ObjectKey::parse("a/default/original"), None);
        assert_eq!(ObjectKey::parse("a/default/huge/x.jpg"), None);
        assert_eq!(
            ObjectKey::parse("a/b/original/c/d").map(|k| k.resolution()),
            Some(Resolution::Original)
        );
    }
}
