//! Format sniffing and header reading on arbitrary bytes: never panics,
//! never allocates for pixels it has not checked against the limits.
#![no_main]
use libfuzzer_sys::fuzz_target;
use photostream_media::{probe, verify, Format, Limits};

fuzz_target!(|data: &[u8]| {
    let _ = Format::sniff(data);
    // Small limits so a "valid" header cannot make the decoder allocate much.
    let limits = Limits { max_pixels: 1 << 20, max_side: 4096 };
    if let Ok(p) = probe(data, &limits) {
        assert!(p.width as u64 * p.height as u64 <= limits.max_pixels);
        let _ = verify(data, &p, &limits);
    }
});
