//! HEIC/HEIF (HEVC) and AVIF (AV1) through libheif, loaded at run time.
//!
//! `libheif.so.1` (Debian: `libheif1`, which carries libde265 for HEVC and
//! dav1d for AV1) is opened once with `libloading` the first time such a
//! file arrives, so `cargo build` needs nothing outside crates.io and a
//! machine without the library answers 415 for these two formats, as for
//! any unsupported one. `PHOTOSTREAM_LIBHEIF` names another file to open.
//! Any libheif from 1.12 on works (the symbols used exist since then, and
//! 1.12 fixed transformations); Debian 12 ships 1.15.
//!
//! What libheif does for us, and what we do ourselves:
//! - The primary image is the one decoded (bursts, Live Photo stills and
//!   collections point at it with `pitm`); depth maps, gain maps and other
//!   auxiliary images are never decoded.
//! - `irot`/`imir`/`clap` are applied by the decoder, and the handle's size
//!   is the displayed size, so HEIF images are always "orientation 1" here:
//!   their EXIF orientation is informative only (HEIF spec; iOS writes both)
//!   and applying it as well would rotate twice.
//! - Limits: libheif refuses any item whose declared size exceeds
//!   `max_side` while it reads the header (before any pixel is decoded);
//!   the pixel count is checked here against the primary image's declared
//!   size, and the frame sizes the HEVC/AV1 bitstreams declare against both
//!   (`coded`: libheif 1.15 does not), also before decoding.
//! - 8-bit output is asked for directly. A 10/12-bit image with a PQ or HLG
//!   transfer (HDR, e.g. Android's and Chrome's HDR AVIF) is decoded at 16
//!   bits and tone-mapped to 8-bit sRGB here ([`tone_map()`]), since libheif
//!   would only shift the bits (flat, washed-out results).
//! - Thumbnails: a HEIF file often carries a small thumbnail item (iPhones:
//!   320 px); when it is large enough for the caller and has the primary's
//!   aspect ratio, it is decoded instead of the 12 MP image (shrink-on-load,
//!   the HEIF way).
//!
//! Modules: `libheif` (the binding: symbols, guards, reading a file),
//! `coded` (the bitstreams' frame sizes), `tone_map` (HDR to SDR); this
//! file decodes with them.

mod coded;
mod libheif;
mod tone_map;

use std::ffi::c_int;

use image::{DynamicImage, RgbImage, RgbaImage};

use self::libheif::{
    api, check, copy_plane, handle_size, hdr_transfer, open, ContentLightLevel, File, Handle, HandleGuard, Img, ImageGuard,
    CHANNEL_INTERLEAVED, CHROMA_RGB, CHROMA_RGBA, CHROMA_RRGGBBAA_LE, CHROMA_RRGGBB_LE, COLORSPACE_RGB,
};
use self::tone_map::tone_map;
use crate::{Format, Limits, MediaError, Probe};

/// Whether this process can decode `format` (HEIC or AVIF), and if not why.
pub fn availability(format: Format) -> Result<(), &'static str> {
    let api = api()?;
    match format {
        Format::Heic if !api.have_hevc => Err("libheif was built without an HEVC decoder"),
        Format::Avif if !api.have_av1 => Err("libheif was built without an AV1 decoder"),
        _ => Ok(()),
    }
}

/// The libheif version in use, for the start-up log.
pub fn version() -> Option<&'static str> {
    api().ok().map(|a| a.version.as_str())
}

/// Displayed width and height of the primary image, from the header alone,
/// within the limits.
pub(crate) fn dimensions(bytes: &[u8], format: Format, limits: &Limits) -> Result<(u32, u32), MediaError> {
    let file = open(bytes, format, limits)?;
    let (w, h) = handle_size(file.api, file.primary);
    if w == 0 || h == 0 {
        return Err(MediaError::Corrupt("the image has no pixels".into()));
    }
    // The frames the bitstreams will decode to, which libheif does not
    // check against the declared size.
    coded::check(bytes, (w, h), limits)?;
    Ok((w, h))
}

/// Bytes of memory a decode of a `w`×`h` image may peak at: libheif's
/// YCbCr planes, its interleaved RGB(A) output and our copy of it.
fn decode_cost(w: u32, h: u32, alpha: bool, sixteen: bool) -> u64 {
    let px = w as u64 * h as u64;
    let channels = if alpha { 4 } else { 3 };
    let sample = if sixteen { 2 } else { 1 };
    let planes = px * sample * channels; // YCbCr up to 4:4:4, and alpha
    planes + 2 * px * channels * sample + if sixteen { px * channels } else { 0 }
}

