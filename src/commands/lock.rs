//! `ctx lock`: record what the patterns show (and the fetched sources) in `ctx.lock`.

use std::path::Path;

use crate::cli::LockArgs;
use crate::config::lock::{self, Lock};
use crate::date::Date;
use crate::error::Error;
use crate::exit::ExitStatus;
use crate::output::Printer;
use crate::session::{OpenOptions, Session};

pub fn run(root: Option<&Path>, _args: &LockArgs, printer: &Printer) -> Result<ExitStatus, Error> {
    let session = Session::open(
        root,
        &OpenOptions {
            today: Date::today_utc(),
            preload_cache: false,
        },
    )?;
    // Drift is what locking accepts: the other warnings still show.
    for warning in session.warnings() {
        if warning.code != "config::drift" {
            printer.diagnostic(&format!("{}\n", warning.render(printer.color())), false);
        }
    }
    let workspace = session.workspace();
    let previous = lock::read(&workspace.root)
        .map_err(|problem| Error::Config(vec![*problem]))?
        .unwrap_or_default();
    let files = lock::files(workspace);
    let changed = files
        .iter()
        .filter(|file| !previous.files.contains(file))
        .count();
    let locked = Lock { files, ..previous };
    lock::write(&workspace.root, &locked).map_err(|source| Error::Output {
        what: format!("`{}`", lock::FILE),
        source,
    })?;
    printer.status(&format!(
        "locked {} files and excerpts in {} ({changed} new or changed since the last lock)",
        locked.files.len(),
        lock::FILE
    ));
    Ok(ExitStatus::Success)
}
