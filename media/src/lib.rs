//! Everything photostream does to image bytes, with no I/O of its own.
//!
//! - [`format`]: sniff the format from magic bytes (never the name or the
//!   client's content type).
//! - [`probe`]: read dimensions and EXIF orientation from the header alone,
//!   enforcing byte and pixel limits before anything is decoded.
//! - [`verify`]: decode the whole image once so truncated or corrupt files
//!   are refused at upload time rather than failing later in a processor.
//! - [`thumbnail`]: the upright, shrink-on-load thumbnail (JPEG decoded at
//!   1/2, 1/4 or 1/8 scale in the DCT domain, then a SIMD resize).
//! - [`heif`]: HEIC and AVIF through libheif, loaded at run time.
//! - [`watermark`]: the owner's visible mark on display renditions (text
//!   drawn with a bundled font).
//!
//! All functions are synchronous and CPU-bound: async callers run them on a
//! blocking thread.

pub mod budget;
pub mod format;
pub mod heif;
mod png_rows;
pub mod probe;
pub mod thumbnail;
mod tiff_ycbcr;
pub mod verify;
pub mod watermark;

pub use format::Format;
pub use probe::{probe, Limits, Probe};
pub use thumbnail::{
    check_client_thumbnail, decode_upright, display_size, renditions, renditions_marked, shows_the_same_picture, thumbnail,
    thumbnail_size, Thumbnail,
};
pub use watermark::{MarkPosition, MarkStyle, Watermark};
pub use verify::verify;

/// Why an image was refused or could not be processed. Every variant is the
/// client's fault and maps to a 4xx; the message is safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is not an image format photostream recognises")]
    Unrecognised,
    #[error("{0} images are not supported; upload JPEG, PNG, GIF, WebP, TIFF, BMP, HEIC or AVIF")]
    Unsupported(&'static str),
    /// A format photostream supports, but this server has no decoder for
    /// (HEIC and AVIF need libheif; the second field says why it is missing).
    #[error("{0} images need libheif (Debian package libheif1), which this server cannot use: {1}")]
    NoDecoder(&'static str, &'static str),
    #[error("{}", too_large(*width, *height, *max_pixels, *max_side))]
    TooLarge {
        width: u64,
        height: u64,
        max_pixels: u64,
        max_side: u32,
    },
    #[error("decoding the image would need {} MB of memory; one image may use at most {} MB", needed.div_ceil(1 << 20), budget >> 20)]
    TooBigToDecode { needed: u64, budget: u64 },
    #[error("the image cannot be decoded: {0}")]
    Corrupt(String),
    #[error("the thumbnail is not acceptable: {0}")]
    BadThumbnail(String),
}

fn too_large(width: u64, height: u64, max_pixels: u64, max_side: u32) -> String {
    if width == 0 || height == 0 {
        // The header's size was not readable once the decoder refused it.
        format!("the image is larger than the limit of {max_pixels} pixels and {max_side} per side")
    } else {
        format!("the image is {width}x{height} pixels; the limit is {max_pixels} pixels and {max_side} per side")
    }
}

/// Hex SHA-256 of the bytes: the content hash stored in the catalog.
pub fn content_hash(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}
