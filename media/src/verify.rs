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
        _ => decode_with_image(bytes, probe, limits).map(|_| ()),
    }
}

pub(crate) fn decode_with_image(
    bytes: &[u8],
    probe: &Probe,
    limits: &Limits,
) -> Result<image::DynamicImage, MediaError> {
    let format = probe
        .format
        .image_format()
        .ok_or(MediaError::Unsupported(probe.format.name()))?;
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits.decoder_limits());
    reader
        .decode()
        .map_err(|e| MediaError::Corrupt(e.to_string()))
}

/// Whether an EOI marker (FF D9) appears in the last bytes of the file.
/// Cameras sometimes pad after EOI, so look a little way back.
fn has_eoi(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(4096)..];
    tail.windows(2).any(|w| w == [0xFF, 0xD9])
}
