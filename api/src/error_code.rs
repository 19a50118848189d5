//! Every `code` the API answers in `{"error": {"code", "message"}}`, in
//! one enum with its stable string (as pict-rs `src/error_code.rs`). Clients
//! match on these strings: never rename or drop one (`shared/API.md`), add
//! new ones here.

use std::fmt;

macro_rules! error_codes {
    ($($variant:ident => $code:literal,)*) => {
        /// A stable error code (see the module docs).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($variant,)*
        }

        impl ErrorCode {
            /// Every code, in the order declared.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as clients see it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }
        }
    };
}

error_codes! {
    AlbumExists => "album_exists",
    BadSignature => "bad_signature",
    BadThumbnail => "bad_thumbnail",
    Conflict => "conflict",
    DuplicateField => "duplicate_field",
    EmptyFile => "empty_file",
    Forbidden => "forbidden",
    ImageTooLarge => "image_too_large",
    InsufficientScope => "insufficient_scope",
    InvalidAction => "invalid_action",
    InvalidBlock => "invalid_block",
    InvalidBody => "invalid_body",
    InvalidCursor => "invalid_cursor",
    InvalidEvent => "invalid_event",
    InvalidField => "invalid_field",
    InvalidFollow => "invalid_follow",
    InvalidJson => "invalid_json",
    InvalidLimit => "invalid_limit",
    InvalidMetadata => "invalid_metadata",
    InvalidMultipart => "invalid_multipart",
    InvalidName => "invalid_name",
    InvalidNote => "invalid_note",
    InvalidPassword => "invalid_password",
    InvalidPhoto => "invalid_photo",
    InvalidQuery => "invalid_query",
    InvalidReason => "invalid_reason",
    InvalidScope => "invalid_scope",
    InvalidStatus => "invalid_status",
    MethodNotAllowed => "method_not_allowed",
    MissingFile => "missing_file",
    MissingQuery => "missing_query",
    NameConflict => "name_conflict",
    NameTaken => "name_taken",
    NotFound => "not_found",
    NotReady => "not_ready",
    OwnPhoto => "own_photo",
    PayloadTooLarge => "payload_too_large",
    PremiumRequired => "premium_required",
    RangeNotSatisfiable => "range_not_satisfiable",
    RateLimited => "rate_limited",
    RequestTimeout => "request_timeout",
    ReviewOnly => "review_only",
    SessionRequired => "session_required",
    TooManyParts => "too_many_parts",
    TooManyRequests => "too_many_requests",
    TooManyViewers => "too_many_viewers",
    Unauthorized => "unauthorized",
    Unavailable => "unavailable",
    UndecodableImage => "undecodable_image",
    UnknownField => "unknown_field",
    UnknownUser => "unknown_user",
    UnsupportedMediaType => "unsupported_media_type",
    UsernameTaken => "username_taken",
    WebhookDisabled => "webhook_disabled",
    WrongPassword => "wrong_password",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "{s} twice");
            assert!(
                !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{s}"
            );
        }
    }

    #[test]
    fn serialises_as_its_string() {
        assert_eq!(
            serde_json::to_string(&ErrorCode::NotFound).unwrap(),
            "\"not_found\""
        );
        assert_eq!(ErrorCode::InvalidField.to_string(), "invalid_field");
    }
}
