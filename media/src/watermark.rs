//! The visible mark on watermarked display renditions: a line of text
//! (`© owner`) drawn in a corner (or the centre) of the picture, white with
//! a dark halo so it reads on light and dark photos alike, blended at a
//! configurable opacity.
//!
//! Text is rasterised with `ab_glyph` from DejaVu Sans Bold, bundled in the
//! binary (`media/fonts/`, Bitstream Vera licence: see
//! `DejaVuSans-Bold.LICENSE` there), so rendering never depends on the fonts
//! of the machine it runs on. Drawing is deterministic: the same picture,
//! text and style always give the same pixels.

use ab_glyph::{point, Font, FontRef, Glyph, PxScale, ScaleFont};
use image::RgbImage;

static FONT_BYTES: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold.ttf");

/// Where the mark sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkPosition {
    TopLeft,
    TopRight,
    BottomLeft,
    BottomRight,
    Center,
}

impl MarkPosition {
    /// `top-left`, `top-right`, `bottom-left`, `bottom-right` or `center`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "top-left" => Self::TopLeft,
            "top-right" => Self::TopRight,
            "bottom-left" => Self::BottomLeft,
            "bottom-right" => Self::BottomRight,
            "center" => Self::Center,
            _ => return None,
        })
    }
}

/// How marks look (config `watermark.*`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MarkStyle {
    pub position: MarkPosition,
    /// The text's height as a percentage of the picture's shorter side.
    pub size_percent: f32,
    /// 0 (invisible) to 1 (opaque).
    pub opacity: f32,
}

impl Default for MarkStyle {
    fn default() -> Self {
        Self {
            position: MarkPosition::BottomRight,
            size_percent: 4.0,
            opacity: 0.6,
        }
    }
}

/// A mark to draw: its text and style.
#[derive(Debug, Clone, PartialEq)]
pub struct Watermark {
    pub text: String,
    pub style: MarkStyle,
}

impl Watermark {
    /// The owner's mark: `© {owner}`.
    pub fn for_owner(owner: &str, style: MarkStyle) -> Self {
        Self {
            text: format!("\u{a9} {owner}"),
            style,
        }
    }
}

/// The smallest text drawn, in pixels: below it a mark is an unreadable smudge.
const MIN_TEXT_PX: f32 = 9.0;

/// The rectangle `(x, y, width, height)` the mark covers on a `width` ×
/// `height` picture (its halo included), clipped to the picture.
pub fn mark_area(width: u32, height: u32, mark: &Watermark) -> (u32, u32, u32, u32) {
    let layout = Layout::of(width, height, mark);
    // The halo, and a little room for glyphs that overhang their advance.
    let pad = layout.halo.round().max(1.0) + 2.0;
    let x0 = (layout.x - pad).max(0.0) as u32;
    let y0 = (layout.y - pad).max(0.0) as u32;
    let x1 = ((layout.x + layout.text_w + pad).ceil().max(0.0) as u32).min(width);
    let y1 = ((layout.y + layout.text_h + pad).ceil().max(0.0) as u32).min(height);
    (
        x0.min(width),
        y0.min(height),
        x1.saturating_sub(x0),
        y1.saturating_sub(y0),
    )
}

