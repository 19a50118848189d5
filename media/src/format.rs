//! Format sniffing from magic bytes.

use crate::MediaError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Jpeg,
    Png,
    Gif,
    Webp,
    Tiff,
    Bmp,
    Heic,
    Avif,
}

impl Format {
    /// Identifies the format from the first bytes of the file.
    pub fn sniff(bytes: &[u8]) -> Result<Format, MediaError> {
        if bytes.is_empty() {
            return Err(MediaError::Empty);
        }
        let b = bytes;
        let f = if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Format::Jpeg
        } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
            Format::Png
        } else if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
            Format::Gif
        } else if b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
            Format::Webp
        } else if b.starts_with(b"II*\0") || b.starts_with(b"MM\0*") {
            Format::Tiff
        } else if b.len() >= 26 && b.starts_with(b"BM") {
            Format::Bmp
        } else if b.len() >= 12 && &b[4..8] == b"ftyp" {
            iso_bmff_brand(b).ok_or(MediaError::Unrecognised)?
        } else {
            return Err(MediaError::Unrecognised);
        };
        Ok(f)
    }

    /// Whether this process decodes this format: HEIC and AVIF only when
    /// libheif could be loaded ([`crate::heif::availability`]).
    pub fn supported(self) -> bool {
        match self {
            Format::Heic | Format::Avif => crate::heif::availability(self).is_ok(),
            _ => true,
        }
    }

    /// HEIC and AVIF: decoded by libheif, which applies their own rotation
    /// and mirroring (their EXIF orientation is informative only).
    pub fn is_heif(self) -> bool {
        matches!(self, Format::Heic | Format::Avif)
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Jpeg => "jpeg",
            Format::Png => "png",
            Format::Gif => "gif",
            Format::Webp => "webp",
            Format::Tiff => "tiff",
            Format::Bmp => "bmp",
            Format::Heic => "heic",
            Format::Avif => "avif",
        }
    }

    /// The file extension stored objects get.
    pub fn ext(self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
            Format::Tiff => "tif",
            other => other.name(),
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::Gif => "image/gif",
            Format::Webp => "image/webp",
            Format::Tiff => "image/tiff",
            Format::Bmp => "image/bmp",
            Format::Heic => "image/heic",
            Format::Avif => "image/avif",
        }
    }

    /// The content type for a stored file, from its extension.
    pub fn mime_for_ext(ext: &str) -> &'static str {
        match ext {
            "jpg" | "jpeg" => "image/jpeg",
            "png" => "image/png",
            "gif" => "image/gif",
            "webp" => "image/webp",
            "tif" | "tiff" => "image/tiff",
            "bmp" => "image/bmp",
            "heic" => "image/heic",
            "avif" => "image/avif",
            _ => "application/octet-stream",
        }
    }

    pub(crate) fn image_format(self) -> Option<image::ImageFormat> {
        Some(match self {
            Format::Jpeg => image::ImageFormat::Jpeg,
            Format::Png => image::ImageFormat::Png,
            Format::Gif => image::ImageFormat::Gif,
            Format::Webp => image::ImageFormat::WebP,
            Format::Tiff => image::ImageFormat::Tiff,
            Format::Bmp => image::ImageFormat::Bmp,
            Format::Heic | Format::Avif => return None,
        })
    }
}

/// HEIF-family files: the major brand, then the compatible brands.
fn iso_bmff_brand(b: &[u8]) -> Option<Format> {
    let size = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let end = size.clamp(12, b.len().min(256));
    let mut brands = vec![&b[8..12]];
    let mut i = 16;
    while i + 4 <= end {
        brands.push(&b[i..i + 4]);
        i += 4;
    }
    for brand in &brands {
        match *brand {
            b"avif" | b"avis" => return Some(Format::Avif),
            b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" => return Some(Format::Heic),
            _ => {}
        }
    }
    if brands.iter().any(|b| *b == b"mif1" || *b == b"msf1") {
        return Some(Format::Heic);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_magic_not_names() {
        assert_eq!(Format::sniff(b"\xFF\xD8\xFF\xE0rest"), Ok(Format::Jpeg));
        assert_eq!(Format::sniff(b""), Err(MediaError::Empty));
        assert_eq!(Format::sniff(b"hello world, not an image"), Err(MediaError::Unrecognised));
        assert_eq!(
            Format::sniff(b"\0\0\0\x1cftypavif\0\0\0\0avifmif1"),
            Ok(Format::Avif)
        );
        assert_eq!(
            Format::sniff(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"),
            Ok(Format::Heic)
        );
    }
}
