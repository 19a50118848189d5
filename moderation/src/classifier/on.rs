//! The tract-onnx implementation (feature `classifier`).

use std::collections::BTreeMap;
use std::path::Path;

use image::DynamicImage;
use tract_onnx::prelude::*;

use super::{ClassifierConfig, ClassifierError};

type Plan = std::sync::Arc<TypedRunnableModel>;

/// A loaded detector.
pub struct Classifier {
    plan: Plan,
    size: u32,
    labels: Vec<String>,
    thresholds: BTreeMap<String, f64>,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier").field("size", &self.size).field("labels", &self.labels.len()).finish()
    }
}

impl Classifier {
    /// Loads the configured model; `None` when no model is configured.
    pub fn from_config(config: &ClassifierConfig) -> Result<Option<Self>, ClassifierError> {
        if config.model.is_empty() {
            return Ok(None);
        }
        if config.input_size < 32 || config.input_size > 2048 {
            return Err(ClassifierError::Config("input_size must be between 32 and 2048".into()));
        }
        if config.labels.is_empty() {
            return Err(ClassifierError::Config("labels must list the model's classes".into()));
        }
        if let Some(unknown) = config.thresholds.keys().find(|k| !config.labels.contains(k)) {
            return Err(ClassifierError::Config(format!("threshold for unknown label {unknown:?}")));
        }
        let plan = load(Path::new(&config.model), config.input_size).map_err(|e| ClassifierError::Load {
            path: config.model.clone(),
            error: format!("{e:#}"),
        })?;
        let classifier = Self {
            plan,
            size: config.input_size,
            labels: config.labels.clone(),
            thresholds: config.thresholds.clone(),
        };
        // One dry run: a model whose output does not fit the labels fails
        // at start-up, not on the first upload.
        classifier.scores(&DynamicImage::new_rgb8(8, 8))?;
        Ok(Some(classifier))
    }

