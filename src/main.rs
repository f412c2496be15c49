//! The `ctx` binary: parse the command line, run, exit. All logic lives in the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = ctx::cli::Cli::parse();
    ctx::run(cli).into()
}
