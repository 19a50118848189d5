//! HEIC/HEIF (HEVC) and AVIF (AV1) through libheif, loaded at run time.
//!
//! `libheif.so.1` (Debian: `libheif1`, which carries libde265 for HEVC and
//! dav1d for AV1) is opened once with `libloading` the first time such a
//! file arrives, so `cargo build` needs nothing outside crates.io and a
//! machine without the library answers 415 for these two formats, as for
//! any unsupported one. `PHOTOSTREAM_LIBHEIF` names another file to open.
//! Any libheif from 1.12 on works (the symbols used exist since then, and
//! 1.12 fixed transformations); Debian 12 ships 1.15.
//!
//! What libheif does for us, and what we do ourselves:
//! - The primary image is the one decoded (bursts, Live Photo stills and
//!   collections point at it with `pitm`); depth maps, gain maps and other
//!   auxiliary images are never decoded.
//! - `irot`/`imir`/`clap` are applied by the decoder, and the handle's size
//!   is the displayed size, so HEIF images are always "orientation 1" here:
//!   their EXIF orientation is informative only (HEIF spec; iOS writes both)
//!   and applying it as well would rotate twice.
//! - Limits: libheif refuses any item whose declared size exceeds
//!   `max_side` while it reads the header (before any pixel is decoded);
//!   the pixel count is checked here against the primary image's declared
//!   size, and the frame sizes the HEVC/AV1 bitstreams declare against both
//!   ([`crate::heif_coded`]: libheif 1.15 does not), also before decoding.
//! - 8-bit output is asked for directly. A 10/12-bit image with a PQ or HLG
//!   transfer (HDR, e.g. Android's and Chrome's HDR AVIF) is decoded at 16
//!   bits and tone-mapped to 8-bit sRGB here ([`tone_map`]), since libheif
//!   would only shift the bits (flat, washed-out results).
//! - Thumbnails: a HEIF file often carries a small thumbnail item (iPhones:
//!   320 px); when it is large enough for the caller and has the primary's
//!   aspect ratio, it is decoded instead of the 12 MP image (shrink-on-load,
//!   the HEIF way).

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::OnceLock;

use image::{DynamicImage, RgbImage, RgbaImage};

use crate::{Format, Limits, MediaError, Probe};

#[repr(C)]
#[derive(Clone, Copy)]
struct HeifError {
    code: c_int,
    subcode: c_int,
    message: *const c_char,
}

/// The leading fields of `struct heif_color_profile_nclx` (libheif only
/// ever appends fields, and the struct is allocated by the library).
#[repr(C)]
#[allow(dead_code)] // only the transfer and primaries are read
struct Nclx {
    version: u8,
    color_primaries: c_int,
    transfer_characteristics: c_int,
    matrix_coefficients: c_int,
    full_range_flag: u8,
}

#[repr(C)]
#[derive(Default)]
#[allow(dead_code)] // filled by libheif; only MaxCLL is read
struct ContentLightLevel {
    max_content_light_level: u16,
    max_pic_average_light_level: u16,
}

type Ctx = c_void;
type Handle = c_void;
type Img = c_void;

// Enum values from heif.h.
const COLORSPACE_RGB: c_int = 1;
const CHROMA_RGB: c_int = 10;
const CHROMA_RGBA: c_int = 11;
const CHROMA_RRGGBB_LE: c_int = 14;
const CHROMA_RRGGBBAA_LE: c_int = 15;
const CHANNEL_INTERLEAVED: c_int = 10;
const COMPRESSION_HEVC: c_int = 1;
const COMPRESSION_AV1: c_int = 4;
const ERROR_MEMORY: c_int = 6;
const SUBERROR_SECURITY_LIMIT: c_int = 1000;
const ERROR_UNSUPPORTED_FEATURE: c_int = 4;
const ERROR_UNSUPPORTED_FILETYPE: c_int = 3;
const TRANSFER_PQ: c_int = 16;
const TRANSFER_HLG: c_int = 18;
const PRIMARIES_BT2020: c_int = 9;
const PRIMARIES_P3_D65: c_int = 12;

