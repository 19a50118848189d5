//! Free-text fields with their limits: a photo's title and description.
//! Parsed at the API edge, so the limits are stated once, here.

use crate::{check_text, InvalidValue};

macro_rules! bounded_text {
    ($(#[$doc:meta])* $name:ident, $field:literal, $max:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub const MAX_CHARS: usize = $max;

            /// Checks the limits; the error names the field (`title`, …).
            pub fn parse(raw: String) -> Result<Self, InvalidValue> {
                Self::check(&raw)?;
                Ok(Self(raw))
            }
            /// [`Self::parse`] for a value the caller keeps as it is.
            pub fn check(raw: &str) -> Result<(), InvalidValue> {
                check_text($field, raw, Self::MAX_CHARS)
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
            pub fn into_inner(self) -> String {
                self.0
            }
        }
    };
}

bounded_text!(
    /// A photo's title: at most 200 characters, no control characters
    /// other than newline and tab; may be empty.
    Title, "title", 200
);
bounded_text!(
    /// A photo's description: at most 5,000 characters, no control
    /// characters other than newline and tab; may be empty.
    Description, "description", 5000
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_in_characters() {
        assert!(Title::parse("é".repeat(Title::MAX_CHARS)).is_ok());
        let err = Title::parse("a".repeat(Title::MAX_CHARS + 1)).unwrap_err();
        assert_eq!(err.0, "title is longer than 200 characters");
        assert!(Description::parse("d".repeat(Description::MAX_CHARS)).is_ok());
        let err = Description::parse("d".repeat(Description::MAX_CHARS + 1)).unwrap_err();
        assert_eq!(err.0, "description is longer than 5000 characters");
    }

    #[test]
    fn control_characters_are_refused_but_newlines_kept() {
        assert!(Title::parse("a\u{7}b".into()).is_err());
        assert_eq!(
            Description::parse("a\nb\tc".into()).unwrap().as_str(),
            "a\nb\tc"
        );
        assert_eq!(Title::parse(String::new()).unwrap(), Title::default());
    }
}
