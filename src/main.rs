//! The `ctx` binary: parse the command line, run, exit. All logic lives in the library.

use std::process::ExitCode;

use clap::Parser;

// mimalloc: fewer page faults and faster small allocations than glibc's malloc when
// thousands of documents are parsed on several threads (see bench/validate.sh).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = ctx::cli::Cli::parse();
    ctx::run(cli).into()
}
