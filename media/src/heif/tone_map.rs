//! HDR to SDR: a 10/12-bit PQ or HLG image (BT.2020, Display P3 or BT.709
//! primaries) tone-mapped to 8-bit sRGB, since libheif would only shift the
//! bits (flat, washed-out results).

use std::ffi::c_int;

use image::{DynamicImage, RgbImage, RgbaImage};

// Transfer characteristics and colour primaries as `nclx` (ITU-T H.273) codes them.
pub(super) const TRANSFER_PQ: c_int = 16;
pub(super) const TRANSFER_HLG: c_int = 18;
const PRIMARIES_BT2020: c_int = 9;
const PRIMARIES_P3_D65: c_int = 12;

/// The colour primaries of an HDR image, for its luminance weights and the
/// conversion to BT.709/sRGB primaries.
#[derive(Clone, Copy, PartialEq, Debug)]
pub(super) enum Primaries {
    Bt709,
    Bt2020,
    /// Display P3 (SMPTE EG 432-1), as Apple and Android phones write.
    P3,
}

impl Primaries {
    pub(super) fn from_nclx(code: c_int) -> Self {
        match code {
            PRIMARIES_BT2020 => Primaries::Bt2020,
            PRIMARIES_P3_D65 => Primaries::P3,
            _ => Primaries::Bt709,
        }
    }

    /// Luminance weights (the Y row of RGB → XYZ).
    fn luma(self) -> (f32, f32, f32) {
        match self {
            Primaries::Bt709 => (0.2126, 0.7152, 0.0722),
            Primaries::Bt2020 => (0.2627, 0.6780, 0.0593),
            Primaries::P3 => (0.2290, 0.6917, 0.0793),
        }
    }

    /// Linear RGB in these primaries → linear BT.709 RGB (same D65 white).
    fn to_bt709(self, (r, g, b): (f32, f32, f32)) -> (f32, f32, f32) {
        match self {
            Primaries::Bt709 => (r, g, b),
            Primaries::Bt2020 => (
                1.6605 * r - 0.5876 * g - 0.0728 * b,
                -0.1246 * r + 1.1329 * g - 0.0083 * b,
                -0.0182 * r - 0.1006 * g + 1.1187 * b,
            ),
            Primaries::P3 => (
                1.2249 * r - 0.2247 * g,
                -0.0420 * r + 1.0419 * g,
                -0.0197 * r - 0.0786 * g + 1.0979 * b,
            ),
        }
    }
}

/// ITU-R BT.2408 reference white: the HDR level an SDR white maps to.
const REFERENCE_WHITE_NITS: f32 = 203.0;

/// Tone-maps 16-bit little-endian RGB(A) samples holding `bits`-bit PQ or
/// HLG code values (BT.2020, Display P3 or BT.709 primaries) to 8-bit sRGB: the
/// transfer is undone to display light in nits, scaled so reference white
/// (203 nits) is SDR white, highlights up to the content's peak (its
/// MaxCLL, else 1000 nits) are rolled off on luminance ([`roll_off`], hue
/// kept), wide gamuts are converted to BT.709 primaries and
/// clipped, and the sRGB curve is applied.
pub(super) fn tone_map(samples: &[u8], w: u32, h: u32, alpha: bool, bits: u32, (transfer, primaries): (c_int, Primaries), max_cll: u16) -> DynamicImage {
    let max_code = ((1u32 << bits) - 1) as usize;
    // Per-code linear light, in units of reference white.
    let lut: Vec<f32> = (0..=max_code)
        .map(|v| {
            let e = v as f32 / max_code as f32;
            match transfer {
                TRANSFER_PQ => pq_to_nits(e) / REFERENCE_WHITE_NITS,
                _ => hlg_inverse_oetf(e),
            }
        })
        .collect();
    let peak_nits = if max_cll > 0 { max_cll as f32 } else { 1000.0 };
    let l_peak = (peak_nits / REFERENCE_WHITE_NITS).max(1.0);
    let srgb: Vec<u8> = (0..4096)
        .map(|i| {
            let u = i as f32 / 4095.0;
            let s = if u <= 0.003_130_8 { 12.92 * u } else { 1.055 * u.powf(1.0 / 2.4) - 0.055 };
            (s * 255.0 + 0.5).clamp(0.0, 255.0) as u8
        })
        .collect();
    let encode = |u: f32| srgb[(u.clamp(0.0, 1.0) * 4095.0 + 0.5) as usize];
    let channels = if alpha { 4 } else { 3 };
    let mut out = Vec::with_capacity(w as usize * h as usize * channels);
    let code = |px: &[u8], c: usize| (u16::from_le_bytes([px[2 * c], px[2 * c + 1]]) as usize).min(max_code);
    // Luminance weights of the image's own primaries.
    let (kr, kg, kb) = primaries.luma();
    for px in samples.chunks_exact(2 * channels) {
        let (mut r, mut g, mut b) = (lut[code(px, 0)], lut[code(px, 1)], lut[code(px, 2)]);
        if transfer == TRANSFER_HLG {
            // BT.2100 OOTF for a 1000-nit display (system gamma 1.2), then
            // relative to reference white.
            let ys: f32 = kr * r + kg * g + kb * b;
            let gain = 1000.0 * ys.max(0.0).powf(0.2) / REFERENCE_WHITE_NITS;
            (r, g, b) = (r * gain, g * gain, b * gain);
        }
        let y = kr * r + kg * g + kb * b;
        if y > KNEE {
            let k = roll_off(y, l_peak) / y;
            (r, g, b) = (r * k, g * k, b * k);
        }
        (r, g, b) = primaries.to_bt709((r, g, b));
        out.extend_from_slice(&[encode(r), encode(g), encode(b)]);
        if alpha {
            out.push((code(px, 3) * 255 / max_code) as u8);
        }
    }
    if alpha {
        DynamicImage::ImageRgba8(RgbaImage::from_raw(w, h, out).expect("sized above"))
    } else {
        DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, out).expect("sized above"))
    }
}

