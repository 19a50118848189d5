//! Upright thumbnails of a fixed width, aspect kept, never upscaled.
//!
//! JPEG takes the fast path: jpeg-decoder decodes straight to 1/2, 1/4 or
//! 1/8 scale in the DCT domain (shrink-on-load), so a 12 MP photo costs a
//! fraction of a full decode; then orientation is applied to the small image
//! and fast_image_resize's SIMD convolution produces the final size. Other
//! formats decode fully through `image`, HEIC and AVIF through libheif
//! (from the file's thumbnail item when it is large enough). Output never
//! carries EXIF (GPS and the orientation tag are gone): JPEG, HEIC and AVIF
//! become JPEG; anything else becomes PNG, which keeps transparency.

use std::io::Cursor;

use fast_image_resize::images::Image;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::metadata::Orientation;
use image::{DynamicImage, ImageEncoder};

use crate::verify::decode_with_image;
use crate::{probe, Format, Limits, MediaError, Probe};

/// Decode at no less than this multiple of the target width, so the final
/// convolution has enough samples to antialias.
const OVERSAMPLE: u32 = 2;
const JPEG_QUALITY: u8 = 85;

#[derive(Debug, Clone)]
pub struct Thumbnail {
    pub bytes: Vec<u8>,
    /// File extension of the encoded thumbnail (`jpg` or `png`).
    pub ext: &'static str,
    pub width: u32,
    pub height: u32,
}

/// The thumbnail size for an image displayed at `display` size:
/// `target_width` wide (or the image's own width when narrower), height
/// keeping the aspect ratio, at least 1.
pub fn thumbnail_size(display: (u32, u32), target_width: u32) -> (u32, u32) {
    let (w, h) = display;
    let tw = target_width.min(w).max(1);
    let th = ((h as u64 * tw as u64 + w as u64 / 2) / w as u64).max(1) as u32;
    (tw, th)
}

/// Makes the thumbnail of an already probed image.
pub fn thumbnail(
    bytes: &[u8],
    probe: &Probe,
    target_width: u32,
    limits: &Limits,
) -> Result<Thumbnail, MediaError> {
    let (tw, th) = thumbnail_size(probe.display_size(), target_width);
    let img = decode_upright(bytes, probe, tw * OVERSAMPLE, limits)?;
    let resized = resize(&img, tw, th)?;
    // Photos stay JPEG (HEIC and AVIF too: every browser shows JPEG);
    // graphics formats become PNG, which keeps transparency.
    let photo = matches!(probe.format, Format::Jpeg | Format::Heic | Format::Avif);
    let (bytes, ext) = encode(&resized, photo)?;
    Ok(Thumbnail {
        bytes,
        ext,
        width: tw,
        height: th,
    })
}

/// The display rendition's size for an image displayed at `display` size:
/// `long_edge` on its longer side, never upscaled, aspect kept.
pub fn display_size(display: (u32, u32), long_edge: u32) -> (u32, u32) {
    let (w, h) = display;
    if w.max(h) <= long_edge {
        return (w.max(1), h.max(1));
    }
    let scale = long_edge as f64 / w.max(h) as f64;
    (((w as f64 * scale).round() as u32).max(1), ((h as f64 * scale).round() as u32).max(1))
}

/// The photo's renditions from one decode: the display rendition
/// (`long_edge` on the longer side, never upscaled, upright, JPEG with no
/// metadata; transparency flattened onto white) and, when `thumbnail_width`
/// is given, the thumbnail made from the same decoded pixels.
pub fn renditions(
    bytes: &[u8],
    probe: &Probe,
    long_edge: u32,
    thumbnail_width: Option<u32>,
    limits: &Limits,
) -> Result<(Thumbnail, Option<Thumbnail>), MediaError> {
    renditions_marked(bytes, probe, long_edge, thumbnail_width, limits, None)
}

