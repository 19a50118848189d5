//! The frame sizes a HEIF/AVIF file's *bitstreams* declare, read before
//! libheif decodes anything.
//!
//! libheif 1.15 checks an item's declared size (`ispe`) against its limit,
//! but never checks the frame the HEVC or AV1 decoder then produces against
//! it: a 500-byte AVIF may declare 64x64 in `ispe` and carry a 16384x16384
//! AV1 frame, which the decoder allocates in full (and an RGBA plane past
//! 2^32 bytes overflows libheif's 32-bit size arithmetic). So every coded
//! image item's parameter sets — the HEVC SPS (`pic_width/height_in_luma_samples`)
//! and the AV1 sequence header (`max_frame_width/height`), in its `hvcC` /
//! `av1C` property and in its data — are read here, and a file whose frames
//! are larger than its primary image (plus an alignment margin) or beyond
//! the limits is refused before decoding.
//!
//! A parameter set that cannot be read is refused too (the decoder would
//! see the same bytes): this reader covers what the HEVC and AV1 specs put
//! before the frame size, nothing after it.

use std::collections::HashMap;

use crate::{Limits, MediaError};

/// Coded frames may exceed the displayed size by the codec's alignment
/// (HEVC coding blocks, cropped by the conformance window).
const ALIGNMENT_MARGIN: u32 = 64;

fn corrupt(what: &str) -> MediaError {
    MediaError::Corrupt(format!("HEIF structure: {what}"))
}

/// Checks every HEVC/AV1 frame size the file declares against its primary
/// image's displayed size `(w, h)` and the limits.
pub(crate) fn check(bytes: &[u8], (w, h): (u32, u32), limits: &Limits) -> Result<(), MediaError> {
    let side = w.max(h).saturating_add(ALIGNMENT_MARGIN);
    for (fw, fh) in coded_sizes(bytes)? {
        let too_big = fw > side || fh > side || fw > limits.max_side || fh > limits.max_side
            || fw as u64 * fh as u64 > limits.max_pixels;
        if too_big {
            return Err(MediaError::TooLarge {
                width: fw as u64,
                height: fh as u64,
                max_pixels: limits.max_pixels,
                max_side: limits.max_side,
            });
        }
    }
    Ok(())
}

/// Every frame size declared by the parameter sets of the file's coded
/// (`hvc1`, `av01`) items.
fn coded_sizes(bytes: &[u8]) -> Result<Vec<(u32, u32)>, MediaError> {
    let meta = child(bytes, 0, bytes.len(), b"meta")?.ok_or_else(|| corrupt("no meta box"))?;
    let meta = (meta.0 + 4, meta.1); // full box
    let items = item_types(bytes, meta)?;
    let locations = item_locations(bytes, meta)?;
    let properties = item_properties(bytes, meta)?;
    let mut sizes = Vec::new();
    for (id, kind) in &items {
        let codec = match kind {
            b"hvc1" => Codec::Hevc,
            b"av01" => Codec::Av1,
            _ => continue,
        };
        let config = properties.get(id).and_then(|props| {
            props.iter().find(|(t, _)| t == if codec == Codec::Hevc { b"hvcC" } else { b"av1C" })
        });
        let data = locations.get(id).map(|extents| item_data(bytes, meta, extents)).transpose()?.unwrap_or_default();
        match codec {
            Codec::Hevc => {
                let mut length_size = 4;
                if let Some((_, c)) = config {
                    let c = &bytes[c.0..c.1];
                    length_size = (*c.get(21).ok_or_else(|| corrupt("short hvcC"))? & 3) as usize + 1;
                    for nal in hvcc_nals(c)? {
                        hevc_nal(nal, &mut sizes)?;
                    }
                }
                let mut i = 0;
                while i < data.len() {
                    let len = be(&data, i, length_size).ok_or_else(|| corrupt("truncated NAL length"))? as usize;
                    i += length_size;
                    let nal = data.get(i..i + len).ok_or_else(|| corrupt("truncated NAL unit"))?;
                    hevc_nal(nal, &mut sizes)?;
                    i += len;
                }
            }
            Codec::Av1 => {
                if let Some((_, c)) = config {
                    if let Some(obus) = bytes.get(c.0 + 4..c.1) {
                        av1_obus(obus, &mut sizes)?;
                    }
                }
                av1_obus(&data, &mut sizes)?;
            }
        }
    }
    Ok(sizes)
}

#[derive(PartialEq, Clone, Copy)]
enum Codec {
    Hevc,
    Av1,
}

type Range = (usize, usize);