/// The colour primaries of an HDR image, for its luminance weights and the
/// conversion to BT.709/sRGB primaries.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Primaries {
    Bt709,
    Bt2020,
    /// Display P3 (SMPTE EG 432-1), as Apple and Android phones write.
    P3,
}

impl Primaries {
    fn from_nclx(code: c_int) -> Self {
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

/// The functions photostream calls, resolved once.
struct Api {
    context_alloc: unsafe extern "C" fn() -> *mut Ctx,
    context_free: unsafe extern "C" fn(*mut Ctx),
    read_from_memory_without_copy: unsafe extern "C" fn(*mut Ctx, *const c_void, usize, *const c_void) -> HeifError,
    set_maximum_image_size_limit: unsafe extern "C" fn(*mut Ctx, c_int),
    set_max_decoding_threads: unsafe extern "C" fn(*mut Ctx, c_int),
    primary_image_handle: unsafe extern "C" fn(*mut Ctx, *mut *mut Handle) -> HeifError,
    handle_release: unsafe extern "C" fn(*const Handle),
    handle_width: unsafe extern "C" fn(*const Handle) -> c_int,
    handle_height: unsafe extern "C" fn(*const Handle) -> c_int,
    handle_has_alpha: unsafe extern "C" fn(*const Handle) -> c_int,
    handle_luma_bits: unsafe extern "C" fn(*const Handle) -> c_int,
    handle_nclx: unsafe extern "C" fn(*const Handle, *mut *mut Nclx) -> HeifError,
    nclx_free: unsafe extern "C" fn(*mut Nclx),
    thumbnail_count: unsafe extern "C" fn(*const Handle) -> c_int,
    thumbnail_ids: unsafe extern "C" fn(*const Handle, *mut u32, c_int) -> c_int,
    thumbnail: unsafe extern "C" fn(*const Handle, u32, *mut *mut Handle) -> HeifError,
    decode_image: unsafe extern "C" fn(*const Handle, *mut *mut Img, c_int, c_int, *const c_void) -> HeifError,
    plane_readonly: unsafe extern "C" fn(*const Img, c_int, *mut c_int) -> *const u8,
    image_width: unsafe extern "C" fn(*const Img, c_int) -> c_int,
    image_height: unsafe extern "C" fn(*const Img, c_int) -> c_int,
    bits_range: unsafe extern "C" fn(*const Img, c_int) -> c_int,
    has_content_light_level: unsafe extern "C" fn(*const Img) -> c_int,
    content_light_level: unsafe extern "C" fn(*const Img, *mut ContentLightLevel),
    image_release: unsafe extern "C" fn(*const Img),
    have_hevc: bool,
    have_av1: bool,
    version: String,
    // Last: the library stays loaded as long as the pointers above.
    _lib: libloading::Library,
}

static API: OnceLock<Result<Api, String>> = OnceLock::new();

fn api() -> Result<&'static Api, &'static str> {
    API.get_or_init(|| unsafe { load() }).as_ref().map_err(|e| e.as_str())
}

/// Whether this process can decode `format` (HEIC or AVIF), and if not why.
pub fn availability(format: Format) -> Result<(), &'static str> {
    let api = api()?;
    match format {
        Format::Heic if !api.have_hevc => Err("libheif was built without an HEVC decoder"),
        Format::Avif if !api.have_av1 => Err("libheif was built without an AV1 decoder"),
        _ => Ok(()),
    }
}

/// The libheif version in use, for the start-up log.
pub fn version() -> Option<&'static str> {
    api().ok().map(|a| a.version.as_str())
}

