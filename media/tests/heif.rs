//! HEIC and AVIF through libheif: the shared phone fixtures, small files of
//! our own (`tests/data/make-heif.py`), an HDR (PQ, 10-bit) AVIF, and
//! damaged or oversized files made from the fixtures here.
//!
//! libheif is a run-time dependency (Debian's `libheif1`); CI installs it,
//! so there a missing library fails these tests instead of skipping them.

use std::path::PathBuf;

use image::GenericImageView;
use photostream_media::{decode_upright, probe, thumbnail, verify, Format, Limits, MediaError};

fn fixture(name: &str) -> Vec<u8> {
    let dir = std::env::var_os("FIXTURES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/images"));
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn data(name: &str) -> Vec<u8> {
    std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)).unwrap()
}

/// Whether libheif can be used here; outside CI a machine without it skips
/// these tests, saying so.
fn libheif() -> bool {
    let ok = Format::Heic.supported() && Format::Avif.supported();
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "libheif (Debian libheif1) is missing in CI");
        eprintln!("NOT RUN: libheif is not installed");
    }
    ok
}

fn process(bytes: &[u8]) -> Result<(photostream_media::Probe, photostream_media::Thumbnail), MediaError> {
    let limits = Limits::default();
    let p = probe(bytes, &limits)?;
    verify(bytes, &p, &limits)?;
    let t = thumbnail(bytes, &p, 50, &limits)?;
    Ok((p, t))
}

fn gray16(img: &image::DynamicImage) -> image::GrayImage {
    let h = (img.height() as u64 * 16 / img.width() as u64).max(1) as u32;
    img.resize_exact(16, h, image::imageops::FilterType::Triangle).to_luma8()
}

fn mean_diff(a: &image::GrayImage, b: &image::GrayImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let total: u64 = a.pixels().zip(b.pixels()).map(|(x, y)| x[0].abs_diff(y[0]) as u64).sum();
    total as f64 / (a.width() * a.height()) as f64
}

#[test]
fn iphone_heic_is_upright_from_its_irot_and_stripped() {
    if !libheif() {
        return;
    }
    let bytes = fixture("heic-12mp-iphone13.heic");
    let (p, t) = process(&bytes).unwrap();
    assert_eq!(p.format, Format::Heic);
    // Stored 4032x3024 with irot 270: displayed portrait, and libheif's
    // rotation is the only one (EXIF orientation is informative in HEIF).
    assert_eq!((p.width, p.height, p.orientation), (3024, 4032, 1));
    assert_eq!((t.width, t.height, t.ext), (50, 67, "jpg"));
    assert!(!t.bytes.windows(4).any(|w| w == b"Exif"), "no EXIF (GPS) in the thumbnail");
    let thumb = image::load_from_memory(&t.bytes).unwrap();
    assert_eq!(thumb.dimensions(), (50, 67));
    // The thumbnail came from the file's 240x320 thumbnail item; the full
    // 12 MP decode shows the same upright picture.
    let full = decode_upright(&bytes, &p, 3024, &Limits::default()).unwrap();
    assert_eq!(full.dimensions(), (3024, 4032));
    let d = mean_diff(&gray16(&full), &gray16(&thumb));
    assert!(d < 12.0, "thumbnail item and full decode differ by {d:.1}");
    let mean = thumb.to_luma8().pixels().map(|p| p[0] as f64).sum::<f64>() / (50.0 * 67.0);
    assert!(mean > 10.0, "not black: {mean}");
}

