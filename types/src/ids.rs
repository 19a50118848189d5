use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::InvalidValue;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// A UUIDv7 rendered as lowercase hyphenated text: opaque to clients,
        /// time-ordered so it also breaks ties in keyset pagination.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7().to_string())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl FromStr for $name {
            type Err = InvalidValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s)
                    .ok()
                    .filter(|u| u.hyphenated().to_string() == s)
                    .map(|u| Self(u.to_string()))
                    .ok_or_else(|| InvalidValue(format!("not a valid {}", stringify!($name))))
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidValue;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// Identifies a photo.
    PhotoId
);
id_type!(
    /// Identifies a user account.
    UserId
);
id_type!(
    /// Identifies an album.
    AlbumId
);
id_type!(
    /// Identifies one stream event; consumers deduplicate on it.
    EventId
);
id_type!(
    /// Identifies a login session (the `sid` of its JWT).
    SessionId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_garbage() {
        let id = PhotoId::new();
        assert_eq!(id.as_str().parse::<PhotoId>().unwrap(), id);
        assert!("../etc/passwd".parse::<PhotoId>().is_err());
        assert!("".parse::<PhotoId>().is_err());
        // Upper-case or braced forms are not canonical and are refused.
        assert!(id.as_str().to_uppercase().parse::<PhotoId>().is_err());
    }

    #[test]
    fn ids_are_time_ordered() {
        let a = PhotoId::new();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = PhotoId::new();
        assert!(a < b);
    }
}