unsafe fn load() -> Result<Api, String> {
    let name = std::env::var("PHOTOSTREAM_LIBHEIF").unwrap_or_else(|_| "libheif.so.1".to_string());
    let lib = libloading::Library::new(&name).map_err(|e| format!("libheif is not installed ({name}: {e})"))?;
    let major: unsafe extern "C" fn() -> c_int = sym(&lib, "heif_get_version_number_major")?;
    let minor: unsafe extern "C" fn() -> c_int = sym(&lib, "heif_get_version_number_minor")?;
    let (major, minor) = (major(), minor());
    if (major, minor) < (1, 12) {
        return Err(format!("libheif {major}.{minor} is too old (1.12 or newer is needed)"));
    }
    let have_decoder: unsafe extern "C" fn(c_int) -> c_int = sym(&lib, "heif_have_decoder_for_format")?;
    let api = Api {
        context_alloc: sym(&lib, "heif_context_alloc")?,
        context_free: sym(&lib, "heif_context_free")?,
        read_from_memory_without_copy: sym(&lib, "heif_context_read_from_memory_without_copy")?,
        set_maximum_image_size_limit: sym(&lib, "heif_context_set_maximum_image_size_limit")?,
        set_max_decoding_threads: sym(&lib, "heif_context_set_max_decoding_threads")?,
        primary_image_handle: sym(&lib, "heif_context_get_primary_image_handle")?,
        handle_release: sym(&lib, "heif_image_handle_release")?,
        handle_width: sym(&lib, "heif_image_handle_get_width")?,
        handle_height: sym(&lib, "heif_image_handle_get_height")?,
        handle_has_alpha: sym(&lib, "heif_image_handle_has_alpha_channel")?,
        handle_luma_bits: sym(&lib, "heif_image_handle_get_luma_bits_per_pixel")?,
        handle_nclx: sym(&lib, "heif_image_handle_get_nclx_color_profile")?,
        nclx_free: sym(&lib, "heif_nclx_color_profile_free")?,
        thumbnail_count: sym(&lib, "heif_image_handle_get_number_of_thumbnails")?,
        thumbnail_ids: sym(&lib, "heif_image_handle_get_list_of_thumbnail_IDs")?,
        thumbnail: sym(&lib, "heif_image_handle_get_thumbnail")?,
        decode_image: sym(&lib, "heif_decode_image")?,
        plane_readonly: sym(&lib, "heif_image_get_plane_readonly")?,
        image_width: sym(&lib, "heif_image_get_width")?,
        image_height: sym(&lib, "heif_image_get_height")?,
        bits_range: sym(&lib, "heif_image_get_bits_per_pixel_range")?,
        has_content_light_level: sym(&lib, "heif_image_has_content_light_level")?,
        content_light_level: sym(&lib, "heif_image_get_content_light_level")?,
        image_release: sym(&lib, "heif_image_release")?,
        have_hevc: have_decoder(COMPRESSION_HEVC) != 0,
        have_av1: have_decoder(COMPRESSION_AV1) != 0,
        version: format!("{major}.{minor}"),
        _lib: lib,
    };
    Ok(api)
}

/// A function of the library, by name, as the pointer type asked for.
///
/// # Safety
/// `T` must be the function's true signature (heif.h).
unsafe fn sym<T: Copy>(lib: &libloading::Library, name: &str) -> Result<T, String> {
    let mut symbol = name.as_bytes().to_vec();
    symbol.push(0);
    lib.get::<T>(&symbol).map(|s| *s).map_err(|e| format!("libheif lacks {name}: {e}"))
}

fn check(err: HeifError) -> Result<(), MediaError> {
    if err.code == 0 {
        return Ok(());
    }
    let message = if err.message.is_null() {
        String::new()
    } else {
        // SAFETY: libheif's messages are static NUL-terminated strings.
        unsafe { CStr::from_ptr(err.message) }.to_string_lossy().into_owned()
    };
    Err(match (err.code, err.subcode) {
        (ERROR_MEMORY, SUBERROR_SECURITY_LIMIT) => MediaError::TooLarge {
            width: 0,
            height: 0,
            max_pixels: 0,
            max_side: 0,
        },
        (ERROR_UNSUPPORTED_FEATURE | ERROR_UNSUPPORTED_FILETYPE, _) => MediaError::Corrupt(format!("unsupported HEIF content: {message}")),
        _ => MediaError::Corrupt(message),
    })
}

