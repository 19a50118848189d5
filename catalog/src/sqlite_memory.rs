//! SQLite's memory, process-wide: its allocations go through the Rust
//! global allocator (the binary's mimalloc) instead of glibc's `malloc`,
//! and without SQLite's memory statistics, whose global mutex every
//! allocation took.
//!
//! Why: in WAL mode each commit makes every other connection drop its whole
//! page cache at its next read, and sqlx copies every value of every row it
//! returns (`sqlite3_value_dup`), so the embedded catalog allocates and
//! frees pages and values at a high rate; at 1,000 reads/s beside 10
//! uploads/s glibc's `malloc_consolidate`, `_int_malloc`, `unlink_chunk` and
//! the statistics mutex were ~9 % of the server's CPU (docs/benchmarks.md).
//!
//! SQLite accepts this configuration only before it initialises, i.e.
//! before the process opens its first database; [`install`] is called by
//! [`Catalog::connect_with`](crate::Catalog::connect_with) and may be called
//! earlier by a binary. A later call, or one after another library opened a
//! database first, changes nothing: SQLite then keeps its own allocator.

use std::alloc::{alloc, dealloc, realloc, Layout};
use std::os::raw::{c_int, c_void};
use std::sync::OnceLock;

use libsqlite3_sys as ffi;

/// Each block starts with a header holding its usable size; 16 bytes keep
/// the block itself 16-byte aligned (SQLite needs 8).
const HEADER: usize = 16;
const ALIGN: usize = 16;

fn layout(size: usize) -> Option<Layout> {
    Layout::from_size_align(size.checked_add(HEADER)?, ALIGN).ok()
}

unsafe extern "C" fn x_malloc(n: c_int) -> *mut c_void {
    let Some(l) = usize::try_from(n).ok().and_then(layout) else {
        return std::ptr::null_mut();
    };
    // SAFETY: `l` has a non-zero size (at least HEADER) and a valid alignment.
    let base = unsafe { alloc(l) };
    if base.is_null() {
        return std::ptr::null_mut();
    }
    // SAFETY: the block is at least HEADER bytes, 16-aligned.
    unsafe {
        (base as *mut usize).write(n as usize);
        base.add(HEADER) as *mut c_void
    }
}

/// The block's size as written by `x_malloc`/`x_realloc`.
///
/// # Safety
/// `p` is a non-null pointer returned by `x_malloc` or `x_realloc`.
unsafe fn size_of_block(p: *mut c_void) -> usize {
    unsafe { ((p as *mut u8).sub(HEADER) as *const usize).read() }
}

unsafe extern "C" fn x_free(p: *mut c_void) {
    if p.is_null() {
        return;
    }
    // SAFETY: SQLite frees only what this allocator gave it.
    unsafe {
        let size = size_of_block(p);
        let l = layout(size).expect("a size this allocator accepted");
        dealloc((p as *mut u8).sub(HEADER), l);
    }
}

unsafe extern "C" fn x_realloc(p: *mut c_void, n: c_int) -> *mut c_void {
    if p.is_null() {
        return unsafe { x_malloc(n) };
    }
    let Some(new) = usize::try_from(n).ok().and_then(layout) else {
        return std::ptr::null_mut();
    };
    // SAFETY: `p` came from this allocator; the new size keeps the alignment.
    unsafe {
        let old = layout(size_of_block(p)).expect("a size this allocator accepted");
        let base = realloc((p as *mut u8).sub(HEADER), old, new.size());
        if base.is_null() {
            return std::ptr::null_mut();
        }
        (base as *mut usize).write(n as usize);
        base.add(HEADER) as *mut c_void
    }
}

unsafe extern "C" fn x_size(p: *mut c_void) -> c_int {
    if p.is_null() {
        return 0;
    }
    // SAFETY: SQLite asks only about blocks this allocator gave it.
    unsafe { size_of_block(p) as c_int }
}

unsafe extern "C" fn x_roundup(n: c_int) -> c_int {
    n.saturating_add(7) & !7
}

unsafe extern "C" fn x_init(_: *mut c_void) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_shutdown(_: *mut c_void) {}

/// Installs the allocator and turns memory statistics off, once per
/// process; returns whether SQLite took both (false when it had already
/// initialised).
pub fn install() -> bool {
    static TAKEN: OnceLock<bool> = OnceLock::new();
    *TAKEN.get_or_init(|| {
        // SAFETY: sqlite3_config is called before sqlite3_initialize or
        // refuses with SQLITE_MISUSE; SQLite copies the struct, and its
        // functions live as long as the process.
        let methods = ffi::sqlite3_mem_methods {
            xMalloc: Some(x_malloc),
            xFree: Some(x_free),
            xRealloc: Some(x_realloc),
            xSize: Some(x_size),
            xRoundup: Some(x_roundup),
            xInit: Some(x_init),
            xShutdown: Some(x_shutdown),
            pAppData: std::ptr::null_mut(),
        };
        let taken = unsafe {
            ffi::sqlite3_config(ffi::SQLITE_CONFIG_MALLOC, &methods as *const ffi::sqlite3_mem_methods) == ffi::SQLITE_OK
                && ffi::sqlite3_config(ffi::SQLITE_CONFIG_MEMSTATUS, 0 as c_int) == ffi::SQLITE_OK
        };
        if !taken {
            tracing::debug!("SQLite was initialised before its allocator could be set; keeping its own");
        }
        taken
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_keep_their_size_through_realloc_and_free() {
        unsafe {
            let p = x_malloc(100);
            assert!(!p.is_null());
            assert_eq!(p as usize % 8, 0);
            assert_eq!(x_size(p), 100);
            std::ptr::write_bytes(p as *mut u8, 0xab, 100);
            let q = x_realloc(p, 5000);
            assert_eq!(x_size(q), 5000);
            assert_eq!(*(q as *const u8).add(99), 0xab, "realloc keeps the contents");
            let r = x_realloc(q, 10);
            assert_eq!(x_size(r), 10);
            x_free(r);
            x_free(std::ptr::null_mut());
            assert!(x_malloc(-1).is_null());
            assert_eq!(x_roundup(13), 16);
        }
    }
}
