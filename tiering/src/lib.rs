//! Storage tiers for originals: a hot object store (where uploads land and
//! every rendition lives) and an optional cold one (another directory, bucket
//! or storage class) for originals nobody reads.
//!
//! - [`next_step`]: the move as a pure state machine over the catalog row's
//!   [`StorageTier`] — copy and verify, flip the row, delete the stale copy,
//!   settle the row. Every step is safe to crash after: the row always points
//!   at a copy whose SHA-256 matched the catalog's content hash.
//! - [`Mover`]: performs those steps against the two stores and the catalog
//!   (the `photostream tier` command, the background job, rewarm on read).
//! - [`Tiers`]: which store a read of an original goes to.

mod mover;

use std::sync::Arc;

use object_store::ObjectStore;
use photostream_types::metric;
pub use photostream_types::StorageTier;

pub use mover::{Moved, Mover, PassReport};

#[derive(Debug, thiserror::Error)]
pub enum TierError {
    #[error("no cold store is configured (storage.cold)")]
    NoColdStore,
    #[error(
        "{key}: checksum mismatch in the {store} store (expected sha256 {expected}, found {found})"
    )]
    Checksum {
        key: String,
        store: &'static str,
        expected: String,
        found: String,
    },
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    #[error("invalid object key: {0}")]
    Key(#[from] object_store::path::Error),
    #[error(transparent)]
    Catalog(#[from] photostream_catalog::CatalogError),
}

/// Where a move is going.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    Hot,
    Cold,
}

/// One of the two stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Hot,
    Cold,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Hot => "hot",
            Side::Cold => "cold",
        }
    }
}

/// What a mover does next for a row in some state, towards `goal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Copy the original `from` one store `to` the other, check the copy's
    /// checksum, then flip the row `flip.0 → flip.1` (the copy is served).
    CopyAndFlip {
        from: Side,
        to: Side,
        flip: (StorageTier, StorageTier),
    },
    /// Delete the stale copy in `stale`, then settle the row `settle.0 → settle.1`.
    DeleteAndSettle {
        stale: Side,
        settle: (StorageTier, StorageTier),
    },
    /// The original is where the goal wants it, in one copy.
    Done,
}

/// The move state machine. A half-done move is always finished in its own
/// direction first (its new copy is the one served); the goal then decides
/// whether to go back.
pub fn next_step(state: StorageTier, goal: Goal) -> Step {
    use StorageTier::*;
    match (state, goal) {
        (ColdLeavingHot, _) => Step::DeleteAndSettle {
            stale: Side::Hot,
            settle: (ColdLeavingHot, Cold),
        },
        (HotLeavingCold, _) => Step::DeleteAndSettle {
            stale: Side::Cold,
            settle: (HotLeavingCold, Hot),
        },
        (Hot, Goal::Cold) => Step::CopyAndFlip {
            from: Side::Hot,
            to: Side::Cold,
            flip: (Hot, ColdLeavingHot),
        },
        (Cold, Goal::Hot) => Step::CopyAndFlip {
            from: Side::Cold,
            to: Side::Hot,
            flip: (Cold, HotLeavingCold),
        },
        (Hot, Goal::Hot) | (Cold, Goal::Cold) => Step::Done,
    }
}

/// The goal that finishes whatever a row is in the middle of, else `Cold`:
/// what the tiering job wants for each row on its work list.
pub fn tiering_goal(state: StorageTier) -> Goal {
    match state {
        StorageTier::HotLeavingCold => Goal::Hot,
        _ => Goal::Cold,
    }
}

/// The hot store and, when configured, the cold one.
#[derive(Clone)]
pub struct Tiers {
    pub hot: Arc<dyn ObjectStore>,
    pub cold: Option<Arc<dyn ObjectStore>>,
}

impl Tiers {
    pub fn new(hot: Arc<dyn ObjectStore>, cold: Option<Arc<dyn ObjectStore>>) -> Self {
        Self { hot, cold }
    }

    pub fn store(&self, side: Side) -> Result<&Arc<dyn ObjectStore>, TierError> {
        match side {
            Side::Hot => Ok(&self.hot),
            Side::Cold => self.cold.as_ref().ok_or(TierError::NoColdStore),
        }
    }

    /// The store reads of an original in `state` go to.
    pub fn serving_side(state: StorageTier) -> Side {
        if state.serves_cold() {
            Side::Cold
        } else {
            Side::Hot
        }
    }