/// Draws `mark` onto `img`.
pub fn draw(img: &mut RgbImage, mark: &Watermark) {
    let opacity = mark.style.opacity.clamp(0.0, 1.0);
    if opacity == 0.0 || mark.text.is_empty() || img.width() == 0 || img.height() == 0 {
        return;
    }
    let font = font();
    let layout = Layout::of(img.width(), img.height(), mark);
    let scaled = font.as_scaled(layout.scale);
    // Coverage of the text and of its halo (the text dilated), over the
    // mark's area only, accumulated first so overlapping glyph edges never
    // blend twice.
    let (ax, ay, w, h) = mark_area(img.width(), img.height(), mark);
    let (w, h) = (w as usize, h as usize);
    if w == 0 || h == 0 {
        return;
    }
    let mut text = vec![0f32; w * h];
    for glyph in layout.glyphs(&scaled) {
        let Some(outlined) = font.outline_glyph(glyph) else {
            continue;
        };
        let bounds = outlined.px_bounds();
        outlined.draw(|gx, gy, coverage| {
            let x = bounds.min.x as i64 + gx as i64 - ax as i64;
            let y = bounds.min.y as i64 + gy as i64 - ay as i64;
            if x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h {
                let c = &mut text[y as usize * w + x as usize];
                *c = (*c + coverage).min(1.0);
            }
        });
    }
    let halo = dilate(&text, w, h, layout.halo.round().max(1.0) as usize);
    for y in 0..h {
        for x in 0..w {
            let (t, s) = (text[y * w + x], halo[y * w + x]);
            if t == 0.0 && s == 0.0 {
                continue;
            }
            let p = img.get_pixel_mut(ax + x as u32, ay + y as u32);
            for c in 0..3 {
                let mut v = p.0[c] as f32;
                // The halo darkens (half strength), then the text whitens.
                v -= v * s * opacity * 0.5;
                v += (255.0 - v) * t * opacity;
                p.0[c] = v.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
}

fn font() -> FontRef<'static> {
    FontRef::try_from_slice(FONT_BYTES).expect("the bundled font parses")
}

/// Where the text goes, at what size.
struct Layout {
    scale: PxScale,
    /// Top-left of the text box.
    x: f32,
    y: f32,
    text_w: f32,
    text_h: f32,
    halo: f32,
    text: String,
}

impl Layout {
    fn of(width: u32, height: u32, mark: &Watermark) -> Self {
        let short = width.min(height) as f32;
        let mut px = (short * mark.style.size_percent / 100.0).max(MIN_TEXT_PX);
        let font = font();
        let measure = |px: f32| {
            let scaled = font.as_scaled(PxScale::from(px));
            let mut caret = 0.0;
            let mut last = None;
            for c in mark.text.chars() {
                let id = scaled.glyph_id(c);
                if let Some(prev) = last {
                    caret += scaled.kern(prev, id);
                }
                caret += scaled.h_advance(id);
                last = Some(id);
            }
            (caret, scaled.ascent() - scaled.descent())
        };
        let (mut text_w, mut text_h) = measure(px);
        // A long name on a narrow picture: shrink to fit within 90 % of it.
        let room = width as f32 * 0.9;
        if text_w > room && text_w > 0.0 {
            px = (px * room / text_w).max(1.0);
            (text_w, text_h) = measure(px);
        }
        let margin = (px * 0.6).round();
        let halo = (px / 12.0).max(1.0);
        let (w, h) = (width as f32, height as f32);
        let left = margin;
        let right = w - margin - text_w;
        let top = margin;
        let bottom = h - margin - text_h;
        let (x, y) = match mark.style.position {
            MarkPosition::TopLeft => (left, top),
            MarkPosition::TopRight => (right, top),
            MarkPosition::BottomLeft => (left, bottom),
            MarkPosition::BottomRight => (right, bottom),
            MarkPosition::Center => ((w - text_w) / 2.0, (h - text_h) / 2.0),
        };
        Self {
            scale: PxScale::from(px),
            x: x.max(0.0).round(),
            y: y.max(0.0).round(),
            text_w,
            text_h,
            halo,
            text: mark.text.clone(),
        }
    }

    fn glyphs<F: Font>(&self, scaled: &ab_glyph::PxScaleFont<F>) -> Vec<Glyph> {
        let mut out = Vec::new();
        let mut caret = self.x;
        let baseline = self.y + scaled.ascent();
        let mut last = None;
        for c in self.text.chars() {
            let mut g = scaled.scaled_glyph(c);
            if let Some(prev) = last {
                caret += scaled.kern(prev, g.id);
            }
            g.position = point(caret, baseline);
            caret += scaled.h_advance(g.id);
            last = Some(g.id);
            out.push(g);
        }
        out
    }
}

/// The maximum of `cov` over a square of radius `r` around each pixel
/// (separable: rows, then columns).
fn dilate(cov: &[f32], w: usize, h: usize, r: usize) -> Vec<f32> {
    let mut rows = vec![0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let (a, b) = (x.saturating_sub(r), (x + r).min(w - 1));
            rows[y * w + x] = cov[y * w + a..=y * w + b]
                .iter()
                .fold(0f32, |m, &v| m.max(v));
        }
    }
    let mut out = vec![0f32; w * h];
    for y in 0..h {
        let (a, b) = (y.saturating_sub(r), (y + r).min(h - 1));
        for x in 0..w {
            out[y * w + x] = (a..=b).fold(0f32, |m, yy| m.max(rows[yy * w + x]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grey(w: u32, h: u32) -> RgbImage {
        RgbImage::from_pixel(w, h, image::Rgb([90, 120, 150]))
    }

    fn changed(a: &RgbImage, b: &RgbImage) -> Vec<(u32, u32)> {
        a.enumerate_pixels()
            .filter(|(x, y, p)| b.get_pixel(*x, *y) != *p)
            .map(|(x, y, _)| (x, y))
            .collect()
    }

    #[test]
    fn the_mark_lands_where_the_style_says_and_nowhere_else() {
        for (name, position) in [
            ("bottom-right", MarkPosition::BottomRight),
            ("top-left", MarkPosition::TopLeft),
            ("center", MarkPosition::Center),
        ] {
            assert_eq!(MarkPosition::parse(name), Some(position));
            let mark = Watermark::for_owner(
                "alice",
                MarkStyle {
                    position,
                    ..Default::default()
                },
            );
            let before = grey(1024, 683);
            let mut after = before.clone();
            draw(&mut after, &mark);
            let diff = changed(&before, &after);
            assert!(
                diff.len() > 200,
                "{name}: a visible mark changes pixels ({})",
                diff.len()
            );
            let (x, y, w, h) = mark_area(1024, 683, &mark);
            assert!(
                diff.iter()
                    .all(|&(px, py)| px >= x && px < x + w && py >= y && py < y + h),
                "{name}: inside its area"
            );
            let (cx, cy) = (x + w / 2, y + h / 2);
            match position {
                MarkPosition::BottomRight => assert!(cx > 700 && cy > 500, "{name}: {x},{y}"),
                MarkPosition::TopLeft => assert!(cx < 300 && cy < 150, "{name}: {x},{y}"),
                _ => assert!(
                    (cx as i64 - 512).abs() < 10 && (cy as i64 - 341).abs() < 10,
                    "{name}: {x},{y}"
                ),
            }
            // Deterministic.
            let mut again = before.clone();
            draw(&mut again, &mark);
            assert_eq!(again, after);
        }
        assert_eq!(MarkPosition::parse("middle"), None);
    }

    #[test]
    fn size_and_opacity_follow_the_style() {
        let small = Watermark::for_owner(
            "bob",
            MarkStyle {
                size_percent: 3.0,
                ..Default::default()
            },
        );
        let large = Watermark::for_owner(
            "bob",
            MarkStyle {
                size_percent: 10.0,
                ..Default::default()
            },
        );
        assert!(mark_area(800, 600, &large).3 > 2 * mark_area(800, 600, &small).3);
        let invisible = Watermark::for_owner(
            "bob",
            MarkStyle {
                opacity: 0.0,
                ..Default::default()
            },
        );
        let mut img = grey(200, 100);
        draw(&mut img, &invisible);
        assert_eq!(img, grey(200, 100));
        // A long name on a narrow picture still fits.
        let long = Watermark::for_owner(&"x".repeat(32), MarkStyle::default());
        let (x, _, w, _) = mark_area(120, 400, &long);
        assert!(x + w <= 120);
    }
}
