//! Near-duplicate detection on real photos: a blocked photo is caught after
//! resizing, re-encoding, a 5 % crop and a brightness change, while every
//! other fixture is not.

use image::{DynamicImage, GenericImageView};
use photostream_moderation::{hamming, phash, BkTree};

/// At most this many of 64 bits may differ for a match.
const RADIUS: u32 = 10;

use photostream_testkit::fixtures_dir;

/// Decodes a fixture the way the pipeline does (upright, first frame).
fn load(name: &str) -> Option<DynamicImage> {
    let bytes = std::fs::read(fixtures_dir().join(name)).unwrap();
    let limits = photostream_media::Limits::default();
    let p = photostream_media::probe(&bytes, &limits).ok()?;
    photostream_media::verify(&bytes, &p, &limits).ok()?;
    let mut img = image::load_from_memory(&bytes).ok()?;
    img.apply_orientation(image::metadata::Orientation::from_exif(p.orientation)?);
    Some(img)
}

fn reencode_jpeg(img: &DynamicImage, quality: u8) -> DynamicImage {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality).encode_image(&img.to_rgb8()).unwrap();
    image::load_from_memory(&out).unwrap()
}

fn brighten(img: &DynamicImage, by: i32) -> DynamicImage {
    let mut rgb = img.to_rgb8();
    for p in rgb.pixels_mut() {
        for c in &mut p.0 {
            *c = (*c as i32 + by).clamp(0, 255) as u8;
        }
    }
    DynamicImage::ImageRgb8(rgb)
}

fn crop_5_percent(img: &DynamicImage) -> DynamicImage {
    let (w, h) = img.dimensions();
    let (dx, dy) = (w * 5 / 200, h * 5 / 200); // 2.5 % off each side: 5 % of each dimension
    img.crop_imm(dx, dy, w - 2 * dx, h - 2 * dy)
}

#[test]
fn a_blocked_photo_is_caught_in_disguise_and_others_are_not() {
    let blocked = load("jpeg-exif-12mp-olympus.jpg").unwrap();
    let mut blocklist = BkTree::new();
    blocklist.insert(phash(&blocked), "olympus");

    let variants = [
        ("resized to 800 px", blocked.resize(800, 800, image::imageops::FilterType::Triangle)),
        ("re-encoded at quality 40", reencode_jpeg(&blocked.resize(1600, 1600, image::imageops::FilterType::Triangle), 40)),
        ("cropped 5 %", crop_5_percent(&blocked)),
        ("brightened +40", brighten(&blocked.resize(1200, 1200, image::imageops::FilterType::Triangle), 40)),
        ("darkened -40, resized, re-encoded", reencode_jpeg(&brighten(&blocked.resize(640, 640, image::imageops::FilterType::Triangle), -40), 70)),
    ];
    for (what, img) in &variants {
        let (found, _) = blocklist.find(phash(img), RADIUS);
        assert_eq!(found.len(), 1, "{what}: distance {}", hamming(phash(img), phash(&blocked)));
    }

    let manifest = std::fs::read_to_string(fixtures_dir().join("MANIFEST.tsv")).unwrap();
    let mut checked = 0;
    for line in manifest.lines().skip(1) {
        let file = line.split('\t').next().unwrap();
        if file == "jpeg-exif-12mp-olympus.jpg" {
            continue;
        }
        let Some(img) = load(file) else { continue }; // refused or unsupported formats
        let d = hamming(phash(&img), phash(&blocked));
        assert!(d > RADIUS, "{file} is unrelated but only {d} bits away");
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} fixtures compared");
}
