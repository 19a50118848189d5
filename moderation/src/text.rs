//! Text rules: word lists and patterns matched on normalised text.
//!
//! Normalisation, in order: Unicode NFKD (full-width and stylised letters
//! become plain ones, accents split off); combining marks, zero-width and
//! other format characters dropped; look-alike letters from other scripts
//! (Cyrillic `а`, Greek `ο`, …) and leetspeak digits mapped to Latin;
//! lower-cased. Matching then looks at the words, and at the text with all
//! separators removed, so `s p a m`, `s.p.a.m` and `ѕраm` all read `spam`.

use regex::Regex;
use serde::{Deserialize, Serialize};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::policy::Finding;

/// Maps a look-alike character to the Latin letter it imitates.
fn fold_confusable(c: char) -> char {
    match c {
        // Cyrillic
        'а' => 'a', 'в' => 'b', 'е' | 'ё' => 'e', 'к' => 'k', 'м' => 'm', 'н' => 'h', 'о' => 'o',
        'р' => 'p', 'с' => 'c', 'т' => 't', 'у' => 'y', 'х' => 'x', 'ѕ' => 's', 'і' | 'ї' => 'i',
        'ј' => 'j', 'ԁ' => 'd', 'ɡ' => 'g', 'ո' => 'n', 'ս' => 'u',
        // Greek
        'α' => 'a', 'β' => 'b', 'ε' => 'e', 'η' => 'n', 'ι' => 'i', 'κ' => 'k', 'ν' => 'v',
        'ο' => 'o', 'ρ' => 'p', 'τ' => 't', 'υ' => 'u', 'χ' => 'x', 'ω' => 'w',
        // Leetspeak
        '0' => 'o', '1' | '!' | '|' => 'i', '3' => 'e', '4' | '@' => 'a', '5' | '$' => 's',
        '7' => 't', '8' => 'b', '9' => 'g',
        other => other,
    }
}

/// The canonical form rules are matched against.
pub fn normalise(text: &str) -> String {
    text.nfkd()
        .filter(|c| !is_combining_mark(*c))
        .filter(|c| !matches!(*c, '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{00AD}'))
        .flat_map(char::to_lowercase)
        .map(fold_confusable)
        .collect()
}

/// Configurable rules (config section `[moderation.text]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TextRulesConfig {
    /// Words that hold the content for review.
    pub hold_words: Vec<String>,
    /// Words that reject it outright.
    pub reject_words: Vec<String>,
    /// Regular expressions (matched on the normalised text) that hold it.
    pub hold_patterns: Vec<String>,
}

pub struct TextRules {
    hold: Vec<String>,
    reject: Vec<String>,
    patterns: Vec<(String, Regex)>,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid moderation pattern {pattern:?}: {error}")]
pub struct PatternError {
    pub pattern: String,
    pub error: String,
}

impl TextRules {
    pub fn new(config: &TextRulesConfig) -> Result<Self, PatternError> {
        let words = |list: &[String]| list.iter().map(|w| squash(&normalise(w))).filter(|w| !w.is_empty()).collect();
        let patterns = config
            .hold_patterns
            .iter()
            .map(|p| {
                Regex::new(p)
                    .map(|r| (p.clone(), r))
                    .map_err(|e| PatternError { pattern: p.clone(), error: e.to_string() })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { hold: words(&config.hold_words), reject: words(&config.reject_words), patterns })
    }

    /// Findings for one field (`field` names it in the reasons).
    pub fn check(&self, field: &str, text: &str) -> Vec<Finding> {
        let norm = normalise(text);
        let words: Vec<String> = norm.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_string).collect();
        let squashed = squash(&norm);
        let mut findings = Vec::new();
        for (list, score, verb) in [(&self.reject, 1.0, "rejected"), (&self.hold, 0.6, "held")] {
            for w in list.iter() {
                let whole_word = words.iter().any(|x| x == w);
                // Spaced or dotted out letters ("s p a m") only count when the
                // word is long enough not to appear inside innocent text.
                let hidden = w.len() >= 4 && squashed.contains(w.as_str()) && !whole_word && spaced_out(&norm, w);
                if whole_word || hidden {
                    findings.push(Finding::new("text", score, format!("{field}: {verb} word {w:?}")));
                }
            }
        }
        for (source, re) in &self.patterns {
            if re.is_match(&norm) {
                findings.push(Finding::new("text", 0.6, format!("{field}: matches pattern {source:?}")));
            }
        }
        findings
    }
}

/// Letters and digits only.
fn squash(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).collect()
}

/// Whether `word` appears in `text` as single letters split by separators.
fn spaced_out(text: &str, word: &str) -> bool {
    let tokens: Vec<&str> = text.split(|c: char| !c.is_alphanumeric()).filter(|t| !t.is_empty()).collect();
    let letters: Vec<char> = word.chars().collect();
    tokens.windows(letters.len()).any(|w| w.iter().zip(&letters).all(|(t, l)| t.chars().eq(std::iter::once(*l))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> TextRules {
        TextRules::new(&TextRulesConfig {
            hold_words: vec!["spam".into(), "casino".into()],
            reject_words: vec!["scam".into()],
            hold_patterns: vec![r"https?://bit\.ly/".into()],
        })
        .unwrap()
    }

    #[test]
    fn normalisation_defeats_disguises() {
        assert_eq!(normalise("ЅРАМ"), "spam");
        assert_eq!(normalise("ｃａｓｉｎｏ"), "casino");
        assert_eq!(normalise("c4s1n0"), "casino");
        assert_eq!(normalise("ca\u{200B}si\u{00AD}no"), "casino");
        assert_eq!(normalise("cásíñó"), "casino");
    }

    #[test]
    fn words_patterns_and_tricks() {
        let r = rules();
        assert!(r.check("title", "Sunset over the lake").is_empty());
        assert!(r.check("title", "Spamalot tickets").is_empty(), "a word inside another word is fine");
        assert!(r.check("title", "Escaping the city").is_empty(), "'scam' hidden across words is not spaced out");
        let held = r.check("title", "best ѕраm ever");
        assert_eq!(held.len(), 1);
        assert!((held[0].score - 0.6).abs() < 1e-9);
        assert_eq!(r.check("description", "join our c a s i n o").len(), 1);
        assert_eq!(r.check("description", "C.4.S.1.N.0 night").len(), 1);
        let rejected = r.check("comment", "total SCAM");
        assert_eq!(rejected[0].score, 1.0);
        assert_eq!(r.check("comment", "see https://bit.ly/abc").len(), 1);
        assert!(TextRules::new(&TextRulesConfig { hold_patterns: vec!["(".into()], ..Default::default() }).is_err());
    }
}