/// Big-endian unsigned integer of `n` bytes (0..=8) at `i`.
fn be(b: &[u8], i: usize, n: usize) -> Option<u64> {
    let s = b.get(i..i.checked_add(n)?)?;
    Some(s.iter().fold(0u64, |acc, &x| (acc << 8) | x as u64))
}

/// The boxes between `start` and `end`: (type, payload range).
fn boxes(b: &[u8], start: usize, end: usize) -> Result<Vec<([u8; 4], Range)>, MediaError> {
    let mut out = Vec::new();
    let mut i = start;
    while i + 8 <= end {
        let size = be(b, i, 4).unwrap() as usize;
        let kind: [u8; 4] = b[i + 4..i + 8].try_into().unwrap();
        let (header, size) = match size {
            1 => (16, be(b, i + 8, 8).ok_or_else(|| corrupt("truncated box"))? as usize),
            0 => (8, end - i),
            s => (8, s),
        };
        if size < header || i.checked_add(size).is_none_or(|e| e > end) {
            return Err(corrupt("a box overruns its parent"));
        }
        out.push((kind, (i + header, i + size)));
        i += size;
        if out.len() > 100_000 {
            return Err(corrupt("too many boxes"));
        }
    }
    Ok(out)
}

fn child(b: &[u8], start: usize, end: usize, kind: &[u8; 4]) -> Result<Option<Range>, MediaError> {
    Ok(boxes(b, start, end)?.into_iter().find(|(k, _)| k == kind).map(|(_, r)| r))
}

/// Item id → item type, from `iinf`.
fn item_types(b: &[u8], meta: Range) -> Result<Vec<(u32, [u8; 4])>, MediaError> {
    let Some(iinf) = child(b, meta.0, meta.1, b"iinf")? else { return Ok(Vec::new()) };
    let version = *b.get(iinf.0).ok_or_else(|| corrupt("short iinf"))?;
    let first = iinf.0 + 4 + if version == 0 { 2 } else { 4 };
    let mut out = Vec::new();
    for (kind, (s, e)) in boxes(b, first.min(iinf.1), iinf.1)? {
        if &kind != b"infe" {
            continue;
        }
        let v = *b.get(s).ok_or_else(|| corrupt("short infe"))?;
        if v < 2 {
            continue; // no item type before version 2
        }
        let id_len = if v == 2 { 2 } else { 4 };
        let id = be(b, s + 4, id_len).ok_or_else(|| corrupt("short infe"))? as u32;
        let t = s + 4 + id_len + 2;
        if t + 4 > e {
            return Err(corrupt("short infe"));
        }
        out.push((id, b[t..t + 4].try_into().unwrap()));
    }
    Ok(out)
}

struct Extents {
    construction: u8,
    base: u64,
    extents: Vec<(u64, u64)>,
}

/// Item id → where its data is, from `iloc`.
fn item_locations(b: &[u8], meta: Range) -> Result<HashMap<u32, Extents>, MediaError> {
    let mut out = HashMap::new();
    let Some((s, e)) = child(b, meta.0, meta.1, b"iloc")? else { return Ok(out) };
    let short = || corrupt("short iloc");
    let r = |i: usize, n: usize| if i + n <= e { be(b, i, n).ok_or_else(short) } else { Err(short()) };
    let version = r(s, 1)? as u8;
    let sizes = r(s + 4, 2)? as usize;
    let (offset_size, length_size, base_size) = (sizes >> 12, (sizes >> 8) & 15, (sizes >> 4) & 15);
    let index_size = if version >= 1 { sizes & 15 } else { 0 };
    let mut i = s + 6;
    let count = if version < 2 { let c = r(i, 2)?; i += 2; c } else { let c = r(i, 4)?; i += 4; c };
    for _ in 0..count {
        let id_len = if version < 2 { 2 } else { 4 };
        let id = r(i, id_len)? as u32;
        i += id_len;
        let construction = if version >= 1 { let c = r(i, 2)? as u8 & 15; i += 2; c } else { 0 };
        i += 2; // data_reference_index
        let base = r(i, base_size)?;
        i += base_size;
        let n = r(i, 2)?;
        i += 2;
        let mut extents = Vec::new();
        for _ in 0..n {
            i += index_size;
            let off = r(i, offset_size)?;
            i += offset_size;
            let len = r(i, length_size)?;
            i += length_size;
            extents.push((off, len));
        }
        out.insert(id, Extents { construction, base, extents });
    }
    Ok(out)
}

