//! `ctx bundle`: build a feature's bundle and print or write it.

use std::path::Path;

use crate::bundle::measure::Document;
use crate::bundle::render::{self, RenderError};
use crate::cli::{BundleArgs, BundleFormat};
use crate::commands;
use crate::error::Error;
use crate::exit::ExitStatus;
use crate::output::{self, Printer};

pub fn run(root: Option<&Path>, args: &BundleArgs, printer: &Printer) -> Result<ExitStatus, Error> {
    let mut session = commands::open(root, args.options.today, !args.options.no_cache, printer)?;
    let mut request = commands::bundle_request(&args.options);
    request.exclude.clone_from(&args.output);
    request.document = match args.format {
        BundleFormat::Markdown => Document::Markdown,
        BundleFormat::Json => Document::Json,
    };
    let bundle = session.bundle(&request)?;
    if let Some(notice) = bundle.ad_hoc_notice() {
        printer.status(&notice);
    }
    for secret in &bundle.secrets {
        printer.status(&format!(
            "warning: secret redacted from the bundle: {}:{} (rule `{}`); add `ctx:allow-secret` on that line if it is not one",
            secret.path, secret.line, secret.rule
        ));
    }
    let summary = format!(
        "{} tokens{}, {} layers",
        bundle.tokens.total,
        if bundle.tokens.budget > 0 {
            format!(" of {}", bundle.tokens.budget)
        } else {
            String::new()
        },
        bundle.layers.len()
    );
    let failed = |error: RenderError, what: String| match error {
        RenderError::Io(source) => Error::Output { what, source },
        // Exit 4 like any failed write: `-o` keeps the previous file; on stdout the
        // output stops there.
        RenderError::Content(changed) => Error::Output {
            what,
            source: std::io::Error::other(changed),
        },
        RenderError::Template { .. } => Error::Bundle {
            message: error.to_string(),
            help: Some(String::from(
                "fix the template in `templates/`, or remove it to use the built-in one",
            )),
        },
    };
    let destination = match &args.output {
        Some(path) => output::destination(path, &session.inputs(Some(&bundle))).map_err(|refused| {
            Error::Usage {
                message: format!("`-o`: {refused}"),
                help: Some(String::from(
                    "write the bundle somewhere else (`-o` takes a new file, `-` for stdout, or a FIFO or device to write through)",
                )),
            }
        })?,
        None => output::Destination::Stdout,
    };
    let workspace = session.workspace();
    let render = |out: &mut dyn std::io::Write, file: Option<&std::fs::File>| match args.format {
        BundleFormat::Json => {
            let written = render::json(&bundle, out, file);
            crate::parallel::drop_in_background(bundle);
            written
        }
        BundleFormat::Markdown => render::markdown(
            bundle,
            &workspace.root,
            &workspace.settings.template,
            out,
            file,
        ),
    };
    match &destination {
        output::Destination::File(path) => {
            output::write_atomic_to(path, render)
                .map_err(|error| failed(error, format!("`{}`", path.display())))?;
            printer.status(&format!("wrote {} ({summary})", path.display()));
        }
        output::Destination::Through(path) => {
            output::write_through(path, |out| render(out, None))
                .map_err(|error| failed(error, format!("`{}`", path.display())))?;
            printer.status(&format!("wrote {} ({summary})", path.display()));
        }
        output::Destination::Stdout => printer
            .stream_data_to(render)
            .map_err(|error| failed(error, String::from("stdout")))?,
    }
    if let Some(note) = session.cache_note() {
        printer.note(&note);
    }
    session.close_in_background();
    Ok(ExitStatus::Success)
}