/// [`renditions`], with `mark` drawn on the display rendition (the
/// thumbnail, made from the same pixels before the mark, never carries it).
pub fn renditions_marked(
    bytes: &[u8],
    probe: &Probe,
    long_edge: u32,
    thumbnail_width: Option<u32>,
    limits: &Limits,
    mark: Option<&crate::watermark::Watermark>,
) -> Result<(Thumbnail, Option<Thumbnail>), MediaError> {
    let (dw, dh) = display_size(probe.display_size(), long_edge);
    let img = decode_upright(bytes, probe, dw, limits)?;
    let display = resize(&img, dw, dh)?;
    let thumb = match thumbnail_width {
        Some(width) => {
            let (tw, th) = thumbnail_size(probe.display_size(), width);
            let small = resize(&display, tw, th)?;
            let photo = matches!(probe.format, Format::Jpeg | Format::Heic | Format::Avif);
            let (bytes, ext) = encode(&small, photo)?;
            Some(Thumbnail { bytes, ext, width: tw, height: th })
        }
        None => None,
    };
    let flat = if display.color().has_alpha() { flatten_on_white(&display) } else { display };
    let flat = match mark {
        None => flat,
        Some(mark) => {
            let mut rgb = flat.into_rgb8();
            crate::watermark::draw(&mut rgb, mark);
            DynamicImage::ImageRgb8(rgb)
        }
    };
    let (bytes, ext) = encode(&flat, true)?;
    Ok((Thumbnail { bytes, ext, width: dw, height: dh }, thumb))
}

/// Composites transparent pixels onto white (JPEG has no alpha).
fn flatten_on_white(img: &DynamicImage) -> DynamicImage {
    let mut out = image::RgbImage::new(img.width(), img.height());
    for (o, p) in out.pixels_mut().zip(img.to_rgba8().pixels()) {
        let a = p.0[3] as u32;
        for c in 0..3 {
            o.0[c] = ((p.0[c] as u32 * a + 255 * (255 - a) + 127) / 255) as u8;
        }
    }
    DynamicImage::ImageRgb8(out)
}

/// Decodes an image upright (EXIF orientation applied) as 8-bit gray, RGB
/// or RGBA, at least `min_display_width` wide when the image is: JPEGs are
/// shrunk on load (1/2, 1/4, 1/8 in the DCT domain), so callers that only
/// need a small picture (thumbnails, perceptual hashes, classifiers) never
/// pay for a full 12 MP decode.
pub fn decode_upright(
    bytes: &[u8],
    probe: &Probe,
    min_display_width: u32,
    limits: &Limits,
) -> Result<DynamicImage, MediaError> {
    if probe.format.is_heif() {
        // Upright from libheif; from the file's own thumbnail item when it
        // is large enough, else the primary image, shrunk within its
        // memory reservation.
        let (img, _held) = crate::heif::decode(bytes, probe, limits, Some(min_display_width))?;
        return shrink_to(normalise_pixels(img), min_display_width);
    }
    let decoded = match probe.format {
        Format::Jpeg => decode_jpeg_scaled(bytes, probe, min_display_width)?,
        Format::Png => crate::png_rows::decode_scaled(bytes, probe, min_display_width)?,
        _ => None,
    };
    let orientation = Orientation::from_exif(probe.orientation).unwrap_or(Orientation::NoTransforms);
    let img = match decoded {
        Some(img) => {
            let mut img = normalise_pixels(img);
            img.apply_orientation(orientation);
            img
        }
        None => {
            // A full decode, within its reservation: 8-bit first (dropping
            // the decoded buffer), then upright, then down to what the
            // caller needs, so what leaves here is small.
            let (img, _held) = decode_with_image(bytes, probe, limits)?;
            let mut img = normalise_pixels(img);
            img.apply_orientation(orientation);
            shrink_to(img, min_display_width)?
        }
    };
    Ok(img)
}

/// Downscales `img` to `min_width` wide (aspect kept) when it is more than
/// twice that; leaves it otherwise.
fn shrink_to(img: DynamicImage, min_width: u32) -> Result<DynamicImage, MediaError> {
    let min_width = min_width.max(1);
    if img.width() <= min_width.saturating_mul(2) {
        return Ok(img);
    }
    let (w, h) = thumbnail_size((img.width(), img.height()), min_width);
    resize(&img, w, h)
}

