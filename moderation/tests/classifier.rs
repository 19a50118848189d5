//! The ONNX classifier on real fixtures, against NudeNet's own Python
//! pipeline (tests/data/nudenet-reference.json). Runs only with the
//! `classifier` feature, and then requires the model: set
//! `CLASSIFIER_MODEL`, or run `scripts/fetch-classifier-model` (the test
//! command does both). A missing model fails the test; it never skips.
#![cfg(feature = "classifier")]

use std::path::PathBuf;

use image::DynamicImage;
use photostream_moderation::classifier::resized_bgr;
use sha2::{Digest, Sha256};
use photostream_moderation::{Classifier, ClassifierConfig};
use serde_json::Value;

fn fixtures_dir() -> PathBuf {
    std::env::var_os("FIXTURES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/images"))
}

fn model() -> String {
    let path = std::env::var("CLASSIFIER_MODEL").unwrap_or_else(|_| {
        let home = std::env::var("HOME").unwrap_or_default();
        format!("{home}/.cache/photostream/models/nudenet-3.4.2-320n.onnx")
    });
    assert!(
        std::path::Path::new(&path).exists(),
        "classifier model not found at {path}: run scripts/fetch-classifier-model or set CLASSIFIER_MODEL"
    );
    path
}

fn classifier() -> Classifier {
    let config = ClassifierConfig { model: model(), ..Default::default() };
    Classifier::from_config(&config).unwrap().expect("a model is configured")
}

/// Decoded in full and upright, as OpenCV's imread gives NudeNet.
fn load(name: &str) -> Option<DynamicImage> {
    let bytes = std::fs::read(fixtures_dir().join(name)).ok()?;
    let limits = photostream_media::Limits::default();
    let probe = photostream_media::probe(&bytes, &limits).ok()?;
    photostream_media::decode_upright(&bytes, &probe, u32::MAX, &limits).ok()
}

fn reference() -> Value {
    serde_json::from_str(include_str!("data/nudenet-reference.json")).unwrap()
}

#[test]
fn scores_match_nudenets_own_pipeline() {
    let c = classifier();
    let reference = reference();
    let labels: Vec<&str> = reference["labels"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    assert_eq!(labels, c.labels(), "the default labels are NudeNet's, in its order");
    let mut compared = 0;
    let mut exact_inputs = 0;
    let mut worst = (0.0f32, String::new());
    for (file, expected) in reference["images"].as_object().unwrap() {
        let Some(img) = load(file) else { continue }; // formats photostream refuses (AVIF)
        if expected["resized_bgr_u8_sha256"].as_str() == Some(hex::encode(Sha256::digest(resized_bgr(&img, 320))).as_str()) {
            exact_inputs += 1;
        } else {
            println!("classifier: model input differs from OpenCV's for {file}");
        }
        let scores = c.scores(&img).unwrap();
        for (i, want) in expected["class_max"].as_array().unwrap().iter().enumerate() {
            let diff = (scores[i] - want.as_f64().unwrap() as f32).abs();
            if diff > worst.0 {
                worst = (diff, format!("{file} {}", labels[i]));
            }
        }
        compared += 1;
    }
    println!("classifier: {compared} fixtures, {exact_inputs} with byte-identical model input, worst score difference {:.4} ({})", worst.0, worst.1);
    assert!(compared >= 20, "only {compared} fixtures compared");
    assert!(worst.0 < 0.01, "scores must match NudeNet's to 2 decimals; worst {:.4} at {}", worst.0, worst.1);
    // JPEG decoders differ by a level here and there (jpeg-decoder vs
    // libjpeg-turbo), as do 16-bit reduction and GIF transparency; every
    // losslessly decoded 8-bit fixture must give OpenCV's exact bytes.
    assert!(exact_inputs >= 10, "preprocessing should reproduce OpenCV's bytes for the lossless fixtures ({exact_inputs}/{compared})");
}

#[test]
fn deterministic_and_benign_photos_pass() {
    let c = classifier();
    let img = load("jpeg-exif-12mp-olympus.jpg").unwrap();
    let a = c.scores(&img).unwrap();
    let b = c.scores(&img).unwrap();
    assert_eq!(a, b, "the same image scores the same every time");
    assert!(c.findings(&img).unwrap().is_empty(), "a benign photo is below every threshold: {a:?}");
    // The pipeline's own path (shrunk on load to the model's size) agrees.
    let bytes = std::fs::read(fixtures_dir().join("jpeg-exif-12mp-olympus.jpg")).unwrap();
    let limits = photostream_media::Limits::default();
    let probe = photostream_media::probe(&bytes, &limits).unwrap();
    let small = photostream_media::decode_upright(&bytes, &probe, c.input_size(), &limits).unwrap();
    let s = c.scores(&small).unwrap();
    let diff = a.iter().zip(&s).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
    assert!(diff < 0.02, "shrink-on-load changes scores by {diff}");
}

#[test]
fn a_face_is_detected_above_a_configured_threshold() {
    // jpeg-grayscale.jpg is the one fixture NudeNet finds a face in (0.52).
    let mut config = ClassifierConfig { model: model(), ..Default::default() };
    config.thresholds.insert("FACE_FEMALE".into(), 0.4);
    let c = Classifier::from_config(&config).unwrap().unwrap();
    let findings = c.findings(&load("jpeg-grayscale.jpg").unwrap()).unwrap();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(findings[0].reason.starts_with("FACE_FEMALE"));
    let nudenet = reference()["images"]["jpeg-grayscale.jpg"]["class_max"][1].as_f64().unwrap();
    assert!((findings[0].score - nudenet).abs() < 0.01, "{} vs NudeNet's {nudenet}", findings[0].score);
}

#[test]
fn bad_configs_are_refused() {
    let bad = ClassifierConfig { model: "/nonexistent.onnx".into(), ..Default::default() };
    assert!(Classifier::from_config(&bad).is_err());
    let mut unknown = ClassifierConfig { model: model(), ..Default::default() };
    unknown.thresholds.insert("NOT_A_LABEL".into(), 0.5);
    assert!(Classifier::from_config(&unknown).is_err());
    let wrong_labels = ClassifierConfig { model: model(), labels: vec!["ONLY_ONE".into()], thresholds: Default::default(), ..Default::default() };
    assert!(Classifier::from_config(&wrong_labels).is_err(), "18 classes do not fit one label");
}
