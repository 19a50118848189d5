//! The frame format of a topic's log file, `[len: u32 LE][crc32: u32 LE][payload]`:
//! reading headers, finding where the valid frames end, counting them, and
//! freeing the blocks of a retained-away prefix.

use std::fs::File;
use std::os::unix::fs::FileExt;

pub(super) const HEADER: u64 = 8;
/// Larger frames are refused on write and treated as corruption on read.
pub(super) const MAX_FRAME: u32 = 16 * 1024 * 1024;

/// Frees the disk blocks of `[0, len)` without changing the file's size.
pub(super) fn punch_hole(file: &File, len: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    if len == 0 {
        return Ok(());
    }
    // SAFETY: fallocate on a file descriptor we own, over a range inside the
    // file; PUNCH_HOLE with KEEP_SIZE only deallocates blocks.
    let rc = unsafe {
        libc::fallocate(
            file.as_raw_fd(),
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            0,
            len as libc::off_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// How many frames lie between byte positions `from` and `to` (headers
/// only; at most `cap` are counted).
pub(super) fn count_frames(file: &File, from: u64, to: u64, cap: u64) -> std::io::Result<u64> {
    let mut pos = from;
    let mut header = [0u8; HEADER as usize];
    let mut n = 0;
    while pos + HEADER <= to && n < cap {
        file.read_exact_at(&mut header, pos)?;
        let (len, _) = parse_header(&header);
        pos += HEADER + len as u64;
        n += 1;
    }
    Ok(n)
}

/// Walks the frames from `start` and returns where the valid ones end.
pub(super) fn scan_valid_prefix(file: &mut File, start: u64) -> std::io::Result<u64> {
    let len = file.metadata()?.len();
    let mut pos = start.min(len);
    let mut header = [0u8; HEADER as usize];
    let mut payload = Vec::new();
    while pos + HEADER <= len {
        file.read_exact_at(&mut header, pos)?;
        let (n, crc) = parse_header(&header);
        if n > MAX_FRAME || pos + HEADER + n as u64 > len {
            break;
        }
        payload.resize(n as usize, 0);
        file.read_exact_at(&mut payload, pos + HEADER)?;
        if crc32fast::hash(&payload) != crc {
            break;
        }
        pos += HEADER + n as u64;
    }
    Ok(pos)
}

pub(super) fn parse_header(h: &[u8; 8]) -> (u32, u32) {
    let n = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
    let crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    (n, crc)
}
