use serde::{Deserialize, Serialize};

use crate::InvalidValue;

/// Licences a sharer may pick; anything else is refused.
pub const LICENSES: &[&str] = &[
    "all-rights-reserved",
    "cc0",
    "cc-by",
    "cc-by-sa",
    "cc-by-nd",
    "cc-by-nc",
    "cc-by-nc-sa",
    "cc-by-nc-nd",
    "public-domain",
];
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG_LEN: usize = 32;
const MAX_FIELD_LEN: usize = 200;

/// The predefined metadata fields a sharer may set on a photo. Unknown
/// fields are refused rather than silently dropped.
///
/// Only a JSON object deserialises into it (see [`crate::ObjectOnly`]);
/// the derived code runs through `remote = "Self"` inside that check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct PhotoMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// RFC 3339 time the photo was taken.
    pub taken_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lens: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// One of all-rights-reserved, cc0, cc-by, cc-by-sa, cc-by-nd, cc-by-nc, cc-by-nc-sa, cc-by-nc-nd, public-domain.
    pub license: Option<String>,
    /// At most 20 tags of at most 32 characters; normalised to lower case.
    #[serde(default)]
    pub tags: Vec<String>,
}

impl Serialize for PhotoMetadata {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        PhotoMetadata::serialize(self, s)
    }
}

impl<'de> Deserialize<'de> for PhotoMetadata {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Derived(PhotoMetadata);
        impl<'de> Deserialize<'de> for Derived {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                PhotoMetadata::deserialize(d).map(Derived)
            }
        }
        crate::ObjectOnly::<Derived>::deserialize(d).map(|o| o.0 .0)
    }
}

impl PhotoMetadata {
    /// Checks every field and normalises tags (lower-case, `#` and spaces
    /// stripped, de-duplicated, order kept).
    pub fn validated(mut self) -> Result<Self, InvalidValue> {
        for (name, v) in [
            ("camera", &self.camera),
            ("lens", &self.lens),
            ("location", &self.location),
        ] {
            if let Some(v) = v {
                check_text(name, v, MAX_FIELD_LEN)?;
            }
        }
        if let Some(t) = &self.taken_at {
            if !looks_like_rfc3339(t) {
                return Err(InvalidValue(
                    "taken_at must be an RFC 3339 time such as 2024-06-01T12:00:00Z".into(),
                ));
            }
        }
        if let Some(l) = &self.license {
            if !LICENSES.contains(&l.as_str()) {
                return Err(InvalidValue(format!(
                    "license must be one of {}",
                    LICENSES.join(", ")
                )));
            }
        }
        let mut tags: Vec<String> = Vec::new();
        for raw in &self.tags {
            let tag = normalise_tag(raw)?;
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        if tags.len() > MAX_TAGS {
            return Err(InvalidValue(format!("at most {MAX_TAGS} tags")));
        }
        self.tags = tags;
        Ok(self)
    }
}

/// `"#Sunset Beach"` → `"sunset-beach"`.
pub fn normalise_tag(raw: &str) -> Result<String, InvalidValue> {
    let mut out = String::new();
    for c in raw.trim().trim_start_matches('#').chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() || c == '_' {
            out.push(c);
        } else if (c.is_whitespace() || c == '-') && !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        } else if c.is_control() {
            return Err(InvalidValue("tags may not contain control characters".into()));
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() || out.chars().count() > MAX_TAG_LEN {
        return Err(InvalidValue(format!(
            "each tag must have 1-{MAX_TAG_LEN} letters or digits"
        )));
    }
    Ok(out)
}

/// Checks a free-text field: length in characters, no control characters
/// other than newline and tab.
pub fn check_text(name: &str, value: &str, max_chars: usize) -> Result<(), InvalidValue> {
    if value.chars().count() > max_chars {
        return Err(InvalidValue(format!("{name} is longer than {max_chars} characters")));
    }
    if value.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(InvalidValue(format!("{name} contains control characters")));
    }
    Ok(())
}

fn looks_like_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20
        && b.len() <= 35
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b'T' || b[10] == b't')
        && b[13] == b':'
        && b[16] == b':'
        && [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
            .iter()
            .all(|&i| b[i].is_ascii_digit())
        && (s.ends_with('Z') || s.ends_with('z') || b[b.len() - 3] == b':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_normalised() {
        let m = PhotoMetadata {
            tags: vec!["#Sunset Beach".into(), "sunset-beach".into(), "Été".into()],
            ..Default::default()
        }
        .validated()
        .unwrap();
        assert_eq!(m.tags, vec!["sunset-beach", "été"]);
    }

    #[test]
    fn bad_values_are_refused() {
        let bad_license = PhotoMetadata {
            license: Some("mine".into()),
            ..Default::default()
        };
        assert!(bad_license.validated().is_err());
        let bad_time = PhotoMetadata {
            taken_at: Some("yesterday".into()),
            ..Default::default()
        };
        assert!(bad_time.validated().is_err());
        let too_many = PhotoMetadata {
            tags: (0..30).map(|i| format!("t{i}")).collect(),
            ..Default::default()
        };
        assert!(too_many.validated().is_err());
        assert!(normalise_tag("  ").is_err());
        assert!(check_text("title", "a\u{0}b", 10).is_err());
        assert!(serde_json::from_str::<PhotoMetadata>(r#"{"iso": 100}"#).is_err());
        // serde's derive would take the field values as an array; we don't.
        assert!(serde_json::from_str::<PhotoMetadata>(r#"[null, null]"#).is_err());
        assert!(serde_json::from_str::<PhotoMetadata>(r#"["2024-01-01T00:00:00Z"]"#).is_err());
        let m: PhotoMetadata = serde_json::from_str(r#"{"camera": "X100", "tags": ["a"]}"#).unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"camera":"X100","tags":["a"]}"#);
    }

    #[test]
    fn good_time() {
        assert!(looks_like_rfc3339("2024-06-01T12:00:00Z"));
        assert!(looks_like_rfc3339("2024-06-01T12:00:00.123+02:00"));
    }
}