/// An item's data, its extents concatenated (file offsets, or `idat`).
fn item_data(b: &[u8], meta: Range, loc: &Extents) -> Result<Vec<u8>, MediaError> {
    let source: &[u8] = match loc.construction {
        0 => b,
        1 => {
            let (s, e) = child(b, meta.0, meta.1, b"idat")?.ok_or_else(|| corrupt("no idat"))?;
            &b[s..e]
        }
        // Items built from other items: their sources are items checked
        // on their own.
        _ => return Ok(Vec::new()),
    };
    let mut out = Vec::new();
    for &(off, len) in &loc.extents {
        let start = loc.base.checked_add(off).ok_or_else(|| corrupt("extent offset"))? as usize;
        let end = if len == 0 { source.len() } else { start.saturating_add(len as usize) };
        let part = source.get(start..end).ok_or_else(|| corrupt("an item's data lies outside the file"))?;
        out.extend_from_slice(part);
    }
    Ok(out)
}

/// Item id → its properties (type, payload), from `iprp` (`ipco` + `ipma`).
fn item_properties(b: &[u8], meta: Range) -> Result<HashMap<u32, Vec<([u8; 4], Range)>>, MediaError> {
    let mut out: HashMap<u32, Vec<([u8; 4], Range)>> = HashMap::new();
    let Some(iprp) = child(b, meta.0, meta.1, b"iprp")? else { return Ok(out) };
    let Some(ipco) = child(b, iprp.0, iprp.1, b"ipco")? else { return Ok(out) };
    let props = boxes(b, ipco.0, ipco.1)?;
    let short = || corrupt("short ipma");
    for (kind, (s, e)) in boxes(b, iprp.0, iprp.1)? {
        if &kind != b"ipma" {
            continue;
        }
        let r = |i: usize, n: usize| if i + n <= e { be(b, i, n).ok_or_else(short) } else { Err(short()) };
        let version = r(s, 1)?;
        let flags = r(s + 1, 3)?;
        let mut i = s + 4;
        let count = r(i, 4)?;
        i += 4;
        for _ in 0..count {
            let id_len = if version < 1 { 2 } else { 4 };
            let id = r(i, id_len)? as u32;
            i += id_len;
            let n = r(i, 1)?;
            i += 1;
            for _ in 0..n {
                let (index, len) = if flags & 1 != 0 { (r(i, 2)? & 0x7fff, 2) } else { (r(i, 1)? & 0x7f, 1) };
                i += len;
                if index > 0 {
                    if let Some(p) = props.get(index as usize - 1) {
                        out.entry(id).or_default().push(*p);
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The NAL units of an `hvcC` record's arrays.
fn hvcc_nals(c: &[u8]) -> Result<Vec<&[u8]>, MediaError> {
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
fn hevc_nal(nal: &[u8], sizes: &mut Vec<(u32, u32)>) -> Result<(), MediaError> {
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

/// AV1 OBUs: each sequence header (type 1) adds its maximum frame size.
fn av1_obus(mut data: &[u8], sizes: &mut Vec<(u32, u32)>) -> Result<(), MediaError> {
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

/// An MSB-first bit reader.
struct Bits<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Bits<'a> {
    fn new(b: &'a [u8]) -> Self {
        Self { b, pos: 0 }
    }

    fn skip(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n);
    }

    fn bits(&mut self, n: usize) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let byte = *self.b.get(self.pos / 8)?;
            v = (v << 1) | ((byte >> (7 - self.pos % 8)) & 1) as u32;
            self.pos += 1;
        }
        Some(v)
    }

    /// Exp-Golomb `ue(v)`, at most 32 bits of value.
    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bits(1)? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        Some(((1u64 << zeros) - 1 + self.bits(zeros)? as u64).min(u32::MAX as u64) as u32)
    }

    /// AV1 `uvlc()`.
    fn uvlc(&mut self) -> Option<u32> {
        self.ue()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_golomb() {
        // 1 → 0, 010 → 1, 011 → 2, 00100 → 3
        let mut r = Bits::new(&[0b1010_0110, 0b0100_0000]);
        assert_eq!((r.ue(), r.ue(), r.ue(), r.ue()), (Some(0), Some(1), Some(2), Some(3)));
        assert_eq!(Bits::new(&[0, 0, 0, 0, 0]).ue(), None);
    }

    #[test]
    fn garbage_is_refused_not_panicking() {
        for junk in [&b""[..], b"\0\0\0\x08meta", b"\0\0\0\x10meta\0\0\0\0\xff\xff\xff\xffiloc"] {
            let _ = coded_sizes(junk);
        }
    }
}
