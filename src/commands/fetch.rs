//! `ctx fetch` and `ctx update`: check sources out at the commits `ctx.lock` pins, or
//! move them to the newest commit of their `rev`.

use std::path::Path;

use crate::cli::{FetchArgs, UpdateArgs};
use crate::config::lock::{self, Lock};
use crate::config::settings;
use crate::config::sources::{self, short};
use crate::error::Error;
use crate::exit::ExitStatus;
use crate::output::Printer;

pub fn fetch(
    root: Option<&Path>,
    args: &FetchArgs,
    printer: &Printer,
) -> Result<ExitStatus, Error> {
    run(root, &args.names, false, args.locked, printer)
}

pub fn update(
    root: Option<&Path>,
    args: &UpdateArgs,
    printer: &Printer,
) -> Result<ExitStatus, Error> {
    run(root, &args.names, true, false, printer)
}

fn run(
    root: Option<&Path>,
    names: &[String],
    update: bool,
    locked: bool,
    printer: &Printer,
) -> Result<ExitStatus, Error> {
    // Only the settings: a workspace whose sources are missing must still be fetchable.
    let root = settings::discover(root).map_err(|problem| Error::Config(vec![*problem]))?;
    let settings = settings::load(&root).map_err(Error::Config)?;
    if settings.sources.is_empty() {
        printer.status("no `[[sources]]` in `ctx.toml`: nothing to fetch");
        return Ok(ExitStatus::Success);
    }
    let previous = lock::read(&root).map_err(|problem| Error::Config(vec![*problem]))?;
    if locked && previous.is_none() {
        return Err(Error::Usage {
            message: format!("`--locked`, but there is no `{}`", lock::FILE),
            help: Some(String::from(
                "run `ctx fetch` without `--locked`, review the result and commit `ctx.lock`",
            )),
        });
    }
    let mut next: Lock = previous.clone().unwrap_or_default();
    let fetched = sources::fetch(&root, &settings.sources, &mut next, names, update, locked)
        .map_err(|message| Error::Bundle {
            message,
            help: Some(String::from(
                "check the source's `git` and `rev` in `ctx.toml`, and that git can reach it",
            )),
        })?;
    if locked {
        let mut problems = Vec::new();
        if previous.as_ref().map(|lock| &lock.sources) != Some(&next.sources) {
            problems.push(
                crate::config::diagnostic::Problem::unlocated(
                    "sources::unlocked",
                    format!(
                        "`{}` does not pin the sources `ctx.toml` declares",
                        lock::FILE
                    ),
                )
                .help("run `ctx fetch` (or `ctx update`), review the lock and commit it"),
            );
        }
        problems.extend(sources::verify(&root, &settings.sources, &next));
        if !problems.is_empty() {
            return Err(Error::Config(problems));
        }
    } else if previous.as_ref() != Some(&next) {
        lock::write(&root, &next).map_err(|source| Error::Output {
            what: format!("`{}`", lock::FILE),
            source,
        })?;
    }
    for done in &fetched {
        let what = match (&done.moved_from, done.up_to_date) {
            (_, true) => format!("{} at {}: up to date", done.name, short(&done.commit)),
            (Some(before), _) => {
                format!("{}: {} → {}", done.name, short(before), short(&done.commit))
            }
            (None, false) => format!("{}: checked out {}", done.name, short(&done.commit)),
        };
        printer.status(&what);
    }
    Ok(ExitStatus::Success)
}
