//! The libheif binding: the C types and `heif.h` values photostream uses,
//! the functions resolved once from `libheif.so.1` at run time, RAII
//! guards for what the library allocates, and the calls that read a file,
//! a handle and a decoded plane.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::OnceLock;

use super::availability;
use super::tone_map::{Primaries, TRANSFER_HLG, TRANSFER_PQ};
use crate::{Format, Limits, MediaError};

#[repr(C)]
#[derive(Clone, Copy)]
pub(super) struct HeifError {
    pub(super) code: c_int,
    subcode: c_int,
    message: *const c_char,
}

/// The leading fields of `struct heif_color_profile_nclx` (libheif only
/// ever appends fields, and the struct is allocated by the library).
#[repr(C)]
#[allow(dead_code)] // only the transfer and primaries are read
pub(super) struct Nclx {
    version: u8,
    color_primaries: c_int,
    transfer_characteristics: c_int,
    matrix_coefficients: c_int,
    full_range_flag: u8,
}

#[repr(C)]
#[derive(Default)]
#[allow(dead_code)] // filled by libheif; only MaxCLL is read
pub(super) struct ContentLightLevel {
    pub(super) max_content_light_level: u16,
    max_pic_average_light_level: u16,
}

pub(super) type Ctx = c_void;
pub(super) type Handle = c_void;
pub(super) type Img = c_void;

// Enum values from heif.h.
pub(super) const COLORSPACE_RGB: c_int = 1;
pub(super) const CHROMA_RGB: c_int = 10;
pub(super) const CHROMA_RGBA: c_int = 11;
pub(super) const CHROMA_RRGGBB_LE: c_int = 14;
pub(super) const CHROMA_RRGGBBAA_LE: c_int = 15;
pub(super) const CHANNEL_INTERLEAVED: c_int = 10;
const COMPRESSION_HEVC: c_int = 1;
const COMPRESSION_AV1: c_int = 4;
const ERROR_MEMORY: c_int = 6;
const SUBERROR_SECURITY_LIMIT: c_int = 1000;
const ERROR_UNSUPPORTED_FEATURE: c_int = 4;
const ERROR_UNSUPPORTED_FILETYPE: c_int = 3;

/// The functions photostream calls, resolved once.
pub(super) struct Api {
    pub(super) context_alloc: unsafe extern "C" fn() -> *mut Ctx,
    pub(super) context_free: unsafe extern "C" fn(*mut Ctx),
    pub(super) read_from_memory_without_copy: unsafe extern "C" fn(*mut Ctx, *const c_void, usize, *const c_void) -> HeifError,
    pub(super) set_maximum_image_size_limit: unsafe extern "C" fn(*mut Ctx, c_int),
    pub(super) set_max_decoding_threads: unsafe extern "C" fn(*mut Ctx, c_int),
    pub(super) primary_image_handle: unsafe extern "C" fn(*mut Ctx, *mut *mut Handle) -> HeifError,
    pub(super) handle_release: unsafe extern "C" fn(*const Handle),
    pub(super) handle_width: unsafe extern "C" fn(*const Handle) -> c_int,
    pub(super) handle_height: unsafe extern "C" fn(*const Handle) -> c_int,
    pub(super) handle_has_alpha: unsafe extern "C" fn(*const Handle) -> c_int,
    pub(super) handle_luma_bits: unsafe extern "C" fn(*const Handle) -> c_int,
    pub(super) handle_nclx: unsafe extern "C" fn(*const Handle, *mut *mut Nclx) -> HeifError,
    pub(super) nclx_free: unsafe extern "C" fn(*mut Nclx),
    pub(super) thumbnail_count: unsafe extern "C" fn(*const Handle) -> c_int,
    pub(super) thumbnail_ids: unsafe extern "C" fn(*const Handle, *mut u32, c_int) -> c_int,
    pub(super) thumbnail: unsafe extern "C" fn(*const Handle, u32, *mut *mut Handle) -> HeifError,
    pub(super) decode_image: unsafe extern "C" fn(*const Handle, *mut *mut Img, c_int, c_int, *const c_void) -> HeifError,
    pub(super) plane_readonly: unsafe extern "C" fn(*const Img, c_int, *mut c_int) -> *const u8,
    pub(super) image_width: unsafe extern "C" fn(*const Img, c_int) -> c_int,
    pub(super) image_height: unsafe extern "C" fn(*const Img, c_int) -> c_int,
    pub(super) bits_range: unsafe extern "C" fn(*const Img, c_int) -> c_int,
    pub(super) has_content_light_level: unsafe extern "C" fn(*const Img) -> c_int,
    pub(super) content_light_level: unsafe extern "C" fn(*const Img, *mut ContentLightLevel),
    pub(super) image_release: unsafe extern "C" fn(*const Img),
    pub(super) have_hevc: bool,
    pub(super) have_av1: bool,
    pub(super) version: String,
    // Last: the library stays loaded as long as the pointers above.
    _lib: libloading::Library,
}

static API: OnceLock<Result<Api, String>> = OnceLock::new();

pub(super) fn api() -> Result<&'static Api, &'static str> {
    API.get_or_init(|| unsafe { load() }).as_ref().map_err(|e| e.as_str())
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

pub(super) fn check(err: HeifError) -> Result<(), MediaError> {
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
pub(super) struct File<'a> {
    pub(super) api: &'static Api,
    ctx: *mut Ctx,
    pub(super) primary: *mut Handle,
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

pub(super) struct HandleGuard(pub(super) &'static Api, pub(super) *mut Handle);
impl Drop for HandleGuard {
    fn drop(&mut self) {
        unsafe { (self.0.handle_release)(self.1) }
    }
}

pub(super) struct ImageGuard(pub(super) &'static Api, pub(super) *mut Img);
impl Drop for ImageGuard {
    fn drop(&mut self) {
        unsafe { (self.0.image_release)(self.1) }
    }
}

pub(super) fn open<'a>(bytes: &'a [u8], format: Format, limits: &Limits) -> Result<File<'a>, MediaError> {
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

pub(super) fn handle_size(api: &Api, h: *const Handle) -> (u32, u32) {
    // SAFETY: `h` is a live handle.
    unsafe { ((api.handle_width)(h).max(0) as u32, (api.handle_height)(h).max(0) as u32) }
}

/// `None` for SDR. Returns the transfer and the primaries.
pub(super) fn hdr_transfer(api: &Api, handle: *const Handle) -> Option<(c_int, Primaries)> {
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
pub(super) fn copy_plane(api: &Api, img: *const Img, bytes_per_pixel: usize) -> Result<(u32, u32, Vec<u8>), MediaError> {
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
