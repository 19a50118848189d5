//! The frame sizes a HEIF/AVIF file's *bitstreams* declare, read before
//! libheif decodes anything.
//!
//! libheif 1.15 checks an item's declared size (`ispe`) against its limit,
//! but never checks the frame the HEVC or AV1 decoder then produces against
//! it: a 500-byte AVIF may declare 64x64 in `ispe` and carry a 16384x16384
//! AV1 frame, which the decoder allocates in full (and an RGBA plane past
//! 2^32 bytes overflows libheif's 32-bit size arithmetic). So every coded
//! image item's parameter sets — the HEVC SPS (`pic_width/height_in_luma_samples`)
//! and the AV1 sequence header (`max_frame_width/height`), in its `hvcC` /
//! `av1C` property and in its data — are read here, and a file whose frames
//! are larger than its primary image (plus an alignment margin) or beyond
//! the limits is refused before decoding.
//!
//! A parameter set that cannot be read is refused too (the decoder would
//! see the same bytes): this reader covers what the HEVC and AV1 specs put
//! before the frame size, nothing after it.

mod av1;
mod bits;
mod hevc;
mod isobmff;

use self::av1::av1_obus;
use self::hevc::{hevc_nal, hvcc_nals};
use self::isobmff::{be, child, item_data, item_locations, item_properties, item_types};
use crate::{Limits, MediaError};

/// Coded frames may exceed the displayed size by the codec's alignment
/// (HEVC coding blocks, cropped by the conformance window).
const ALIGNMENT_MARGIN: u32 = 64;

fn corrupt(what: &str) -> MediaError {
    MediaError::Corrupt(format!("HEIF structure: {what}"))
}

/// Checks every HEVC/AV1 frame size the file declares against its primary
/// image's displayed size `(w, h)` and the limits.
pub(crate) fn check(bytes: &[u8], (w, h): (u32, u32), limits: &Limits) -> Result<(), MediaError> {
    let side = w.max(h).saturating_add(ALIGNMENT_MARGIN);
    for (fw, fh) in coded_sizes(bytes)? {
        let too_big = fw > side || fh > side || fw > limits.max_side || fh > limits.max_side
            || fw as u64 * fh as u64 > limits.max_pixels;
        if too_big {
            return Err(MediaError::TooLarge {
                width: fw as u64,
                height: fh as u64,
                max_pixels: limits.max_pixels,
                max_side: limits.max_side,
            });
        }
    }
    Ok(())
}

/// Every frame size declared by the parameter sets of the file's coded
/// (`hvc1`, `av01`) items.
fn coded_sizes(bytes: &[u8]) -> Result<Vec<(u32, u32)>, MediaError> {
    let meta = child(bytes, 0, bytes.len(), b"meta")?.ok_or_else(|| corrupt("no meta box"))?;
    let meta = (meta.0 + 4, meta.1); // full box
    let items = item_types(bytes, meta)?;
    let locations = item_locations(bytes, meta)?;
    let properties = item_properties(bytes, meta)?;
    let mut sizes = Vec::new();
    for (id, kind) in &items {
        let codec = match kind {
            b"hvc1" => Codec::Hevc,
            b"av01" => Codec::Av1,
            _ => continue,
        };
        let config = properties.get(id).and_then(|props| {
            props.iter().find(|(t, _)| t == if codec == Codec::Hevc { b"hvcC" } else { b"av1C" })
        });
        let data = locations.get(id).map(|extents| item_data(bytes, meta, extents)).transpose()?.unwrap_or_default();
        match codec {
            Codec::Hevc => {
                let mut length_size = 4;
                if let Some((_, c)) = config {
                    let c = &bytes[c.0..c.1];
                    length_size = (*c.get(21).ok_or_else(|| corrupt("short hvcC"))? & 3) as usize + 1;
                    for nal in hvcc_nals(c)? {
                        hevc_nal(nal, &mut sizes)?;
                    }
                }
                let mut i = 0;
                while i < data.len() {
                    let len = be(&data, i, length_size).ok_or_else(|| corrupt("truncated NAL length"))? as usize;
                    i += length_size;
                    let nal = data.get(i..i + len).ok_or_else(|| corrupt("truncated NAL unit"))?;
                    hevc_nal(nal, &mut sizes)?;
                    i += len;
                }
            }
            Codec::Av1 => {
                if let Some((_, c)) = config {
                    if let Some(obus) = bytes.get(c.0 + 4..c.1) {
                        av1_obus(obus, &mut sizes)?;
                    }
                }
                av1_obus(&data, &mut sizes)?;
            }
        }
    }
    Ok(sizes)
}

#[derive(PartialEq, Clone, Copy)]
enum Codec {
    Hevc,
    Av1,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_refused_not_panicking() {
        for junk in [&b""[..], b"\0\0\0\x08meta", b"\0\0\0\x10meta\0\0\0\0\xff\xff\xff\xffiloc"] {
            let _ = coded_sizes(junk);
        }
    }
}