/// Decodes the primary image upright as 8-bit RGB or RGBA, with its memory
/// reserved from the decode budget first. When `min_width` is small enough,
/// a thumbnail item of the file at least that wide is decoded instead.
pub(crate) fn decode(
    bytes: &[u8],
    probe: &Probe,
    limits: &Limits,
    min_width: Option<u32>,
) -> Result<(DynamicImage, crate::budget::Reservation), MediaError> {
    let file = open(bytes, probe.format, limits)?;
    let api = file.api;
    let (w, h) = handle_size(api, file.primary);
    if (w, h) != (probe.width, probe.height) {
        return Err(MediaError::Corrupt("the image changed size between probe and decode".into()));
    }
    coded::check(bytes, (w, h), limits)?;
    let thumb = min_width.and_then(|min| thumbnail_item(&file, min, (w, h)));
    let handle = thumb.as_ref().map_or(file.primary, |t| t.1);
    let (hw, hh) = handle_size(api, handle);
    // SAFETY: `handle` is live for the rest of this function.
    let (alpha, bits) = unsafe { ((api.handle_has_alpha)(handle) != 0, (api.handle_luma_bits)(handle)) };
    let hdr = if bits > 8 { hdr_transfer(api, handle) } else { None };
    let held = crate::budget::reserve(decode_cost(hw, hh, alpha, hdr.is_some()))?;
    let chroma = match (hdr.is_some(), alpha) {
        (false, false) => CHROMA_RGB,
        (false, true) => CHROMA_RGBA,
        (true, false) => CHROMA_RRGGBB_LE,
        (true, true) => CHROMA_RRGGBBAA_LE,
    };
    let mut out: *mut Img = std::ptr::null_mut();
    // SAFETY: NULL options are libheif's defaults (transformations applied).
    check(unsafe { (api.decode_image)(handle, &mut out, COLORSPACE_RGB, chroma, std::ptr::null()) })?;
    if out.is_null() {
        return Err(MediaError::Corrupt("libheif returned no image".into()));
    }
    let img = ImageGuard(api, out);
    let channels = if alpha { 4 } else { 3 };
    let sample = if hdr.is_some() { 2 } else { 1 };
    let (iw, ih, rows) = copy_plane(api, img.1, channels * sample)?;
    if (iw, ih) != (hw, hh) {
        return Err(MediaError::Corrupt(format!("decoded {iw}x{ih}, the header says {hw}x{hh}")));
    }
    let decoded = match hdr {
        None if alpha => RgbaImage::from_raw(iw, ih, rows).map(DynamicImage::ImageRgba8),
        None => RgbImage::from_raw(iw, ih, rows).map(DynamicImage::ImageRgb8),
        Some(transfer) => {
            // SAFETY: `img.1` is a live decoded image.
            let (range, peak) = unsafe {
                let range = (api.bits_range)(img.1, CHANNEL_INTERLEAVED).clamp(9, 16) as u32;
                let mut cll = ContentLightLevel::default();
                if (api.has_content_light_level)(img.1) != 0 {
                    (api.content_light_level)(img.1, &mut cll);
                }
                (range, cll.max_content_light_level)
            };
            Some(tone_map(&rows, iw, ih, alpha, range, transfer, peak))
        }
    };
    let decoded = decoded.ok_or_else(|| MediaError::Corrupt("decoded size does not match the planes".into()))?;
    Ok((decoded, held))
}

/// A thumbnail item at least `min_width` wide with the primary's aspect
/// ratio (so it shows the same, upright picture), if the file has one.
fn thumbnail_item(file: &File<'_>, min_width: u32, (w, h): (u32, u32)) -> Option<HandleGuard> {
    let api = file.api;
    // SAFETY: the primary handle is live; ids are filled up to `n`.
    unsafe {
        let n = (api.thumbnail_count)(file.primary);
        if n <= 0 || n > 16 {
            return None;
        }
        let mut ids = vec![0u32; n as usize];
        let n = (api.thumbnail_ids)(file.primary, ids.as_mut_ptr(), n).clamp(0, ids.len() as c_int) as usize;
        let mut best: Option<(u32, HandleGuard)> = None;
        for id in &ids[..n] {
            let mut t: *mut Handle = std::ptr::null_mut();
            if (api.thumbnail)(file.primary, *id, &mut t).code != 0 || t.is_null() {
                continue;
            }
            let t = HandleGuard(api, t);
            let (tw, th) = handle_size(api, t.1);
            let same_shape = tw > 0 && th > 0 && (tw as f64 / th as f64 - w as f64 / h as f64).abs() < 0.02;
            if same_shape && tw >= min_width && tw < w && best.as_ref().is_none_or(|(bw, _)| tw < *bw) {
                best = Some((tw, t));
            }
        }
        best.map(|(_, t)| t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_cost_covers_the_planes_and_copies() {
        assert!(decode_cost(4032, 3024, false, false) >= 4032 * 3024 * 6);
        assert!(decode_cost(100, 100, true, true) > decode_cost(100, 100, false, false));
    }
}
