//! `ctx explain`: how a feature's bundle is made, layer by layer and item by item.

use std::path::Path;

use crate::bundle::explain::Explanation;
use crate::cli::{ExplainArgs, ReportFormat};
use crate::commands;
use crate::error::Error;
use crate::exit::ExitStatus;
use crate::output::Printer;

pub fn run(
    root: Option<&Path>,
    args: &ExplainArgs,
    printer: &Printer,
) -> Result<ExitStatus, Error> {
    let mut session = commands::open(root, args.options.today, false, printer)?;
    let bundle = session.bundle(&commands::bundle_request(&args.options))?;
    if let Some(notice) = bundle.ad_hoc_notice() {
        printer.status(&notice);
    }
    let explanation = Explanation::of(&bundle);
    match args.format {
        ReportFormat::Json => commands::print_json(printer, &explanation, "the explanation")?,
        ReportFormat::Text => commands::print_data(printer, &explanation.to_text())?,
    }
    Ok(ExitStatus::Success)
}
