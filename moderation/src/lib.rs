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
//! - [`classifier`]: a YOLOv8-style ONNX detector (NudeNet's by default)
//!   run with tract, behind the `classifier` cargo feature.
//! - [`reports`]: how much a user's report counts, from their standing.
//! - [`checks`]: all of the above as configured (`[moderation]`), with the
//!   blocklist held in a BK-tree.
//!
//! The moderation processor (crate `processors`) runs [`Checks`] on the
//! stream; the review queue lives in the catalog and the API.

pub mod bktree;
pub mod checks;
pub mod classifier;
pub mod phash;
pub mod policy;
pub mod reports;
pub mod text;

pub use checks::{summary, Checks, ChecksError, ImageVerdict, ModerationConfig};
pub use classifier::{Classifier, ClassifierConfig, ClassifierError};

pub use bktree::BkTree;
pub use phash::{dihedral_phashes, hamming, phash, PHash};
pub use policy::{Decision, Finding, Policy};
pub use reports::{report_weight_milli, ReporterStanding};
pub use text::{normalise, TextRules, TextRulesConfig};
