//! The `photostream` command line, built inside this package so the crash
//! tests can run it as a separate process (`CARGO_BIN_EXE_…`) and kill it.

fn main() -> anyhow::Result<()> {
    photostream_cli::entry::main()
}
