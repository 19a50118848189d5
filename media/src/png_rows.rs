//! PNG decoded row by row, box-filtered down as it reads (as libvips
//! shrinks on load): memory is one row plus the small output, whatever the
//! image's size or bit depth. A 10,000 × 10,000 16-bit RGBA PNG (800 MB
//! decoded) costs about 80 KB of rows and its 8-bit output at the scale asked.

use std::io::Cursor;

use image::DynamicImage;

use crate::{budget, MediaError, Probe};

/// Decodes `bytes` (a probed PNG) at an integer shrink that keeps the
/// *display* width at least `min_display_width`; 8-bit output. `None` for
/// interlaced PNGs (their passes are not rows of the final image), which
/// take the full decode instead.
pub(crate) fn decode_scaled(bytes: &[u8], probe: &Probe, min_display_width: u32) -> Result<Option<DynamicImage>, MediaError> {
    let corrupt = |e: png::DecodingError| MediaError::Corrupt(e.to_string());
    let mut decoder = png::Decoder::new_with_limits(Cursor::new(bytes), png::Limits { bytes: 64 << 20 });
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(corrupt)?;
    let (w, h) = (reader.info().width, reader.info().height);
    if reader.info().interlaced {
        return Ok(None);
    }
    if (w, h) != (probe.width, probe.height) {
        return Err(MediaError::Corrupt("the PNG header changed size".into()));
    }
    let (color, _) = reader.output_color_type();
    let channels = color.samples();
    let (dw, _) = probe.display_size();
    // The display width maps to the stored width or height (orientations 5–8).
    let shrink = (dw / min_display_width.max(1)).max(1);
    let (ow, oh) = (w.div_ceil(shrink), h.div_ceil(shrink));
    let out_len = ow as u64 * oh as u64 * channels as u64;
    let _held = budget::reserve(out_len + ow as u64 * channels as u64 * 8)?;
    let mut out = Vec::with_capacity(out_len as usize);
    let mut sums = vec![0u64; ow as usize * channels];
    let mut rows_in_band = 0u32;
    let mut band_rows_total = 0u32;
    let flush = |sums: &mut [u64], out: &mut Vec<u8>, rows: u32| {
        for (x, chunk) in sums.chunks_mut(channels).enumerate() {
            let cols = shrink.min(w - x as u32 * shrink);
            let n = cols as u64 * rows as u64;
            for s in chunk.iter_mut() {
                out.push(((*s + n / 2) / n) as u8);
                *s = 0;
            }
        }
    };
    while let Some(row) = reader.next_row().map_err(corrupt)? {
        let data = row.data();
        if data.len() < w as usize * channels {
            return Err(MediaError::Corrupt("a PNG row is short".into()));
        }
        for (x, px) in data.chunks_exact(channels).take(w as usize).enumerate() {
            let base = (x / shrink as usize) * channels;
            for (c, v) in px.iter().enumerate() {
                sums[base + c] += *v as u64;
            }
        }
        rows_in_band += 1;
        band_rows_total += 1;
        if rows_in_band == shrink {
            flush(&mut sums, &mut out, rows_in_band);
            rows_in_band = 0;
        }
    }
    if rows_in_band > 0 {
        flush(&mut sums, &mut out, rows_in_band);
    }
    if band_rows_total != h {
        return Err(MediaError::Corrupt("the PNG data is truncated".into()));
    }
    // The image data must be complete and its checksums right.
    reader.finish().map_err(corrupt)?;
    let img = match color {
        png::ColorType::Grayscale => image::GrayImage::from_raw(ow, oh, out).map(DynamicImage::ImageLuma8),
        png::ColorType::GrayscaleAlpha => image::GrayAlphaImage::from_raw(ow, oh, out).map(DynamicImage::ImageLumaA8),
        png::ColorType::Rgb => image::RgbImage::from_raw(ow, oh, out).map(DynamicImage::ImageRgb8),
        png::ColorType::Rgba => image::RgbaImage::from_raw(ow, oh, out).map(DynamicImage::ImageRgba8),
        png::ColorType::Indexed => return Err(MediaError::Corrupt("the PNG palette was not expanded".into())),
    };
    img.map(Some).ok_or_else(|| MediaError::Corrupt("decoded size does not match the header".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;

    fn encode(img: &DynamicImage) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn sixteen_bit_rgba_is_shrunk_while_reading() {
        let img = image::ImageBuffer::<image::Rgba<u16>, _>::from_fn(1000, 600, |x, _| {
            image::Rgba([if x < 500 { 65535 } else { 0 }, 32768, 0, 65535])
        });
        let bytes = encode(&DynamicImage::ImageRgba16(img));
        let probe = crate::probe(&bytes, &Limits::default()).unwrap();
        let out = decode_scaled(&bytes, &probe, 100).unwrap().unwrap();
        assert_eq!((out.width(), out.height()), (100, 60));
        let px = out.to_rgba8();
        assert_eq!(px.get_pixel(10, 10).0, [255, 128, 0, 255]);
        assert_eq!(px.get_pixel(90, 10).0, [0, 128, 0, 255]);
    }

    #[test]
    fn odd_sizes_average_their_partial_edges() {
        let img = image::RgbImage::from_fn(7, 5, |_, _| image::Rgb([200, 100, 50]));
        let bytes = encode(&DynamicImage::ImageRgb8(img));
        let probe = crate::probe(&bytes, &Limits::default()).unwrap();
        let out = decode_scaled(&bytes, &probe, 2).unwrap().unwrap();
        assert_eq!((out.width(), out.height()), (3, 2));
        assert!(out.to_rgb8().pixels().all(|p| p.0 == [200, 100, 50]));
    }

    #[test]
    fn truncated_data_is_corrupt() {
        let img = image::RgbImage::from_fn(300, 300, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let bytes = encode(&DynamicImage::ImageRgb8(img));
        let probe = crate::probe(&bytes, &Limits::default()).unwrap();
        let cut = &bytes[..bytes.len() / 2];
        assert!(matches!(decode_scaled(cut, &probe, 10), Err(MediaError::Corrupt(_))));
    }
}
