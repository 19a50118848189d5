//! The pluggable image classifier: a YOLOv8-style ONNX detector described
//! in config (model path, input size, labels, per-label thresholds), run
//! in-process with `tract-onnx` when photostream is built with the
//! `classifier` cargo feature.
//!
//! The reference model is NudeNet's `320n.onnx` (AGPL-3.0, fetched by
//! `scripts/fetch-classifier-model`, never bundled). Without a model the
//! classifier is off and the service says so.
//!
//! Preprocessing matches NudeNet's own pipeline, which the scores depend
//! on: the upright image in BGR order, resized to fit `input_size` keeping
//! its aspect ratio with OpenCV-style bilinear interpolation (half-pixel
//! centres), padded with black to a square, then resized to the input size,
//! scaled to 0..1, laid out as NCHW. The output `[1, 4 + classes, anchors]`
//! holds per-anchor boxes and class scores; a label's score is its highest
//! score over all anchors.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[cfg(feature = "classifier")]
use crate::policy::Finding;

/// NudeNet 3.4's class list, in model output order.
pub const NUDENET_LABELS: [&str; 18] = [
    "FEMALE_GENITALIA_COVERED",
    "FACE_FEMALE",
    "BUTTOCKS_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_BREAST_EXPOSED",
    "ANUS_EXPOSED",
    "FEET_EXPOSED",
    "BELLY_COVERED",
    "FEET_COVERED",
    "ARMPITS_COVERED",
    "ARMPITS_EXPOSED",
    "FACE_MALE",
    "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "ANUS_COVERED",
    "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
];

/// Config section `[moderation.classifier]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClassifierConfig {
    /// Path of the ONNX model; empty: no classifier.
    pub model: String,
    /// The model's square input size in pixels.
    pub input_size: u32,
    /// Class labels in the model's output order.
    pub labels: Vec<String>,
    /// Labels that count, with the score at or above which they are
    /// reported; the finding's score is the model's, so the policy's
    /// `hold_at` / `reject_at` then decide. Labels not listed are ignored.
    pub thresholds: BTreeMap<String, f64>,
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        let thresholds = [
            ("FEMALE_GENITALIA_EXPOSED", 0.5),
            ("MALE_GENITALIA_EXPOSED", 0.5),
            ("ANUS_EXPOSED", 0.5),
            ("FEMALE_BREAST_EXPOSED", 0.5),
            ("BUTTOCKS_EXPOSED", 0.6),
        ];
        Self {
            model: String::new(),
            input_size: 320,
            labels: NUDENET_LABELS.iter().map(|l| l.to_string()).collect(),
            thresholds: thresholds.iter().map(|(l, t)| (l.to_string(), *t)).collect(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClassifierError {
    #[error("moderation.classifier.model is set but this build has no classifier: rebuild with `--features classifier`")]
    NotBuilt,
    #[error("moderation.classifier: {0}")]
    Config(String),
    #[error("cannot load the classifier model {path}: {error}")]
    Load { path: String, error: String },
    #[error("classifier inference failed: {0}")]
    Inference(String),
}

#[cfg(not(feature = "classifier"))]
pub use off::Classifier;

#[cfg(not(feature = "classifier"))]
mod off {
    use super::*;

    /// Built without the `classifier` feature: never loaded.
    pub enum Classifier {}

    impl Classifier {
        pub fn from_config(config: &ClassifierConfig) -> Result<Option<Self>, ClassifierError> {
            if config.model.is_empty() {
                Ok(None)
            } else {
                Err(ClassifierError::NotBuilt)
            }
        }

        pub fn input_size(&self) -> u32 {
            match *self {}
        }

        pub fn findings(&self, _img: &image::DynamicImage) -> Result<Vec<crate::policy::Finding>, ClassifierError> {
            match *self {}
        }
    }
}

#[cfg(feature = "classifier")]
pub use on::{preprocess, resized_bgr, Classifier};

#[cfg(feature = "classifier")]
mod on;

#[cfg(feature = "classifier")]
impl Classifier {
    /// Findings for the labels whose best score reaches their threshold.
    pub fn findings(&self, img: &image::DynamicImage) -> Result<Vec<Finding>, ClassifierError> {
        let scores = self.scores(img)?;
        Ok(self
            .labels()
            .iter()
            .zip(scores)
            .filter_map(|(label, score)| {
                let t = *self.thresholds().get(label)?;
                (score as f64 >= t).then(|| Finding::new("classifier", score as f64, format!("{label} {score:.2}")))
            })
            .collect())
    }
}
