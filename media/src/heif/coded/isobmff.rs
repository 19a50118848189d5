//! The ISO base media file format boxes a HEIF file is made of, as far as
//! finding its coded items' data and properties needs: `meta`, `iinf`,
//! `iloc` (and `idat`), `iprp` (`ipco` + `ipma`).

use std::collections::HashMap;

use super::corrupt;
use crate::MediaError;

pub(super) type Range = (usize, usize);

/// Big-endian unsigned integer of `n` bytes (0..=8) at `i`.
pub(super) fn be(b: &[u8], i: usize, n: usize) -> Option<u64> {
    let s = b.get(i..i.checked_add(n)?)?;
    Some(s.iter().fold(0u64, |acc, &x| (acc << 8) | x as u64))
}

/// The boxes between `start` and `end`: (type, payload range).
pub(super) fn boxes(b: &[u8], start: usize, end: usize) -> Result<Vec<([u8; 4], Range)>, MediaError> {
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

pub(super) fn child(b: &[u8], start: usize, end: usize, kind: &[u8; 4]) -> Result<Option<Range>, MediaError> {
    Ok(boxes(b, start, end)?.into_iter().find(|(k, _)| k == kind).map(|(_, r)| r))
}

/// Item id → item type, from `iinf`.
pub(super) fn item_types(b: &[u8], meta: Range) -> Result<Vec<(u32, [u8; 4])>, MediaError> {
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

pub(super) struct Extents {
    construction: u8,
    base: u64,
    extents: Vec<(u64, u64)>,
}

/// Item id → where its data is, from `iloc`.
pub(super) fn item_locations(b: &[u8], meta: Range) -> Result<HashMap<u32, Extents>, MediaError> {
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
pub(super) fn item_data(b: &[u8], meta: Range, loc: &Extents) -> Result<Vec<u8>, MediaError> {
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
pub(super) fn item_properties(b: &[u8], meta: Range) -> Result<HashMap<u32, Vec<([u8; 4], Range)>>, MediaError> {
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