    /// Finds the original at `key` for a row read in `state`: the serving
    /// store first, then the other one (a move may have flipped and deleted
    /// since the row was read). Returns the side that has it and its metadata.
    pub async fn locate(
        &self,
        state: StorageTier,
        key: &object_store::path::Path,
    ) -> Result<(Side, object_store::ObjectMeta), TierError> {
        let first = Self::serving_side(state);
        let second = match first {
            Side::Hot => Side::Cold,
            Side::Cold => Side::Hot,
        };
        let primary = self.store(first)?.head(key).await;
        match primary {
            Err(object_store::Error::NotFound { .. }) => match self.store(second) {
                Ok(store) => match store.head(key).await {
                    Ok(meta) => Ok((second, meta)),
                    // The first store's answer is the one to report.
                    Err(object_store::Error::NotFound { .. }) => Err(primary.unwrap_err().into()),
                    Err(e) => Err(e.into()),
                },
                Err(_) => Err(primary.unwrap_err().into()),
            },
            Ok(meta) => Ok((first, meta)),
            Err(e) => Err(e.into()),
        }
    }
}

/// The SHA-256 of `bytes`, lowercase hex (the catalog's `content_hash`).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

/// Publishes the catalog's per-tier totals as gauges:
/// `photostream_storage_objects{tier}` and `photostream_storage_bytes{tier}`
/// (a half-done move counts in the tier it is served from).
pub async fn report_totals(catalog: &photostream_catalog::Catalog) -> Result<(), TierError> {
    let mut sums = [(0i64, 0i64); 2];
    for t in catalog.tier_totals().await? {
        let i = if t.tier.serves_cold() { 1 } else { 0 };
        sums[i].0 += t.objects;
        sums[i].1 += t.bytes;
    }
    for (tier, (objects, bytes)) in ["hot", "cold"].into_iter().zip(sums) {
        metric::STORAGE_OBJECTS.with([tier]).set(objects as f64);
        metric::STORAGE_BYTES.with([tier]).set(bytes as f64);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use StorageTier::*;

    #[test]
    fn every_state_towards_every_goal() {
        let copy_down = Step::CopyAndFlip {
            from: Side::Hot,
            to: Side::Cold,
            flip: (Hot, ColdLeavingHot),
        };
        let copy_up = Step::CopyAndFlip {
            from: Side::Cold,
            to: Side::Hot,
            flip: (Cold, HotLeavingCold),
        };
        let settle_cold = Step::DeleteAndSettle {
            stale: Side::Hot,
            settle: (ColdLeavingHot, Cold),
        };
        let settle_hot = Step::DeleteAndSettle {
            stale: Side::Cold,
            settle: (HotLeavingCold, Hot),
        };
        assert_eq!(next_step(Hot, Goal::Cold), copy_down);
        assert_eq!(next_step(Hot, Goal::Hot), Step::Done);
        assert_eq!(next_step(Cold, Goal::Hot), copy_up);
        assert_eq!(next_step(Cold, Goal::Cold), Step::Done);
        // Half-done moves finish in their own direction whatever the goal.
        assert_eq!(next_step(ColdLeavingHot, Goal::Cold), settle_cold);
        assert_eq!(next_step(ColdLeavingHot, Goal::Hot), settle_cold);
        assert_eq!(next_step(HotLeavingCold, Goal::Hot), settle_hot);
        assert_eq!(next_step(HotLeavingCold, Goal::Cold), settle_hot);
    }

    #[test]
    fn the_tiering_job_finishes_a_rewarm_instead_of_undoing_it() {
        assert_eq!(tiering_goal(HotLeavingCold), Goal::Hot);
        assert_eq!(tiering_goal(ColdLeavingHot), Goal::Cold);
        assert_eq!(tiering_goal(Hot), Goal::Cold);
    }

    #[test]
    fn every_state_is_served_from_the_copy_its_row_vouches_for() {
        assert_eq!(Tiers::serving_side(Hot), Side::Hot);
        assert_eq!(Tiers::serving_side(HotLeavingCold), Side::Hot);
        assert_eq!(Tiers::serving_side(Cold), Side::Cold);
        assert_eq!(Tiers::serving_side(ColdLeavingHot), Side::Cold);
    }
}
