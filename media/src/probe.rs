//! Header-only inspection: format, stored dimensions, EXIF orientation.

use std::io::Cursor;

use crate::{Format, MediaError};

/// Upload limits, enforced before any pixel is decoded.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Width × height.
    pub max_pixels: u64,
    /// Either side.
    pub max_side: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_pixels: 100_000_000,
            max_side: 30_000,
        }
    }
}

impl Limits {
    /// The decoder-level limits handed to `image`, so even a decoder that
    /// lies about its header cannot allocate without bound.
    pub(crate) fn decoder_limits(&self) -> image::Limits {
        let mut l = image::Limits::default();
        l.max_image_width = Some(self.max_side);
        l.max_image_height = Some(self.max_side);
        // 8 bytes per pixel covers 16-bit RGBA, plus headroom for the codec.
        l.max_alloc = Some(self.max_pixels.saturating_mul(8).saturating_add(64 << 20));
        l
    }
}

/// What the header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub format: Format,
    /// Dimensions as stored, before EXIF orientation.
    pub width: u32,
    pub height: u32,
    /// EXIF orientation 1–8 (1 when absent or invalid).
    pub orientation: u8,
}

impl Probe {
    /// Dimensions as displayed (orientations 5–8 swap the sides).
    pub fn display_size(&self) -> (u32, u32) {
        if self.orientation >= 5 {
            (self.height, self.width)
        } else {
            (self.width, self.height)
        }
    }
}

/// Sniffs the format and reads the dimensions and orientation from the
/// header. Refuses empty, unrecognised, unsupported and oversized images.
pub fn probe(bytes: &[u8], limits: &Limits) -> Result<Probe, MediaError> {
    let format = Format::sniff(bytes)?;
    if format.is_heif() {
        // Displayed size (irot/clap applied), read by libheif from the
        // header; it refuses items over `max_side` itself.
        let (width, height) = crate::heif::dimensions(bytes, format, limits)?;
        within_limits(width, height, limits)?;
        return Ok(Probe { format, width, height, orientation: 1 });
    }
    let Some(image_format) = format.image_format() else {
        return Err(MediaError::Unsupported(format.name()));
    };
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), image_format);
    reader.limits(limits.decoder_limits());
    let (width, height) = match reader.into_dimensions() {
        Ok(size) => size,
        Err(image::ImageError::Limits(_)) => {
            let (width, height) = declared_size(bytes, format).unwrap_or((0, 0));
            return Err(MediaError::TooLarge {
                width: width as u64,
                height: height as u64,
                max_pixels: limits.max_pixels,
                max_side: limits.max_side,
            });
        }
        // `image` refuses YCbCr TIFF; its JPEG-compressed form is decoded here.
        Err(other) => match format {
            Format::Tiff => crate::tiff_ycbcr::dimensions(bytes).ok_or_else(|| MediaError::Corrupt(other.to_string()))?,
            _ => return Err(MediaError::Corrupt(other.to_string())),
        },
    };
    // A GIF's logical screen can be small while its first frame claims
    // gigapixels (the classic decompression bomb); judge by the larger.
    let (width, height) = match format {
        Format::Gif => match gif_first_frame_size(bytes) {
            Some((fw, fh)) => (width.max(fw), height.max(fh)),
            None => return Err(MediaError::Corrupt("the GIF has no image".into())),
        },
        _ => (width, height),
    };
    within_limits(width, height, limits)?;
    Ok(Probe {
        format,
        width,
        height,
        orientation: exif_orientation(bytes),
    })
}

/// Refuses an image with no pixels or beyond the limits.
fn within_limits(width: u32, height: u32, limits: &Limits) -> Result<(), MediaError> {
    if width == 0 || height == 0 {
        return Err(MediaError::Corrupt("the image has no pixels".into()));
    }
    if width > limits.max_side || height > limits.max_side || width as u64 * height as u64 > limits.max_pixels {
        return Err(MediaError::TooLarge {
            width: width as u64,
            height: height as u64,
            max_pixels: limits.max_pixels,
            max_side: limits.max_side,
        });
    }
    Ok(())
}

/// The size a header declares, read directly (for formats where that is a
/// fixed field), to say how large a refused image is.
fn declared_size(b: &[u8], format: Format) -> Option<(u32, u32)> {
    let be = |i: usize| Some(u32::from_be_bytes(b.get(i..i + 4)?.try_into().ok()?));
    let le = |i: usize| Some(i32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?).unsigned_abs());
    match format {
        Format::Png => Some((be(16)?, be(20)?)),
        Format::Bmp => Some((le(18)?, le(22)?)),
        Format::Gif => {
            let w = u16::from_le_bytes(b.get(6..8)?.try_into().ok()?) as u32;
            let h = u16::from_le_bytes(b.get(8..10)?.try_into().ok()?) as u32;
            Some((w, h))
        }
        _ => None,
    }
}

/// Walks a GIF's blocks to its first image descriptor and returns the
/// frame's declared size.
fn gif_first_frame_size(b: &[u8]) -> Option<(u32, u32)> {
    let mut i = 13; // header (6) + logical screen descriptor (7)
    let packed = *b.get(10)?;
    if packed & 0x80 != 0 {
        i += 3 << ((packed & 0x07) + 1);
    }
    loop {
        match *b.get(i)? {
            0x2C => {
                let d = b.get(i + 1..i + 9)?;
                let w = u16::from_le_bytes([d[4], d[5]]) as u32;
                let h = u16::from_le_bytes([d[6], d[7]]) as u32;
                return Some((w, h));
            }
            0x21 => {
                // Extension: label, then data sub-blocks until a zero length.
                i += 2;
                loop {
                    let n = *b.get(i)? as usize;
                    i += 1 + n;
                    if n == 0 {
                        break;
                    }
                }
            }
            _ => return None,
        }
    }
}

/// The EXIF orientation tag, or 1.
fn exif_orientation(bytes: &[u8]) -> u8 {
    let Ok(exif) = exif::Reader::new().read_from_container(&mut Cursor::new(bytes)) else {
        return 1;
    };
    exif.get_field(exif::Tag::Orientation, exif::In::PRIMARY)
        .and_then(|f| f.value.get_uint(0))
        .filter(|o| (1..=8).contains(o))
        .map(|o| o as u8)
        .unwrap_or(1)
}
