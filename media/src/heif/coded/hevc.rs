//! HEVC parameter sets: the picture size of each sequence parameter set,
//! in an `hvcC` record or among an item's NAL units.

use super::bits::Bits;
use super::isobmff::be;
use super::corrupt;
use crate::MediaError;

/// The NAL units of an `hvcC` record's arrays.
pub(super) fn hvcc_nals(c: &[u8]) -> Result<Vec<&[u8]>, MediaError> {
    let short = || corrupt("short hvcC");
    let arrays = *c.get(22).ok_or_else(short)?;
    let mut i = 23;
    let mut out = Vec::new();
    for _ in 0..arrays {
        let n = be(c, i + 1, 2).ok_or_else(short)?;
        i += 3;
        for _ in 0..n {
            let len = be(c, i, 2).ok_or_else(short)? as usize;
            i += 2;
            out.push(c.get(i..i + len).ok_or_else(short)?);
            i += len;
        }
    }
    Ok(out)
}

/// An HEVC NAL unit: an SPS (type 33) adds its picture size.
pub(super) fn hevc_nal(nal: &[u8], sizes: &mut Vec<(u32, u32)>) -> Result<(), MediaError> {
    if nal.len() < 2 || (nal[0] >> 1) & 0x3f != 33 {
        return Ok(());
    }
    // Emulation prevention: 00 00 03 → 00 00.
    let mut rbsp = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &x in &nal[2..] {
        if zeros >= 2 && x == 3 {
            zeros = 0;
            continue;
        }
        zeros = if x == 0 { zeros + 1 } else { 0 };
        rbsp.push(x);
    }
    let bad = || corrupt("unreadable HEVC sequence parameter set");
    let mut r = Bits::new(&rbsp);
    r.skip(4); // sps_video_parameter_set_id
    let sub_layers = r.bits(3).ok_or_else(bad)? as usize; // max_sub_layers_minus1
    r.skip(1);
    // profile_tier_level(1, sub_layers)
    r.skip(88 + 8);
    let mut profile_present = [false; 8];
    let mut level_present = [false; 8];
    for i in 0..sub_layers {
        profile_present[i] = r.bits(1).ok_or_else(bad)? == 1;
        level_present[i] = r.bits(1).ok_or_else(bad)? == 1;
    }
    if sub_layers > 0 {
        r.skip(2 * (8 - sub_layers));
    }
    for i in 0..sub_layers {
        if profile_present[i] {
            r.skip(88);
        }
        if level_present[i] {
            r.skip(8);
        }
    }
    r.ue().ok_or_else(bad)?; // sps_seq_parameter_set_id
    if r.ue().ok_or_else(bad)? == 3 {
        r.skip(1); // separate_colour_plane_flag
    }
    let w = r.ue().ok_or_else(bad)?;
    let h = r.ue().ok_or_else(bad)?;
    sizes.push((w, h));
    Ok(())
}