/// Below this luminance (relative to reference white) light is kept as it
/// is: mid-tones and skin look as the SDR rendition of the same scene.
const KNEE: f32 = 0.5;

/// The highlight shoulder: identity up to [`KNEE`], then an extended
/// Reinhard curve that meets the identity smoothly at the knee and maps the
/// content's peak `l_peak` to SDR white (reference white lands near 0.75,
/// so highlights above it keep some detail instead of clipping).
fn roll_off(y: f32, l_peak: f32) -> f32 {
    if y <= KNEE {
        return y;
    }
    let s = (y - KNEE) / (1.0 - KNEE);
    let s_peak = ((l_peak - KNEE) / (1.0 - KNEE)).max(1.0);
    KNEE + (1.0 - KNEE) * s * (1.0 + s / (s_peak * s_peak)) / (1.0 + s)
}

/// SMPTE ST 2084 (PQ) EOTF: a code value in 0..1 to display light in nits.
fn pq_to_nits(e: f32) -> f32 {
    const M1: f32 = 0.159_301_76;
    const M2: f32 = 78.843_75;
    const C1: f32 = 0.835_937_5;
    const C2: f32 = 18.851_563;
    const C3: f32 = 18.6875;
    let p = e.max(0.0).powf(1.0 / M2);
    10_000.0 * ((p - C1).max(0.0) / (C2 - C3 * p)).powf(1.0 / M1)
}

/// BT.2100 HLG inverse OETF: a code value in 0..1 to scene light in 0..1.
fn hlg_inverse_oetf(e: f32) -> f32 {
    const A: f32 = 0.178_832_77;
    const B: f32 = 0.284_668_92;
    const C: f32 = 0.559_910_7;
    if e <= 0.5 {
        e * e / 3.0
    } else {
        (((e - C) / A).exp() + B) / 12.0
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::c_int;

    use super::*;

    #[test]
    fn pq_reference_points() {
        // PQ code 0.58 is about reference white; 1.0 is 10,000 nits.
        assert!((pq_to_nits(0.5806) - 203.0).abs() < 3.0, "{}", pq_to_nits(0.5806));
        assert!((pq_to_nits(1.0) - 10_000.0).abs() < 1.0);
        assert_eq!(pq_to_nits(0.0), 0.0);
    }

    #[test]
    fn hlg_reference_points() {
        assert!((hlg_inverse_oetf(0.5) - 1.0 / 12.0).abs() < 1e-6);
        assert!((hlg_inverse_oetf(1.0) - 1.0).abs() < 1e-3);
    }

    fn one_pixel(transfer: c_int, code: u16) -> [u8; 3] {
        let s = code.to_le_bytes();
        let samples = [s[0], s[1], s[0], s[1], s[0], s[1]];
        let img = tone_map(&samples, 1, 1, false, 10, (transfer, Primaries::Bt2020), 0);
        img.to_rgb8().get_pixel(0, 0).0
    }

    #[test]
    fn reference_white_is_near_sdr_white_and_black_stays_black() {
        // PQ 203 nits (10-bit code ≈ 594) and HLG 75 % (code ≈ 767).
        for (transfer, code) in [(TRANSFER_PQ, 594), (TRANSFER_HLG, 767)] {
            let [r, g, b] = one_pixel(transfer, code);
            assert!((200..250).contains(&r), "{transfer}: {r} {g} {b}");
            assert!(r.abs_diff(g) <= 1 && g.abs_diff(b) <= 1, "grey stays grey: {r} {g} {b}");
            assert_eq!(one_pixel(transfer, 0), [0, 0, 0]);
        }
        // Brighter than reference white rolls off below clipping, up to the
        // peak; beyond it, white.
        let [top, ..] = one_pixel(TRANSFER_PQ, 1023);
        assert_eq!(top, 255);
        let [bright, ..] = one_pixel(TRANSFER_PQ, 700);
        assert!(bright > one_pixel(TRANSFER_PQ, 594)[0] && bright < 255, "{bright}");
        // Mid-grey (18 % of reference white, PQ code ≈ 390) is kept.
        let [grey, ..] = one_pixel(TRANSFER_PQ, 390);
        assert!((100..140).contains(&grey), "{grey}");
    }

    #[test]
    fn white_stays_white_in_every_gamut() {
        for p in [Primaries::Bt709, Primaries::Bt2020, Primaries::P3] {
            let (r, g, b) = p.to_bt709((1.0, 1.0, 1.0));
            assert!((r - 1.0).abs() < 2e-3 && (g - 1.0).abs() < 2e-3 && (b - 1.0).abs() < 2e-3, "{p:?}: {r} {g} {b}");
            let (kr, kg, kb) = p.luma();
            assert!((kr + kg + kb - 1.0).abs() < 1e-3, "{p:?}");
        }
    }
}