    pub fn input_size(&self) -> u32 {
        self.size
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    pub fn thresholds(&self) -> &BTreeMap<String, f64> {
        &self.thresholds
    }

    /// Each label's highest score over all anchors, in label order.
    pub fn scores(&self, img: &DynamicImage) -> Result<Vec<f32>, ClassifierError> {
        let input = preprocess(img, self.size);
        let s = self.size as usize;
        let tensor: Tensor = tract_ndarray::Array4::from_shape_vec((1, 3, s, s), input)
            .map_err(|e| ClassifierError::Inference(e.to_string()))?
            .into();
        let out = self
            .plan
            .run(tvec!(tensor.into()))
            .map_err(|e| ClassifierError::Inference(format!("{e:#}")))?;
        let view = out[0].to_plain_array_view::<f32>().map_err(|e| ClassifierError::Inference(format!("{e:#}")))?;
        let shape = view.shape().to_vec();
        let classes = self.labels.len();
        if shape.len() != 3 || shape[0] != 1 || shape[1] != 4 + classes {
            return Err(ClassifierError::Inference(format!(
                "output shape {shape:?} does not fit {classes} labels (expected [1, {}, anchors])",
                4 + classes
            )));
        }
        Ok((0..classes)
            .map(|c| view.slice(tract_ndarray::s![0, 4 + c, ..]).iter().copied().fold(0.0f32, f32::max))
            .collect())
    }
}

fn load(path: &Path, size: u32) -> TractResult<Plan> {
    let s = size as usize;
    tract_onnx::onnx()
        .with_ignore_value_info(true)
        .with_ignore_output_shapes(true)
        .model_for_path(path)?
        .with_input_fact(0, f32::fact([1, 3, s, s]).into())?
        .into_optimized()?
        .into_runnable()
}

/// NudeNet's preprocessing, exactly: [`resized_bgr`] as planar B, G, R
/// floats in 0..1 (NCHW).
pub fn preprocess(img: &DynamicImage, size: u32) -> Vec<f32> {
    let resized = resized_bgr(img, size);
    let n = size as usize;
    let mut out = vec![0f32; 3 * n * n];
    let scale = 1.0f32 / 255.0;
    for (i, px) in resized.chunks_exact(3).enumerate() {
        for c in 0..3 {
            out[c * n * n + i] = px[c] as f32 * scale;
        }
    }
    out
}

/// The upright image pasted at the top left of a black square of side
/// max(w, h) and resized to `size`×`size` with OpenCV's fixed-point
/// INTER_LINEAR: interleaved B, G, R bytes (NudeNet feeds the model BGR).
pub fn resized_bgr(img: &DynamicImage, size: u32) -> Vec<u8> {
    let rgb = to_rgb8_high_byte(img);
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    let raw = rgb.as_raw();
    let pixel = |x: usize, y: usize, c: usize| -> i32 {
        if x < w && y < h {
            // c counts B, G, R.
            raw[(y * w + x) * 3 + (2 - c)] as i32
        } else {
            0
        }
    };
    resize_linear_u8(w.max(h), size as usize, pixel)
}

/// 8-bit RGB the way OpenCV's `imread` makes it: alpha dropped, 16-bit
/// samples reduced to their high byte.
fn to_rgb8_high_byte(img: &DynamicImage) -> image::RgbImage {
    match img {
        DynamicImage::ImageRgb16(_) | DynamicImage::ImageRgba16(_) | DynamicImage::ImageLuma16(_) | DynamicImage::ImageLumaA16(_) => {
            let wide = img.to_rgb16();
            image::RgbImage::from_fn(wide.width(), wide.height(), |x, y| {
                let p = wide.get_pixel(x, y).0;
                image::Rgb([(p[0] >> 8) as u8, (p[1] >> 8) as u8, (p[2] >> 8) as u8])
            })
        }
        other => other.to_rgb8(),
    }
}

/// Interpolation taps for one axis: (first source index, weight0, weight1)
/// per output index, in OpenCV's 11-bit fixed point. `clamp_coeffs` is
/// OpenCV's x-axis treatment; the y axis keeps the fraction and clamps rows.
fn taps(src: usize, dst: usize, clamp_coeffs: bool) -> Vec<(i64, i32, i32)> {
    let scale = 1.0f64 / (dst as f64 / src as f64);
    (0..dst)
        .map(|d| {
            let mut f = ((d as f64 + 0.5) * scale - 0.5) as f32;
            let mut s = f.floor() as i64;
            f -= s as f32;
            if clamp_coeffs {
                if s < 0 {
                    s = 0;
                    f = 0.0;
                }
                if s >= src as i64 - 1 {
                    s = src as i64 - 1;
                    f = 0.0;
                }
            }
            let w0 = ((1.0 - f) * 2048.0).round_ties_even() as i32;
            let w1 = (f * 2048.0).round_ties_even() as i32;
            (s, w0, w1)
        })
        .collect()
}

/// OpenCV `resize(INTER_LINEAR)` of a `side`×`side` 3-channel u8 image to
/// `n`×`n`, bit for bit (its SIMD vertical pass included).
fn resize_linear_u8(side: usize, n: usize, pixel: impl Fn(usize, usize, usize) -> i32) -> Vec<u8> {
    let xs = taps(side, n, true);
    let ys = taps(side, n, false);
    let last = side as i64 - 1;
    let clamp = |i: i64| i.clamp(0, last) as usize;
    // Horizontal pass for one source row.
    let hrow = |r: usize| -> Vec<i32> {
        let mut row = Vec::with_capacity(n * 3);
        for &(sx, w0, w1) in &xs {
            let (x0, x1) = (clamp(sx), clamp(sx + 1));
            for c in 0..3 {
                row.push(pixel(x0, r, c) * w0 + pixel(x1, r, c) * w1);
            }
        }
        row
    };
    let mut cache: BTreeMap<usize, Vec<i32>> = BTreeMap::new();
    let mut out = Vec::with_capacity(n * n * 3);
    for &(sy, w0, w1) in &ys {
        let (r0, r1) = (clamp(sy), clamp(sy + 1));
        for r in [r0, r1] {
            cache.entry(r).or_insert_with(|| hrow(r));
        }
        // Rows above r0 are never needed again.
        while cache.keys().next().is_some_and(|&k| k < r0) {
            cache.pop_first();
        }
        let (a, b) = (&cache[&r0], &cache[&r1]);
        for i in 0..n * 3 {
            let t0 = ((a[i] >> 4) * w0) >> 16;
            let t1 = ((b[i] >> 4) * w1) >> 16;
            out.push(((t0 + t1 + 2) >> 2).clamp(0, 255) as u8);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_keeps_flat_images_flat_and_pads_black() {
        let img = DynamicImage::ImageRgb8(image::RgbImage::from_pixel(100, 50, image::Rgb([200, 100, 50])));
        let t = preprocess(&img, 32);
        let n = 32 * 32;
        // Top-left: the image (blue plane first).
        assert!((t[0] - 50.0 / 255.0).abs() < 1e-6);
        assert!((t[n] - 100.0 / 255.0).abs() < 1e-6);
        assert!((t[2 * n] - 200.0 / 255.0).abs() < 1e-6);
        // Bottom rows: the black padding.
        assert_eq!(t[31 * 32], 0.0);
    }
}
