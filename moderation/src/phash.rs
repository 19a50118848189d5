//! DCT perceptual hash (pHash).
//!
//! The image is reduced to 32×32 luminance, transformed with a 2-D DCT-II,
//! and the 8×8 lowest frequencies (without the DC term) are compared with
//! their median: one bit each. Low frequencies describe the picture's
//! overall structure, which survives resizing, re-encoding, small crops and
//! brightness or colour shifts; the median threshold makes the hash
//! independent of overall brightness.

use image::imageops::FilterType;
use image::DynamicImage;

/// A 64-bit perceptual hash.
pub type PHash = u64;

const N: usize = 32;
const K: usize = 8;

/// The perceptual hash of a decoded (upright) image.
pub fn phash(img: &DynamicImage) -> PHash {
    dihedral_phashes(img)[0]
}

/// The hashes of the image's eight dihedral variants, the image itself
/// first: mirrored, and rotated by 90°, 180° and 270°, each also mirrored
/// (as PDQ does). A copy that lost its EXIF orientation (stored sideways)
/// or was mirrored has one of these as its own hash. They come from one
/// DCT: mirroring a square image negates the odd frequencies along its
/// axis, transposing it swaps the axes, so each variant is a sign pattern
/// and/or a transpose of the same 8×8 coefficients.
pub fn dihedral_phashes(img: &DynamicImage) -> [PHash; 8] {
    let c = low_frequencies(img);
    let mut out = [0; 8];
    let mut i = 0;
    for transpose in [false, true] {
        for (flip_x, flip_y) in [(false, false), (true, false), (false, true), (true, true)] {
            let mut coeffs = Vec::with_capacity(K * K - 1);
            for v in 0..K {
                for u in 0..K {
                    if u == 0 && v == 0 {
                        continue;
                    }
                    let (cu, cv) = if transpose { (v, u) } else { (u, v) };
                    let mut x = c[cv * K + cu];
                    if flip_x && u % 2 == 1 {
                        x = -x;
                    }
                    if flip_y && v % 2 == 1 {
                        x = -x;
                    }
                    coeffs.push(x);
                }
            }
            out[i] = bits(&coeffs);
            i += 1;
        }
    }
    out
}

/// The 8×8 lowest DCT-II frequencies of the 32×32 luminance, `[v * K + u]`.
fn low_frequencies(img: &DynamicImage) -> Vec<f64> {
    let small = img.resize_exact(N as u32, N as u32, FilterType::Triangle).to_luma8();
    let pixels: Vec<f64> = small.pixels().map(|p| p.0[0] as f64).collect();
    // Separable 2-D DCT-II, keeping only the K lowest frequencies per axis.
    let cos: Vec<f64> = (0..K)
        .flat_map(|u| (0..N).map(move |x| (std::f64::consts::PI * (2 * x + 1) as f64 * u as f64 / (2 * N) as f64).cos()))
        .collect();
    let mut rows = vec![0.0; N * K]; // rows[y * K + u]
    for y in 0..N {
        for u in 0..K {
            rows[y * K + u] = (0..N).map(|x| pixels[y * N + x] * cos[u * N + x]).sum();
        }
    }
    let mut c = vec![0.0; K * K];
    for v in 0..K {
        for u in 0..K {
            c[v * K + u] = (0..N).map(|y| rows[y * K + u] * cos[v * N + y]).sum::<f64>();
        }
    }
    c
}

/// One bit per coefficient: above the median or not.
fn bits(coeffs: &[f64]) -> PHash {
    let mut sorted = coeffs.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    coeffs
        .iter()
        .enumerate()
        .fold(0u64, |h, (i, c)| if *c > median { h | (1 << i) } else { h })
}

/// Bits in which two hashes differ.
pub fn hamming(a: PHash, b: PHash) -> u32 {
    (a ^ b).count_ones()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A textured synthetic scene (real photos are tested in tests/).
    fn scene(w: u32, h: u32, flip: bool) -> DynamicImage {
        DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| {
            let fx = if flip { (w - 1 - x) as f64 / w as f64 } else { x as f64 / w as f64 };
            let fy = y as f64 / h as f64;
            let v = 128.0 + 60.0 * (fx * 7.0).sin() * (fy * 3.0).cos() + 50.0 * (fx * 2.0 + fy * 5.0).sin() + 40.0 * fx;
            let v = v.clamp(0.0, 255.0) as u8;
            image::Rgb([v, v, v])
        }))
    }

    #[test]
    fn every_dihedral_variant_hashes_to_one_of_the_eight() {
        let img = scene(640, 480, false);
        let variants = dihedral_phashes(&img);
        assert_eq!(variants[0], phash(&img));
        let transformed = [
            img.fliph(),
            img.flipv(),
            img.rotate90(),
            img.rotate180(),
            img.rotate270(),
            img.rotate90().fliph(),
            img.rotate90().flipv(),
        ];
        for (i, t) in transformed.iter().enumerate() {
            let h = phash(t);
            let best = variants.iter().map(|v| hamming(*v, h)).min().unwrap();
            assert!(best <= 4, "transform {i}: {best} bits from the nearest variant");
        }
        // An unrelated picture is far from all of them.
        let other = phash(&DynamicImage::ImageRgb8(image::RgbImage::from_fn(640, 480, |x, y| {
            let v = ((x / 40 + y / 30) % 2 * 200 + 20) as u8;
            image::Rgb([v, v, v])
        })));
        assert!(variants.iter().all(|v| hamming(*v, other) > 12));
    }

    #[test]
    fn stable_under_resize_and_distinct_when_mirrored() {
        let a = phash(&scene(640, 480, false));
        let b = phash(&scene(320, 240, false));
        let c = phash(&scene(640, 480, true));
        assert!(hamming(a, b) <= 4, "{}", hamming(a, b));
        assert!(hamming(a, c) > 20, "{}", hamming(a, c));
    }
}