#[test]
fn avif_with_exif_and_small_files_of_both_kinds() {
    if !libheif() {
        return;
    }
    let (p, t) = process(&fixture("avif-exif.avif")).unwrap();
    assert_eq!((p.format, p.width, p.height), (Format::Avif, 1920, 1080));
    assert_eq!((t.width, t.height, t.ext), (50, 28, "jpg"));
    assert!(!t.bytes.windows(4).any(|w| w == b"Exif"));
    for (name, format) in [("heif-small.heic", Format::Heic), ("avif-small.avif", Format::Avif)] {
        let (p, t) = process(&data(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((p.format, p.width, p.height), (format, 160, 120), "{name}");
        assert_eq!((t.width, t.height), (50, 38), "{name}");
    }
}

#[test]
fn hdr_pq_avif_is_tone_mapped_to_look_like_its_sdr_source() {
    if !libheif() {
        return;
    }
    // avif-pq-10bit.avif is jpeg-progressive.jpg re-encoded as 10-bit PQ
    // BT.2020 with SDR white at 203 nits (make-heif.py).
    let (p, t) = process(&data("avif-pq-10bit.avif")).unwrap();
    assert_eq!((p.width, p.height), (320, 240));
    let (_, sdr) = process(&fixture("jpeg-progressive.jpg")).unwrap();
    let hdr = image::load_from_memory(&t.bytes).unwrap();
    let sdr = image::load_from_memory(&sdr.bytes).unwrap();
    let d = mean_diff(&gray16(&hdr), &gray16(&sdr));
    // A plain bit shift of the PQ code values (what libheif alone gives,
    // e.g. `heif-convert`) looks flat and grey: 27 levels off here.
    eprintln!("HDR tone-mapped vs SDR source: {d:.1} levels (mean absolute, 16 px gray)");
    assert!(d < 6.0, "tone-mapped HDR differs from the SDR source by {d:.1} levels");
}

/// Offsets of every `ispe` box's width field declaring `w`x`h`.
fn ispe_offsets(bytes: &[u8], w: u32, h: u32) -> Vec<usize> {
    let mut want = Vec::new();
    want.extend_from_slice(&w.to_be_bytes());
    want.extend_from_slice(&h.to_be_bytes());
    bytes
        .windows(4)
        .enumerate()
        .filter(|(i, win)| *win == b"ispe" && bytes.get(i + 8..i + 16) == Some(&want[..]))
        .map(|(i, _)| i + 8)
        .collect()
}

fn with_declared_size(mut bytes: Vec<u8>, (w, h): (u32, u32), (nw, nh): (u32, u32)) -> Vec<u8> {
    let at = ispe_offsets(&bytes, w, h);
    assert!(!at.is_empty(), "no ispe {w}x{h}");
    for i in at {
        bytes[i..i + 4].copy_from_slice(&nw.to_be_bytes());
        bytes[i + 4..i + 8].copy_from_slice(&nh.to_be_bytes());
    }
    bytes
}

#[test]
fn declared_huge_images_are_refused_from_the_header() {
    if !libheif() {
        return;
    }
    let heic = fixture("heic-12mp-iphone13.heic");
    // Beyond the side limit: libheif itself refuses it while reading.
    let huge = with_declared_size(heic.clone(), (4032, 3024), (40_000, 30_000));
    assert!(matches!(probe(&huge, &Limits::default()), Err(MediaError::TooLarge { .. })));
    // Within the side limit but 400 MP: refused with its size.
    let wide = with_declared_size(heic, (4032, 3024), (20_000, 20_000));
    match probe(&wide, &Limits::default()) {
        Err(MediaError::TooLarge { width: 20_000, height: 20_000, .. }) => {}
        other => panic!("{other:?}"),
    }
    let avif = with_declared_size(fixture("avif-exif.avif"), (1920, 1080), (12_000, 12_000));
    assert!(matches!(probe(&avif, &Limits::default()), Err(MediaError::TooLarge { .. })));
}

#[test]
fn truncated_and_corrupt_files_are_refused() {
    if !libheif() {
        return;
    }
    for name in ["heic-12mp-iphone13.heic", "avif-exif.avif"] {
        let bytes = fixture(name);
        for cut in [bytes.len() / 2, bytes.len() - 100, 40, 13] {
            let r = process(&bytes[..cut]);
            assert!(
                matches!(r, Err(MediaError::Corrupt(_) | MediaError::Unrecognised)),
                "{name} cut at {cut}: {:?}",
                r.map(|(p, _)| p)
            );
        }
        // The box structure overwritten after the file-type box.
        let mut broken = bytes.clone();
        for b in &mut broken[40..400] {
            *b = 0xA5;
        }
        assert!(process(&broken).is_err(), "{name}: broken boxes accepted");
        // Every coded byte inverted: the decoder fails, or at the very least
        // nothing crashes; a failure is a clean client error.
        let mut garbled = bytes.clone();
        let start = garbled.len() - garbled.len() / 3;
        for b in &mut garbled[start..] {
            *b = !*b;
        }
        if let Err(e) = process(&garbled) {
            assert!(matches!(e, MediaError::Corrupt(_)), "{name}: {e:?}");
        }
    }
}

/// A 500-byte AVIF (and a 1.4 KB HEIC) whose `ispe` is patched to say 64x64
/// while the bitstream codes 4096x4096 (2048x2048): libheif alone would
/// decode the big frame; it is refused from the parameter sets instead.
#[test]
fn a_bitstream_larger_than_the_declared_size_is_refused_before_decoding() {
    if !libheif() {
        return;
    }
    for (name, side) in [("avif-flat-4096.avif", 4096), ("heif-flat-2048.heic", 2048)] {
        let honest = data(name);
        let (p, _) = process(&honest).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((p.width, p.height), (side, side), "{name}");
        let lying = with_declared_size(honest, (side, side), (64, 64));
        match probe(&lying, &Limits::default()) {
            Err(MediaError::TooLarge { width, height, .. }) => assert!(width >= side as u64 && height >= side as u64, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
        // Within the side limit but over the pixel limit of a small server.
        let small = Limits { max_pixels: 1_000_000, max_side: 30_000 };
        assert!(matches!(probe(&data(name), &small), Err(MediaError::TooLarge { .. })), "{name}");
    }
}
