//! `photostream`: the service binary. Everything lives in the library so
//! tests can run the same code; see `photostream_cli::entry`.

fn main() -> anyhow::Result<()> {
    photostream_cli::entry::main()
}