/// A parsed file: the context, its primary image handle, and the bytes
/// they point into (read without a copy).
struct File<'a> {
    api: &'static Api,
    ctx: *mut Ctx,
    primary: *mut Handle,
    _bytes: &'a [u8],
}

impl Drop for File<'_> {
    fn drop(&mut self) {
        // SAFETY: both were returned by libheif and are released once.
        unsafe {
            if !self.primary.is_null() {
                (self.api.handle_release)(self.primary);
            }
            (self.api.context_free)(self.ctx);
        }
    }
}

struct HandleGuard(&'static Api, *mut Handle);
impl Drop for HandleGuard {
    fn drop(&mut self) {
        unsafe { (self.0.handle_release)(self.1) }
    }
}

struct ImageGuard(&'static Api, *mut Img);
impl Drop for ImageGuard {
    fn drop(&mut self) {
        unsafe { (self.0.image_release)(self.1) }
    }
}

fn open<'a>(bytes: &'a [u8], format: Format, limits: &Limits) -> Result<File<'a>, MediaError> {
    let api = api().map_err(|why| MediaError::NoDecoder(format.name(), why))?;
    availability(format).map_err(|why| MediaError::NoDecoder(format.name(), why))?;
    // SAFETY: the context is fresh; `bytes` outlives it (held by `File`).
    unsafe {
        let ctx = (api.context_alloc)();
        if ctx.is_null() {
            return Err(MediaError::Corrupt("libheif could not allocate a context".into()));
        }
        let mut file = File { api, ctx, primary: std::ptr::null_mut(), _bytes: bytes };
        // libheif refuses sizes >= its limit; ours allows max_side itself.
        (api.set_maximum_image_size_limit)(ctx, limits.max_side.saturating_add(1).min(c_int::MAX as u32) as c_int);
        // Tiles of one grid image may decode in parallel; uploads are
        // already spread over the blocking threads.
        (api.set_max_decoding_threads)(ctx, 2);
        check((api.read_from_memory_without_copy)(ctx, bytes.as_ptr().cast(), bytes.len(), std::ptr::null()))
            .map_err(|e| with_limits(e, limits))?;
        check((api.primary_image_handle)(ctx, &mut file.primary))?;
        Ok(file)
    }
}

fn with_limits(e: MediaError, limits: &Limits) -> MediaError {
    match e {
        MediaError::TooLarge { width, height, .. } => MediaError::TooLarge {
            width,
            height,
            max_pixels: limits.max_pixels,
            max_side: limits.max_side,
        },
        other => other,
    }
}

fn handle_size(api: &Api, h: *const Handle) -> (u32, u32) {
    // SAFETY: `h` is a live handle.
    unsafe { ((api.handle_width)(h).max(0) as u32, (api.handle_height)(h).max(0) as u32) }
}

/// Displayed width and height of the primary image, from the header alone,
/// within the limits.
pub(crate) fn dimensions(bytes: &[u8], format: Format, limits: &Limits) -> Result<(u32, u32), MediaError> {
    let file = open(bytes, format, limits)?;
    let (w, h) = handle_size(file.api, file.primary);
    if w == 0 || h == 0 {
        return Err(MediaError::Corrupt("the image has no pixels".into()));
    }
    // The frames the bitstreams will decode to, which libheif does not
    // check against the declared size.
    crate::heif_coded::check(bytes, (w, h), limits)?;
    Ok((w, h))
}

