//! Positions kept in small files: a group's committed position and a
//! topic's retention start, as decimal text replaced atomically (write,
//! rename).

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use crate::StreamError;

pub(super) fn read_offset(path: &Path) -> Result<u64, StreamError> {
    match File::open(path) {
        Ok(mut f) => {
            let mut s = String::new();
            f.read_to_string(&mut s)?;
            s.trim().parse().map_err(|_| {
                StreamError::Io(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("corrupt offset file {}", path.display()),
                ))
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// How often a group's committed position is fsynced (see the `embedded`
/// module docs).
pub const OFFSET_SYNC_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

pub(super) fn write_offset(path: &Path, offset: u64, sync: bool) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = File::create(&tmp)?;
        f.write_all(offset.to_string().as_bytes())?;
        if sync {
            f.sync_data()?;
        }
    }
    std::fs::rename(&tmp, path)
}
