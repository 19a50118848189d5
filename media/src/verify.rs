//! A full decode at upload time, so broken files never become photos.

use std::io::Cursor;

use crate::{Format, Limits, MediaError, Probe};

/// Decodes the whole image (JPEG at 1/8 scale, which still walks every
/// entropy-coded segment) and fails on truncation or corruption.
pub fn verify(bytes: &[u8], probe: &Probe, limits: &Limits) -> Result<(), MediaError> {
    match probe.format {
        Format::Jpeg => {
            // jpeg-decoder pads a truncated scan with zeros rather than
            // failing, so also insist that the stream reaches its EOI marker.
            if !has_eoi(bytes) {
                return Err(MediaError::Corrupt("the JPEG data is truncated".into()));
            }
            let mut d = jpeg_decoder::Decoder::new(Cursor::new(bytes));
            d.read_info().map_err(|e| MediaError::Corrupt(e.to_string()))?;
            d.scale(1, 1).map_err(|e| MediaError::Corrupt(e.to_string()))?;
            d.decode().map_err(|e| MediaError::Corrupt(e.to_string()))?;
            Ok(())
        }
        // Row by row: every row is decoded and checked, none is kept.
        Format::Png => match crate::png_rows::decode_scaled(bytes, probe, 1)? {
            Some(_) => Ok(()),
            None => decode_with_image(bytes, probe, limits).map(|_| ()),
        },
        _ => decode_with_image(bytes, probe, limits).map(|_| ()),
    }
}

/// A full decode through `image`, with its memory reserved from the decode
/// budget first (see [`crate::budget`]): the reservation covers the decoded
/// buffer, the 8-bit copy it may become and an upright copy, and is held
/// as long as the returned image.
pub(crate) fn decode_with_image(
    bytes: &[u8],
    probe: &Probe,
    limits: &Limits,
) -> Result<(image::DynamicImage, crate::budget::Reservation), MediaError> {
    use image::ImageDecoder;
    if probe.format.is_heif() {
        return crate::heif::decode(bytes, probe, limits, None);
    }
    if probe.format == Format::Tiff && crate::tiff_ycbcr::dimensions(bytes).is_some() {
        return crate::tiff_ycbcr::decode(bytes, probe);
    }
    let format = probe
        .format
        .image_format()
        .ok_or(MediaError::Unsupported(probe.format.name()))?;
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits.decoder_limits());
    let corrupt = |e: image::ImageError| MediaError::Corrupt(e.to_string());
    let decoder = reader.into_decoder().map_err(corrupt)?;
    let decoded = decoder.total_bytes();
    let pixels = probe.width as u64 * probe.height as u64;
    let color = decoder.color_type();
    let eight_bit = matches!(
        color,
        image::ColorType::L8 | image::ColorType::Rgb8 | image::ColorType::Rgba8
    );
    let normalised = if eight_bit { 0 } else { pixels * if color.has_alpha() { 4 } else { 3 } };
    let upright = if probe.orientation > 1 { if eight_bit { decoded } else { normalised } } else { 0 };
    let peak = (decoded + normalised).max(decoded.max(normalised) + upright);
    let held = crate::budget::reserve(peak)?;
    let img = image::DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    Ok((img, held))
}

/// Whether an EOI marker (FF D9) appears in the last bytes of the file.
/// Cameras sometimes pad after EOI, so look a little way back.
fn has_eoi(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(4096)..];
    tail.windows(2).any(|w| w == [0xFF, 0xD9])
}