/// Bytes of memory a decode of a `w`×`h` image may peak at: libheif's
/// YCbCr planes, its interleaved RGB(A) output and our copy of it.
fn decode_cost(w: u32, h: u32, alpha: bool, sixteen: bool) -> u64 {
    let px = w as u64 * h as u64;
    let channels = if alpha { 4 } else { 3 };
    let sample = if sixteen { 2 } else { 1 };
    let planes = px * sample * channels; // YCbCr up to 4:4:4, and alpha
    planes + 2 * px * channels * sample + if sixteen { px * channels } else { 0 }
}

/// Decodes the primary image upright as 8-bit RGB or RGBA, with its memory
/// reserved from the decode budget first. When `min_width` is small enough,
/// a thumbnail item of the file at least that wide is decoded instead.
pub(crate) fn decode(
    bytes: &[u8],
    probe: &Probe,
    limits: &Limits,
    min_width: Option<u32>,
) -> Result<(DynamicImage, crate::budget::Reservation), MediaError> {
    let file = open(bytes, probe.format, limits)?;
    let api = file.api;
    let (w, h) = handle_size(api, file.primary);
    if (w, h) != (probe.width, probe.height) {
        return Err(MediaError::Corrupt("the image changed size between probe and decode".into()));
    }
    crate::heif_coded::check(bytes, (w, h), limits)?;
    let thumb = min_width.and_then(|min| thumbnail_item(&file, min, (w, h)));
    let handle = thumb.as_ref().map_or(file.primary, |t| t.1);
    let (hw, hh) = handle_size(api, handle);
    // SAFETY: `handle` is live for the rest of this function.
    let (alpha, bits) = unsafe { ((api.handle_has_alpha)(handle) != 0, (api.handle_luma_bits)(handle)) };
    let hdr = if bits > 8 { hdr_transfer(api, handle) } else { None };
    let held = crate::budget::reserve(decode_cost(hw, hh, alpha, hdr.is_some()))?;
    let chroma = match (hdr.is_some(), alpha) {
        (false, false) => CHROMA_RGB,
        (false, true) => CHROMA_RGBA,
        (true, false) => CHROMA_RRGGBB_LE,
        (true, true) => CHROMA_RRGGBBAA_LE,
    };
    let mut out: *mut Img = std::ptr::null_mut();
    // SAFETY: NULL options are libheif's defaults (transformations applied).
    check(unsafe { (api.decode_image)(handle, &mut out, COLORSPACE_RGB, chroma, std::ptr::null()) })?;
    if out.is_null() {
        return Err(MediaError::Corrupt("libheif returned no image".into()));
    }
    let img = ImageGuard(api, out);
    let channels = if alpha { 4 } else { 3 };
    let sample = if hdr.is_some() { 2 } else { 1 };
    let (iw, ih, rows) = copy_plane(api, img.1, channels * sample)?;
    if (iw, ih) != (hw, hh) {
        return Err(MediaError::Corrupt(format!("decoded {iw}x{ih}, the header says {hw}x{hh}")));
    }
    let decoded = match hdr {
        None if alpha => RgbaImage::from_raw(iw, ih, rows).map(DynamicImage::ImageRgba8),
        None => RgbImage::from_raw(iw, ih, rows).map(DynamicImage::ImageRgb8),
        Some(transfer) => {
            // SAFETY: `img.1` is a live decoded image.
            let (range, peak) = unsafe {
                let range = (api.bits_range)(img.1, CHANNEL_INTERLEAVED).clamp(9, 16) as u32;
                let mut cll = ContentLightLevel::default();
                if (api.has_content_light_level)(img.1) != 0 {
                    (api.content_light_level)(img.1, &mut cll);
                }
                (range, cll.max_content_light_level)
            };
            Some(tone_map(&rows, iw, ih, alpha, range, transfer, peak))
        }
    };
    let decoded = decoded.ok_or_else(|| MediaError::Corrupt("decoded size does not match the planes".into()))?;
    Ok((decoded, held))
}

