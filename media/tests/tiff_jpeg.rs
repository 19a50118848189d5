//! Baseline TIFF 6.0 with JPEG compression and YCbCr photometric
//! interpretation (what scanners and Photoshop write). The file
//! `data/tiff-jpeg-ycbcr.tif` was made for this test with Pillow from the
//! shared fixture `jpeg-exif-orient1-landscape.jpg` (see its MANIFEST line
//! for source and licence): resized to 160×120, saved YCbCr, JPEG-compressed.

use photostream_media::{probe, thumbnail, verify, Limits};

#[test]
fn a_jpeg_compressed_ycbcr_tiff_is_accepted_and_thumbnailed() {
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tiff-jpeg-ycbcr.tif")).unwrap();
    let limits = Limits::default();
    let p = probe(&bytes, &limits).expect("probe");
    assert_eq!((p.width, p.height), (160, 120));
    verify(&bytes, &p, &limits).expect("verify");
    let t = thumbnail(&bytes, &p, 50, &limits).expect("thumbnail");
    assert_eq!((t.width, t.height), (50, 38));
    // Colours survive (not a green or magenta cast from YCbCr read as RGB):
    // compare with the source JPEG's own thumbnail.
    let src = std::fs::read(format!("{}/jpeg-exif-orient1-landscape.jpg", fixtures())).unwrap();
    let sp = probe(&src, &limits).unwrap();
    let st = thumbnail(&src, &sp, 50, &limits).unwrap();
    let a = image::load_from_memory(&t.bytes).unwrap().to_rgb8();
    let b = image::load_from_memory(&st.bytes).unwrap().to_rgb8();
    let diff: u64 = a.pixels().zip(b.pixels()).map(|(x, y)| (0..3).map(|c| (x[c] as i64 - y[c] as i64).unsigned_abs()).sum::<u64>()).sum();
    let mean = diff as f64 / (a.width() * a.height() * 3) as f64;
    assert!(mean < 12.0, "mean channel difference {mean}");
}

fn fixtures() -> String {
    std::env::var("FIXTURES_DIR").unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/images").into())
}