/// Shrink-on-load: decodes at the smallest DCT scale whose *display* width is
/// still at least `min_display_width`. Returns `None` for pixel formats the
/// fast path leaves to `image` (CMYK, 16-bit).
fn decode_jpeg_scaled(
    bytes: &[u8],
    probe: &Probe,
    min_display_width: u32,
) -> Result<Option<DynamicImage>, MediaError> {
    let corrupt = |e: jpeg_decoder::Error| MediaError::Corrupt(e.to_string());
    let mut d = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    d.read_info().map_err(corrupt)?;
    let (dw, _) = probe.display_size();
    // Requested stored size so that the display width reaches the minimum.
    let factor = (min_display_width as f64 / dw as f64).min(1.0);
    let req_w = ((probe.width as f64 * factor).ceil() as u16).max(1);
    let req_h = ((probe.height as f64 * factor).ceil() as u16).max(1);
    let (w, h) = d.scale(req_w, req_h).map_err(corrupt)?;
    let pixels = d.decode().map_err(corrupt)?;
    let info = d.info().ok_or_else(|| MediaError::Corrupt("no JPEG header".into()))?;
    let (w, h) = (w as u32, h as u32);
    let img = match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => image::RgbImage::from_raw(w, h, pixels).map(DynamicImage::ImageRgb8),
        jpeg_decoder::PixelFormat::L8 => image::GrayImage::from_raw(w, h, pixels).map(DynamicImage::ImageLuma8),
        jpeg_decoder::PixelFormat::CMYK32 | jpeg_decoder::PixelFormat::L16 => return Ok(None),
    };
    img.map(Some)
        .ok_or_else(|| MediaError::Corrupt("decoded size does not match the header".into()))
}

/// Reduces every decoded image to 8-bit gray, RGB or RGBA.
fn normalise_pixels(img: DynamicImage) -> DynamicImage {
    match img {
        DynamicImage::ImageLuma8(_) | DynamicImage::ImageRgb8(_) | DynamicImage::ImageRgba8(_) => img,
        DynamicImage::ImageLuma16(_) => DynamicImage::ImageLuma8(img.to_luma8()),
        other if other.color().has_alpha() => DynamicImage::ImageRgba8(other.to_rgba8()),
        other => DynamicImage::ImageRgb8(other.to_rgb8()),
    }
}

fn resize(img: &DynamicImage, tw: u32, th: u32) -> Result<DynamicImage, MediaError> {
    if img.width() == tw && img.height() == th {
        return Ok(img.clone());
    }
    let pixel_type = match img {
        DynamicImage::ImageLuma8(_) => PixelType::U8,
        DynamicImage::ImageRgb8(_) => PixelType::U8x3,
        _ => PixelType::U8x4,
    };
    let mut dst = Image::new(tw, th, pixel_type);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    Resizer::new()
        .resize(img, &mut dst, &options)
        .map_err(|e| MediaError::Corrupt(format!("resize failed: {e}")))?;
    let buf = dst.into_vec();
    let out = match pixel_type {
        PixelType::U8 => image::GrayImage::from_raw(tw, th, buf).map(DynamicImage::ImageLuma8),
        PixelType::U8x3 => image::RgbImage::from_raw(tw, th, buf).map(DynamicImage::ImageRgb8),
        _ => image::RgbaImage::from_raw(tw, th, buf).map(DynamicImage::ImageRgba8),
    };
    out.ok_or_else(|| MediaError::Corrupt("resize produced a wrong-sized buffer".into()))
}

fn encode(img: &DynamicImage, as_jpeg: bool) -> Result<(Vec<u8>, &'static str), MediaError> {
    let mut out = Vec::new();
    let err = |e: image::ImageError| MediaError::Corrupt(format!("encode failed: {e}"));
    if as_jpeg && !img.color().has_alpha() {
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
            .encode_image(img)
            .map_err(err)?;
        Ok((out, "jpg"))
    } else {
        image::codecs::png::PngEncoder::new(&mut out)
            .write_image(img.as_bytes(), img.width(), img.height(), img.color().into())
            .map_err(err)?;
        Ok((out, "png"))
    }
}