/// A thumbnail item at least `min_width` wide with the primary's aspect
/// ratio (so it shows the same, upright picture), if the file has one.
fn thumbnail_item(file: &File<'_>, min_width: u32, (w, h): (u32, u32)) -> Option<HandleGuard> {
    let api = file.api;
    // SAFETY: the primary handle is live; ids are filled up to `n`.
    unsafe {
        let n = (api.thumbnail_count)(file.primary);
        if n <= 0 || n > 16 {
            return None;
        }
        let mut ids = vec![0u32; n as usize];
        let n = (api.thumbnail_ids)(file.primary, ids.as_mut_ptr(), n).clamp(0, ids.len() as c_int) as usize;
        let mut best: Option<(u32, HandleGuard)> = None;
        for id in &ids[..n] {
            let mut t: *mut Handle = std::ptr::null_mut();
            if (api.thumbnail)(file.primary, *id, &mut t).code != 0 || t.is_null() {
                continue;
            }
            let t = HandleGuard(api, t);
            let (tw, th) = handle_size(api, t.1);
            let same_shape = tw > 0 && th > 0 && (tw as f64 / th as f64 - w as f64 / h as f64).abs() < 0.02;
            if same_shape && tw >= min_width && tw < w && best.as_ref().is_none_or(|(bw, _)| tw < *bw) {
                best = Some((tw, t));
            }
        }
        best.map(|(_, t)| t)
    }
}

/// The transfer function of an HDR image (PQ or HLG) from its `colr` box;
/// `None` for SDR. Returns the transfer and the primaries.
fn hdr_transfer(api: &Api, handle: *const Handle) -> Option<(c_int, Primaries)> {
    let mut nclx: *mut Nclx = std::ptr::null_mut();
    // SAFETY: on success libheif allocates the profile, freed here.
    unsafe {
        if (api.handle_nclx)(handle, &mut nclx).code != 0 || nclx.is_null() {
            return None;
        }
        let transfer = (*nclx).transfer_characteristics;
        let primaries = Primaries::from_nclx((*nclx).color_primaries);
        (api.nclx_free)(nclx);
        matches!(transfer, TRANSFER_PQ | TRANSFER_HLG).then_some((transfer, primaries))
    }
}

/// Copies the interleaved plane row by row (libheif pads rows to its
/// stride) into a tight buffer.
fn copy_plane(api: &Api, img: *const Img, bytes_per_pixel: usize) -> Result<(u32, u32, Vec<u8>), MediaError> {
    let mut stride: c_int = 0;
    // SAFETY: the plane stays valid while `img` lives; every row read lies
    // within `stride × height` bytes of it, as libheif documents.
    unsafe {
        let w = (api.image_width)(img, CHANNEL_INTERLEAVED);
        let h = (api.image_height)(img, CHANNEL_INTERLEAVED);
        let plane = (api.plane_readonly)(img, CHANNEL_INTERLEAVED, &mut stride);
        if plane.is_null() || w <= 0 || h <= 0 {
            return Err(MediaError::Corrupt("the decoded image has no pixels".into()));
        }
        let (w, h, stride) = (w as usize, h as usize, stride.max(0) as usize);
        let row = w * bytes_per_pixel;
        if stride < row {
            return Err(MediaError::Corrupt("the decoded rows are shorter than the image".into()));
        }
        let mut out = Vec::with_capacity(row * h);
        for y in 0..h {
            out.extend_from_slice(std::slice::from_raw_parts(plane.add(y * stride), row));
        }
        Ok((w as u32, h as u32, out))
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
fn tone_map(samples: &[u8], w: u32, h: u32, alpha: bool, bits: u32, (transfer, primaries): (c_int, Primaries), max_cll: u16) -> DynamicImage {
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

    #[test]
    fn decode_cost_covers_the_planes_and_copies() {
        assert!(decode_cost(4032, 3024, false, false) >= 4032 * 3024 * 6);
        assert!(decode_cost(100, 100, true, true) > decode_cost(100, 100, false, false));
    }
}
