//! `photostream`: the service binary. Everything lives in the library so
//! tests can run the same code; see `photostream_cli::entry`.

/// mimalloc instead of glibc's malloc: at 1,000 reads/s glibc's free-list
/// work (`_int_malloc`, `unlink_chunk`, `malloc_consolidate`) was 8 % of the
/// server's CPU, and its per-thread arenas held on to memory.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    photostream_cli::entry::main()
}