/// Checks a client-made thumbnail against the original's probe: a JPEG,
/// PNG or WebP that decodes, exactly the expected width, and the original's
/// aspect ratio (height within one pixel). Returns its own probe.
pub fn check_client_thumbnail(
    bytes: &[u8],
    original: &Probe,
    target_width: u32,
) -> Result<Probe, MediaError> {
    let bad = |m: String| MediaError::BadThumbnail(m);
    let small = Limits {
        max_pixels: 1_000_000,
        max_side: 4096,
    };
    let p = probe(bytes, &small).map_err(|e| bad(e.to_string()))?;
    if !matches!(p.format, Format::Jpeg | Format::Png | Format::Webp) {
        return Err(bad("it must be JPEG, PNG or WebP".into()));
    }
    crate::verify(bytes, &p, &small).map_err(|e| bad(e.to_string()))?;
    let (ew, eh) = thumbnail_size(original.display_size(), target_width);
    let (w, h) = p.display_size();
    if w != ew {
        return Err(bad(format!("it is {w} px wide; expected {ew}")));
    }
    if h.abs_diff(eh) > 1 {
        return Err(bad(format!(
            "it is {w}x{h}; the original's aspect ratio needs {ew}x{eh}"
        )));
    }
    Ok(p)
}

/// Width of the renderings [`shows_the_same_picture`] compares.
const COMPARE_WIDTH: u32 = 16;
/// Mean absolute luma difference (0–255) above which two renderings show
/// different pictures. Re-encoding, colour management and a browser's
/// resampling stay well below it; another picture, or the same one
/// mirrored or rotated, lands far above.
const SAME_PICTURE_MAX_DIFF: f64 = 28.0;

/// Whether a (checked) client thumbnail shows the original: both rendered
/// upright at 16 px wide in gray and compared pixel by pixel. A client
/// that sent another picture, or forgot the EXIF orientation, fails.
pub fn shows_the_same_picture(
    original: &[u8],
    original_probe: &Probe,
    thumbnail: &[u8],
    thumbnail_probe: &Probe,
    limits: &Limits,
) -> Result<bool, MediaError> {
    let render = |bytes: &[u8], p: &Probe, limits: &Limits| -> Result<image::GrayImage, MediaError> {
        let img = decode_upright(bytes, p, COMPARE_WIDTH, limits)?;
        let (w, h) = thumbnail_size((img.width(), img.height()), COMPARE_WIDTH);
        Ok(resize(&img, w, h)?.to_luma8())
    };
    let a = render(original, original_probe, limits)?;
    let small = Limits { max_pixels: 1_000_000, max_side: 4096 };
    let b = render(thumbnail, thumbnail_probe, &small)?;
    if a.dimensions() != b.dimensions() {
        // Heights may differ by a pixel after rounding: compare the overlap.
        let h = a.height().min(b.height());
        let crop = |i: &image::GrayImage| image::imageops::crop_imm(i, 0, 0, i.width(), h).to_image();
        return Ok(mean_diff(&crop(&a), &crop(&b)) <= SAME_PICTURE_MAX_DIFF);
    }
    Ok(mean_diff(&a, &b) <= SAME_PICTURE_MAX_DIFF)
}

fn mean_diff(a: &image::GrayImage, b: &image::GrayImage) -> f64 {
    let total: u64 = a.pixels().zip(b.pixels()).map(|(x, y)| x[0].abs_diff(y[0]) as u64).sum();
    total as f64 / (a.width() as u64 * a.height() as u64).max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_sizes_take_the_long_edge_and_never_upscale() {
        assert_eq!(display_size((4032, 3024), 1024), (1024, 768));
        assert_eq!(display_size((3024, 4032), 1024), (768, 1024));
        assert_eq!(display_size((600, 450), 1024), (600, 450));
        assert_eq!(display_size((30000, 10), 1024), (1024, 1));
    }

    #[test]
    fn sizes_keep_aspect_and_never_upscale() {
        assert_eq!(thumbnail_size((4000, 3000), 50), (50, 38));
        assert_eq!(thumbnail_size((4032, 2012), 50), (50, 25));
        assert_eq!(thumbnail_size((32, 32), 50), (32, 32));
        assert_eq!(thumbnail_size((10000, 10), 50), (50, 1));
    }
}
