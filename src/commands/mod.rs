//! One module per subcommand: each turns its parsed arguments into a request to the
//! [`Session`], hands the result to the [`Printer`], and picks the [`ExitStatus`].
//! No command calls another, and nothing below `commands/` sees a clap type.
//!
//! [`Session`]: crate::session::Session
//! [`Printer`]: crate::output::Printer
//! [`ExitStatus`]: crate::exit::ExitStatus

pub mod bundle;
pub mod explain;
pub mod export;
pub mod fetch;
pub mod gates;
pub mod init;
pub mod list;
pub mod lock;
pub mod mcp;
pub mod outcomes;
pub mod schema;
pub mod validate;

use std::path::Path;

use crate::bundle::measure::Document;

use crate::cli::{BundleOptions, TokenizerArg};
use crate::config::settings::Tokenizer;
use crate::date::Date;
use crate::error::Error;
use crate::output::Printer;
use crate::session::{BundleRequest, OpenOptions, Session};

/// Print `value` as pretty JSON (one document, newline-terminated) on stdout.
pub fn print_json(
    printer: &Printer,
    value: &impl serde::Serialize,
    what: &str,
) -> Result<(), Error> {
    let json = serde_json::to_string_pretty(value).map_err(|error| Error::Output {
        what: what.to_owned(),
        source: error.into(),
    })?;
    print_data(printer, &format!("{json}\n"))
}

/// Print data on stdout.
pub fn print_data(printer: &Printer, text: &str) -> Result<(), Error> {
    printer.data(text).map_err(|source| Error::Output {
        what: String::from("stdout"),
        source,
    })
}

/// Open a session (`today`: `--today`, else today's UTC date); configuration errors
/// stop the command, warnings are printed here.
pub fn open(
    root: Option<&Path>,
    today: Option<Date>,
    preload_cache: bool,
    printer: &Printer,
) -> Result<Session, Error> {
    let session = Session::open(
        root,
        &OpenOptions {
            today: today.unwrap_or_else(Date::today_utc),
            preload_cache,
        },
    )?;
    for warning in session.warnings() {
        printer.diagnostic(&format!("{}\n", warning.render(printer.color())), false);
    }
    Ok(session)
}

/// The session request for `bundle` and `explain`'s shared options.
pub fn bundle_request(options: &BundleOptions) -> BundleRequest {
    BundleRequest {
        feature: options.feature.clone(),
        describe: options.describe.clone(),
        domains: options.domain.clone(),
        services: options.service.clone(),
        agent: options.agent.clone(),
        budget: options.budget,
        tokenizer: options.tokenizer.map(|tokenizer| match tokenizer {
            TokenizerArg::O200k => Tokenizer::O200k,
            TokenizerArg::Cl100k => Tokenizer::Cl100k,
        }),
        inputs: options.set.clone(),
        require_inputs: true,
        exclude: None,
        use_cache: !options.no_cache,
        document: Document::Markdown,
        changed: options.changed,
        base: options.base.clone(),
        from_run: options.from_run.clone(),
        from_bundle: options.from.clone(),
        extensions: options.extensions,
    }
}
