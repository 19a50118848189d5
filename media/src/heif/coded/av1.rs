//! AV1 OBUs: the maximum frame size of each sequence header, in an `av1C`
//! record or an item's data.

use super::bits::Bits;
use super::corrupt;
use crate::MediaError;

/// AV1 OBUs: each sequence header (type 1) adds its maximum frame size.
pub(super) fn av1_obus(mut data: &[u8], sizes: &mut Vec<(u32, u32)>) -> Result<(), MediaError> {
    let bad = || corrupt("unreadable AV1 OBU");
    while !data.is_empty() {
        let header = data[0];
        let kind = (header >> 3) & 15;
        let extension = header & 4 != 0;
        let has_size = header & 2 != 0;
        let mut i = 1 + extension as usize;
        let len = if has_size {
            let mut value = 0u64;
            let mut k = 0;
            loop {
                let byte = *data.get(i).ok_or_else(bad)?;
                value |= ((byte & 0x7f) as u64) << (7 * k);
                i += 1;
                k += 1;
                if byte & 0x80 == 0 {
                    break;
                }
                if k == 8 {
                    return Err(bad());
                }
            }
            value as usize
        } else {
            data.len().saturating_sub(i)
        };
        let payload = data.get(i..i.checked_add(len).ok_or_else(bad)?).ok_or_else(bad)?;
        if kind == 1 {
            sizes.push(av1_sequence_header(payload).ok_or_else(|| corrupt("unreadable AV1 sequence header"))?);
        }
        data = &data[i + len..];
    }
    Ok(())
}

/// `max_frame_width_minus_1 + 1`, `max_frame_height_minus_1 + 1` of an AV1
/// sequence header (AV1 spec 5.5).
fn av1_sequence_header(p: &[u8]) -> Option<(u32, u32)> {
    let mut r = Bits::new(p);
    r.skip(3); // seq_profile
    r.skip(1); // still_picture
    let reduced = r.bits(1)? == 1;
    if reduced {
        r.skip(5); // seq_level_idx[0]
    } else {
        let timing_info = r.bits(1)? == 1;
        let mut decoder_model = false;
        let mut buffer_delay_length = 0;
        if timing_info {
            r.skip(64); // num_units_in_display_tick, time_scale
            if r.bits(1)? == 1 {
                r.uvlc()?; // num_ticks_per_picture_minus_1
            }
            decoder_model = r.bits(1)? == 1;
            if decoder_model {
                buffer_delay_length = r.bits(5)? as usize + 1;
                r.skip(32 + 5 + 5);
            }
        }
        let initial_display_delay = r.bits(1)? == 1;
        let points = r.bits(5)? + 1;
        for _ in 0..points {
            r.skip(12); // operating_point_idc
            if r.bits(5)? > 7 {
                r.skip(1); // seq_tier
            }
            if decoder_model && r.bits(1)? == 1 {
                r.skip(2 * buffer_delay_length + 1);
            }
            if initial_display_delay && r.bits(1)? == 1 {
                r.skip(4);
            }
        }
    }
    let wbits = r.bits(4)? as usize + 1;
    let hbits = r.bits(4)? as usize + 1;
    let w = r.bits(wbits)? + 1;
    let h = r.bits(hbits)? + 1;
    Some((w, h))
}
