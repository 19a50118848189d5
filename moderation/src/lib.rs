//! Moderation checks, with no I/O of their own.
//!
//! - [`phash`]: a 64-bit DCT perceptual hash; near-duplicates (resized,
//!   re-encoded, slightly cropped or recoloured copies) land within a few
//!   bits of each other.
//! - [`bktree`]: a BK-tree over hashes, so "anything within d bits of this
//!   photo?" stays fast as the blocklist grows (no scan of every hash).
//! - [`text`]: configurable word lists and patterns, matched after Unicode
//!   normalisation that defeats look-alike letters, leetspeak, zero-width
//!   characters and s p a c i n g tricks.
//! - [`policy`]: turns each check's reasons and scores into approve, hold
//!   for review, or reject.
//!
//! The moderation processor and the review queue build on these.

pub mod bktree;
pub mod phash;
pub mod policy;
pub mod text;

pub use bktree::BkTree;
pub use phash::{hamming, phash, PHash};
pub use policy::{Decision, Finding, Policy};
pub use text::{normalise, TextRules};
