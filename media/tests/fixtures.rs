//! Every fixture in `shared/fixtures/images/MANIFEST.tsv` through probe,
//! verify and thumbnail, checked against what the manifest says it should do.

use image::GenericImageView;
use photostream_media::{probe, thumbnail, verify, Format, Limits, MediaError};

use photostream_testkit::fixtures_dir;

struct Row {
    file: String,
    width: Option<u32>,
    height: Option<u32>,
    valid: bool,
}

fn manifest() -> Vec<Row> {
    let text = std::fs::read_to_string(fixtures_dir().join("MANIFEST.tsv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            Row {
                file: c[0].to_string(),
                width: c[2].parse().ok(),
                height: c[3].parse().ok(),
                valid: c[5] == "yes",
            }
        })
        .collect()
}

fn process(bytes: &[u8]) -> Result<(photostream_media::Probe, photostream_media::Thumbnail), MediaError> {
    let limits = Limits::default();
    let p = probe(bytes, &limits)?;
    verify(bytes, &p, &limits)?;
    let t = thumbnail(bytes, &p, 50, &limits)?;
    Ok((p, t))
}

#[test]
fn every_fixture_does_what_the_manifest_says() {
    let rows = manifest();
    assert!(rows.len() >= 30, "manifest looks short");
    for row in rows {
        let bytes = std::fs::read(fixtures_dir().join(&row.file)).unwrap();
        let result = process(&bytes);
        if !row.valid {
            assert!(result.is_err(), "{} should be refused", row.file);
            continue;
        }
        let sniffed = Format::sniff(&bytes).unwrap();
        if !sniffed.supported() {
            // Only HEIC and AVIF depend on the machine (libheif); CI has it
            // (scripts/test installs libheif1), so there they are decoded.
            assert!(std::env::var_os("CI").is_none(), "{}: libheif is missing in CI", row.file);
            assert!(
                matches!(result.unwrap_err(), MediaError::NoDecoder(name, _) if name == sniffed.name()),
                "{}",
                row.file
            );
            continue;
        }
        let (p, t) = result.unwrap_or_else(|e| panic!("{}: {e}", row.file));
        assert_eq!((Some(p.width), Some(p.height)), (row.width, row.height), "{}", row.file);
        let (dw, dh) = p.display_size();
        let img = image::load_from_memory(&t.bytes).unwrap();
        assert_eq!(img.dimensions(), (t.width, t.height), "{}", row.file);
        assert_eq!(t.width, dw.min(50), "{}: thumbnail width", row.file);
        let expected_h = (dh as f64 * t.width as f64 / dw as f64).round() as u32;
        assert!(t.height.abs_diff(expected_h.max(1)) <= 1, "{}: aspect", row.file);
        // Nothing ever comes out black where the source was not.
        // Transparent pixels are judged as they show on a white page.
        let mean: f64 = img
            .to_rgba8()
            .pixels()
            .map(|p| {
                let a = p.0[3] as f64 / 255.0;
                p.0[..3].iter().map(|&c| c as f64 * a + 255.0 * (1.0 - a)).sum::<f64>()
            })
            .sum::<f64>()
            / (3.0 * t.width as f64 * t.height as f64);
        assert!(mean > 10.0, "{}: thumbnail is (nearly) black: mean {mean}", row.file);
    }
}

/// The eight orientation fixtures show the same scene stored eight ways;
/// upright thumbnails of all of them must look like orientation 1's.
#[test]
fn all_eight_exif_orientations_come_out_upright() {
    let load = |n: u8| {
        let bytes =
            std::fs::read(fixtures_dir().join(format!("jpeg-exif-orient{n}-landscape.jpg"))).unwrap();
        let (p, t) = process(&bytes).unwrap();
        assert_eq!(p.orientation, n);
        image::load_from_memory(&t.bytes).unwrap().to_rgb8()
    };
    let reference = load(1);
    assert_eq!(reference.dimensions(), (50, 38));
    if std::env::var_os("PHOTOSTREAM_DUMP_THUMBS").is_some() {
        for n in 1..=8 {
            load(n).save(format!("/tmp/orient{n}.png")).unwrap();
        }
    }
    for n in 2..=8 {
        let img = load(n);
        assert_eq!(img.dimensions(), reference.dimensions(), "orientation {n}");
        let diff: f64 = img
            .pixels()
            .zip(reference.pixels())
            .map(|(a, b)| a.0.iter().zip(b.0.iter()).map(|(x, y)| (*x as f64 - *y as f64).abs()).sum::<f64>())
            .sum::<f64>()
            / (3.0 * 50.0 * 38.0);
        // Each fixture prints its own number on the scene (about 14 per
        // channel of difference); a mirrored or flipped result differs by 40+.
        assert!(diff < 25.0, "orientation {n} differs from upright by {diff:.1} per channel");
    }
}

#[test]
fn decompression_bomb_is_refused_before_allocating() {
    let bytes = std::fs::read(fixtures_dir().join("bad-bomb-65535x66601.gif")).unwrap();
    let err = probe(&bytes, &Limits::default()).unwrap_err();
    assert!(matches!(err, MediaError::TooLarge { .. } | MediaError::Corrupt(_)), "{err:?}");
}

#[test]
fn twelve_megapixel_jpeg_takes_the_scaled_path() {
    let bytes = std::fs::read(fixtures_dir().join("jpeg-exif-12mp-olympus.jpg")).unwrap();
    let (_, t) = process(&bytes).unwrap();
    assert_eq!((t.width, t.height), (50, 38));
    assert_eq!(t.ext, "jpg");
    // No EXIF survives into the thumbnail (GPS, camera, orientation).
    assert!(!t.bytes.windows(4).any(|w| w == b"Exif"));
}
