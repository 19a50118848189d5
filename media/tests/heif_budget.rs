//! The decode memory budget covers libheif's decodes: its own process,
//! since the budget is set once per process.

use std::path::PathBuf;

use photostream_media::{budget, probe, verify, Format, Limits, MediaError};

#[test]
fn a_heic_larger_than_the_budget_is_refused_not_decoded() {
    if !(Format::Heic.supported()) {
        assert!(std::env::var_os("CI").is_none(), "libheif (Debian libheif1) is missing in CI");
        eprintln!("NOT RUN: libheif is not installed");
        return;
    }
    assert!(budget::set_decode_budget(4 << 20));
    let dir = std::env::var_os("FIXTURES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/images"));
    let bytes = std::fs::read(dir.join("heic-12mp-iphone13.heic")).unwrap();
    // The header is read (no pixels), then 12 MP cannot fit in 4 MB: a
    // clear 422 before libheif allocates anything for pixels.
    let p = probe(&bytes, &Limits::default()).unwrap();
    let r = verify(&bytes, &p, &Limits::default());
    assert!(matches!(r, Err(MediaError::TooBigToDecode { .. })), "{r:?}");
    assert_eq!(budget::decode_memory_in_use(), 0);
}
