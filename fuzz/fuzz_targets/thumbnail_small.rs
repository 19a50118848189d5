//! The whole thumbnail path (probe, shrink-on-load decode, orientation,
//! resize, encode) on small inputs: errors are fine, panics are not, and a
//! thumbnail that comes out has the promised size.
#![no_main]
use libfuzzer_sys::fuzz_target;
use photostream_media::{probe, thumbnail, thumbnail_size, Limits};

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_pixels: 1 << 16, max_side: 1024 };
    let Ok(p) = probe(data, &limits) else { return };
    if let Ok(t) = thumbnail(data, &p, 50, &limits) {
        assert_eq!((t.width, t.height), thumbnail_size(p.display_size(), 50));
    }
});
