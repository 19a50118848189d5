use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::InvalidValue;

/// Who may see a photo, as chosen by its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    Public,
    Private,
    Shared,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Private => "private",
            Self::Shared => "shared",
        }
    }
}

impl FromStr for Visibility {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "public" => Ok(Self::Public),
            "private" => Ok(Self::Private),
            "shared" => Ok(Self::Shared),
            _ => Err(InvalidValue(
                "visibility must be one of public, private, shared".into(),
            )),
        }
    }
}

impl fmt::Display for Visibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a photo is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PhotoStatus {
    /// Accepted and durable; renditions and the search document are pending.
    Processing,
    /// Every processor that gates readiness has finished.
    Ready,
    /// Held by moderation: visible to its owner and moderators only.
    UnderReview,
    /// Rejected by the checks or a moderator: visible to its owner only.
    Rejected,
}

impl PhotoStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Processing => "processing",
            Self::Ready => "ready",
            Self::UnderReview => "under_review",
            Self::Rejected => "rejected",
        }
    }
}

impl FromStr for PhotoStatus {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "processing" => Ok(Self::Processing),
            "ready" => Ok(Self::Ready),
            "under_review" => Ok(Self::UnderReview),
            "rejected" => Ok(Self::Rejected),
            _ => Err(InvalidValue(format!("unknown photo status {s:?}"))),
        }
    }
}

impl fmt::Display for PhotoStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which object store holds a photo's original, and whether a move between
/// the stores is half done. Renditions always stay in the hot store.
///
/// A move copies, verifies the copy's checksum, flips the row to the
/// `…Leaving…` state (the new copy is now the one served) and only then
/// deletes the old copy and settles the row, so a crash at any point leaves a
/// verified copy that the row points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StorageTier {
    /// In the hot store only.
    Hot,
    /// In the cold store only.
    Cold,
    /// Served from the cold store; a stale hot copy may remain, to delete.
    ColdLeavingHot,
    /// Served from the hot store; a stale cold copy may remain, to delete.
    HotLeavingCold,
}

impl StorageTier {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hot => "hot",
            Self::Cold => "cold",
            Self::ColdLeavingHot => "cold_leaving_hot",
            Self::HotLeavingCold => "hot_leaving_cold",
        }
    }

    /// Whether reads are served from the cold store.
    pub fn serves_cold(self) -> bool {
        matches!(self, Self::Cold | Self::ColdLeavingHot)
    }
}

impl FromStr for StorageTier {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "hot" => Ok(Self::Hot),
            "cold" => Ok(Self::Cold),
            "cold_leaving_hot" => Ok(Self::ColdLeavingHot),
            "hot_leaving_cold" => Ok(Self::HotLeavingCold),
            _ => Err(InvalidValue(format!("unknown storage tier {s:?}"))),
        }
    }
}

impl fmt::Display for StorageTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
