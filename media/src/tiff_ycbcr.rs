//! JPEG-compressed YCbCr TIFF (baseline TIFF 6.0, as scanners and
//! Photoshop write it), which `image` refuses: the `tiff` crate hands back
//! the JPEG's YCbCr samples unconverted, and they are converted to RGB here
//! (the JFIF full-range transform, which is what a JPEG stream carries).

use std::io::Cursor;

use image::DynamicImage;
use tiff::decoder::{Decoder, DecodingResult};
use tiff::tags::Tag;
use tiff::ColorType;

use crate::{budget, MediaError, Probe};

/// TIFF compression 7: "new-style" JPEG.
const COMPRESSION_JPEG: u32 = 7;

fn open(bytes: &[u8]) -> Option<Decoder<Cursor<&[u8]>>> {
    Decoder::new(Cursor::new(bytes)).ok()
}

/// The stored size of a JPEG-compressed 8-bit YCbCr TIFF; `None` for any
/// other TIFF.
pub(crate) fn dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let mut d = open(bytes)?;
    let ycbcr = matches!(d.colortype().ok()?, ColorType::YCbCr(8));
    let jpeg = d.get_tag_u32(Tag::Compression).ok()? == COMPRESSION_JPEG;
    (ycbcr && jpeg).then(|| d.dimensions().ok()).flatten()
}

/// Decodes such a TIFF (its first image) to RGB, within the decode budget.
pub(crate) fn decode(bytes: &[u8], probe: &Probe) -> Result<(DynamicImage, budget::Reservation), MediaError> {
    let corrupt = |e: tiff::TiffError| MediaError::Corrupt(e.to_string());
    let (w, h) = (probe.width, probe.height);
    let len = w as u64 * h as u64 * 3;
    // The decoded samples, the RGB copy, and an upright copy.
    let held = budget::reserve(len * if probe.orientation > 1 { 3 } else { 2 })?;
    let mut limits = tiff::decoder::Limits::default();
    limits.decoding_buffer_size = len as usize + (1 << 20);
    let mut d = Decoder::new(Cursor::new(bytes)).map_err(corrupt)?.with_limits(limits);
    if d.dimensions().map_err(corrupt)? != (w, h) {
        return Err(MediaError::Corrupt("the TIFF header changed size".into()));
    }
    let DecodingResult::U8(samples) = d.read_image().map_err(corrupt)? else {
        return Err(MediaError::Corrupt("the TIFF is not 8-bit".into()));
    };
    if samples.len() as u64 != len {
        return Err(MediaError::Corrupt("the TIFF's samples do not fill the image".into()));
    }
    let mut rgb = samples;
    for px in rgb.chunks_exact_mut(3) {
        let (y, cb, cr) = (px[0] as f32, px[1] as f32 - 128.0, px[2] as f32 - 128.0);
        px[0] = (y + 1.402 * cr).round().clamp(0.0, 255.0) as u8;
        px[1] = (y - 0.344_136 * cb - 0.714_136 * cr).round().clamp(0.0, 255.0) as u8;
        px[2] = (y + 1.772 * cb).round().clamp(0.0, 255.0) as u8;
    }
    let img = image::RgbImage::from_raw(w, h, rgb).ok_or_else(|| MediaError::Corrupt("the TIFF's size is wrong".into()))?;
    Ok((DynamicImage::ImageRgb8(img), held))
}
