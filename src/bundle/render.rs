//! Rendering: Markdown through a minijinja template, JSON straight from the model.
//! A Markdown document the bundle's count rendered with the built-in template (with
//! stand-ins for its contents and totals) is written as it is, stand-ins replaced: the
//! template does not run twice.
//!
//! The template is `templates/bundle.md`, built into the binary; a workspace may override
//! it (or add includes) in `<root>/templates/`. Templates run with strict undefined
//! (a typo is an error naming the template and line), a fuel limit (a runaway loop
//! stops), and a loader that only reads plain file names inside the templates folder.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::value::Value;
use minijinja::{Environment, ErrorKind, UndefinedBehavior};
use serde::Serialize;

use super::content::{self, Content, ContentError};
use super::document::{Document, Measured, TOTAL_STAND_IN};
use super::json::{BulkFormatter, HandOver};
use super::markdown::{self, code, with_article};
use super::model::{Bundle, ItemJson, LayerJson};
use super::positional::{self, Part};
use super::prefetch::{Form, Prefetch, Prepared};
use super::view::ItemObject;
use crate::config::workspace::Section;

/// The built-in template.
pub const BUILTIN_TEMPLATE: &str = include_str!("../../templates/bundle.md");
/// Name of the built-in template.
pub const BUILTIN_NAME: &str = "bundle.md";
/// Instruction budget for one render: generous for real bundles, fatal for runaway loops.
pub const FUEL: u64 = 50_000_000;

/// Why rendering failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("template `{name}`{line}: {detail}")]
    Template {
        name: String,
        line: String,
        detail: String,
    },
    /// An inlined file changed between counting and writing.
    #[error(transparent)]
    Content(#[from] ContentError),
    /// Writing the output failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Each layer's items as the built-in template lays them out (`kind`, `name`, included
/// `constraints`, shown `patterns`: [`markdown::groups`]), as template values.
fn group_by_layer(layers: &[LayerJson], items: &[Arc<ItemObject>]) -> Vec<Value> {
    let values = |indices: Vec<usize>| -> Value {
        indices
            .into_iter()
            .map(|index| Value::from_dyn_object(items[index].clone()))
            .collect::<Vec<_>>()
            .into()
    };
    layers
        .iter()
        .zip(markdown::groups(
            layers,
            items.iter().map(|object| &object.item),
        ))
        .map(|(layer, (constraints, patterns))| {
            minijinja::context! {
                kind => layer.kind.as_str(),
                name => layer.name.as_str(),
                constraints => values(constraints),
                patterns => values(patterns),
            }
        })
        .collect()
}

/// The contents in the order the built-in template prints them (patterns layer by layer,
/// then examples, then anything else), for the read-ahead to follow. Another template
/// may print in another order; the read-ahead copes, only less ahead.
fn print_order<'i>(
    layers: &[LayerJson],
    items: impl Iterator<Item = &'i ItemJson>,
) -> Vec<Content> {
    let layer_of = markdown::layer_positions(layers);
    let mut ordered: Vec<(usize, usize, Content)> = items
        .enumerate()
        .filter_map(|(index, item)| {
            let content = item.content.clone()?;
            let rank = match item.section() {
                Section::Patterns => layer_of
                    .get(&(item.layer().kind, &*item.layer().name))
                    .copied()
                    .unwrap_or(layers.len()),
                Section::Examples => layers.len() + 1,
                Section::Constraints | Section::QualityGates => layers.len() + 2,
            };
            Some((rank, index, content))
        })
        .collect();
    ordered.sort_by_key(|(rank, index, _)| (*rank, *index));
    ordered.into_iter().map(|(_, _, content)| content).collect()
}

/// Render `bundle` as Markdown with `template` (looked up in `<root>/templates/`, then
/// built in) into `out`, file contents streamed from disk as the template prints them.
/// `file`: the regular file behind `out`, when the document may be written into it at
/// offsets (from its current offset; `out` holds nothing unwritten).
pub fn markdown(
    mut bundle: Bundle,
    root: &Path,
    template: &str,
    out: &mut dyn io::Write,
    file: Option<&File>,
) -> Result<(), RenderError> {
    // The document counted when the bundle was fitted is written as it is; the built-in
    // one is written directly: the template runs for a workspace's own only.
    if let Some(measured) = bundle.measured.take()
        && measured.is_of(&bundle.digest, Document::Markdown, template)
    {
        let written = write_measured(&measured, &bundle, Form::Plain, out, file);
        crate::parallel::drop_in_background(bundle);
        return written;
    }
    if is_builtin(root, template) {
        let contents = print_order(&bundle.layers, bundle.items.iter());
        let written = Prefetch::around(&contents, Form::Plain, None, || {
            let mut out = io::BufWriter::with_capacity(1 << 20, out);
            markdown::write(&bundle, &mut |text| write_contents(text, &bundle, &mut out))?;
            out.flush()?;
            Ok(())
        });
        crate::parallel::drop_in_background((contents, bundle));
        return written;
    }
    markdown_with(bundle, root, template, out, Contents::Read).0
}

/// Whether `template` is the built-in one: named so, with no file of that name in the
/// workspace's templates folder (as the template loader decides).
pub fn is_builtin(root: &Path, template: &str) -> bool {
    template == BUILTIN_NAME && !root.join("templates").join(template).exists()
}

/// Write `measured`, the document of `bundle`, its contents in `form`: into `file` at
/// offsets on every core when there is one, else into `out` as a stream, the contents
/// read ahead in the order it prints them.
fn write_measured(
    measured: &Measured,
    bundle: &Bundle,
    form: Form,
    out: &mut dyn io::Write,
    file: Option<&File>,
) -> Result<(), RenderError> {
    let totals: Vec<String> = [Some(bundle.tokens.total), bundle.tokens.cumulative]
        .into_iter()
        .flatten()
        .map(|total| total.to_string())
        .collect();
    let parts = parts_of(&measured.text, &totals, bundle);
    if let Some(file) = file {
        out.flush()?;
        return positional::write(file, &parts, form).map_err(|stopped| match stopped {
            positional::Stopped::Changed(changed) => RenderError::Content(changed),
            positional::Stopped::Io(error) => RenderError::Io(error),
        });
    }
    let contents: Vec<Content> = parts
        .iter()
        .filter_map(|part| part.content.cloned())
        .collect();
    let written = Prefetch::around(&contents, form, None, || {
        let mut out = io::BufWriter::with_capacity(1 << 20, out);
        write_parts(&parts, &mut out)?;
        out.flush()?;
        Ok(())
    });
    crate::parallel::drop_in_background(contents);
    written
}

/// `text` cut at the stand-ins of the totals and of the contents: each part is the text
/// before a content, and the content, or a total (the total, then the total with the
/// parent chain: a kept document holds exactly these, in this order), or text.
fn parts_of<'t>(text: &'t str, totals: &'t [String], bundle: &'t Bundle) -> Vec<Part<'t>> {
    let stand_in = TOTAL_STAND_IN.to_string();
    let mut parts = Vec::new();
    let mut rest = text;
    for total in totals {
        let Some(at) = memchr::memmem::find(rest.as_bytes(), stand_in.as_bytes()) else {
            break;
        };
        contents_of(&rest[..at], bundle, &mut parts);
        parts.push(Part {
            before: total,
            content: None,
        });
        rest = &rest[at + stand_in.len()..];
    }
    contents_of(rest, bundle, &mut parts);
    parts
}

/// `text` cut at its contents' stand-ins, into `parts`.
fn contents_of<'t>(text: &'t str, bundle: &'t Bundle, parts: &mut Vec<Part<'t>>) {
    const MARK: &str = "\u{e000}";
    let finder = memchr::memmem::Finder::new(MARK);
    let (mut start, mut from) = (0, 0);
    while let Some(found) = finder.find(&text.as_bytes()[from..]) {
        let at = from + found;
        let stand_in = content::stand_in_at(&text[at..])
            .and_then(|(index, length)| Some((bundle.items.get(index)?.content.as_ref()?, length)));
        match stand_in {
            Some((content, length)) => {
                parts.push(Part {
                    before: &text[start..at],
                    content: Some(content),
                });
                start = at + length;
                from = start;
            }
            // Not a stand-in: the document's own text.
            None => from = at + MARK.len(),
        }
    }
    parts.push(Part {
        before: &text[start..],
        content: None,
    });
}

/// `text` into `out`, each content's stand-in replaced by the content.
fn write_contents(
    text: &str,
    bundle: &Bundle,
    out: &mut impl io::Write,
) -> Result<(), RenderError> {
    let mut parts = Vec::new();
    contents_of(text, bundle, &mut parts);
    write_parts(&parts, out)
}

/// `parts` into `out`, each content as [`Content::for_write`] gives it (from the
/// read-ahead, when one serves it).
fn write_parts(parts: &[Part<'_>], out: &mut impl io::Write) -> Result<(), RenderError> {
    for part in parts {
        out.write_all(part.before.as_bytes())?;
        match part.content.map(Content::for_write).transpose()? {
            Some(Prepared::Text(written)) => out.write_all(written.as_bytes())?,
            Some(Prepared::Escaped(escaped)) => out.write_all(&escaped)?,
            None => {}
        }
    }
    Ok(())
}

/// How a render writes file contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contents {
    /// Read from disk (ahead of the writer, on every core).
    Read,
    /// Their stand-ins, set on each content beforehand (the bundle is being measured,
    /// see `bundle/fit.rs`): nothing is read.
    StandIns,
}

/// [`markdown`], contents written as `contents` says. With stand-ins (a measurement),
/// the bundle is given back, its items taken back from the template's view of them
/// (nothing is copied).
pub fn markdown_with(
    mut bundle: Bundle,
    root: &Path,
    template: &str,
    out: &mut dyn io::Write,
    contents_are: Contents,
) -> (Result<(), RenderError>, Option<Bundle>) {
    let templates = root.join("templates");
    let mut environment = Environment::new();
    environment.set_undefined_behavior(UndefinedBehavior::Strict);
    environment.set_fuel(Some(FUEL));
    let syntax = match minijinja::syntax::SyntaxConfig::builder()
        .keep_trailing_newline(true)
        .build()
    {
        Ok(syntax) => syntax,
        Err(error) => return (Err(template_error(template, &error)), Some(bundle)),
    };
    environment.set_syntax(syntax);
    environment.set_loader(move |name| load(&templates, name));
    environment.add_filter("code", code);
    environment.add_filter("with_article", with_article);
    // Items become objects that convert a field when the template reads it; the same
    // objects serve `bundle.items`, `items` and `groups`.
    // Moved one by one from the back, the list shrinking as it goes, so the items are
    // never held twice (a large bundle has tens of thousands).
    let mut moving = std::mem::take(&mut bundle.items);
    moving.reverse();
    let mut items: Vec<Arc<ItemObject>> = Vec::with_capacity(moving.len());
    while let Some(item) = moving.pop() {
        items.push(Arc::new(ItemObject::new(item)));
        if moving.len().is_multiple_of(1024) {
            moving.shrink_to_fit();
        }
    }
    let values: Vec<Value> = items
        .iter()
        .map(|object| Value::from_dyn_object(object.clone()))
        .collect();
    let groups = group_by_layer(&bundle.layers, &items);
    // One list serves `bundle.items` and `items` (a value is shared, not copied).
    let values = Value::from(values);
    let context = minijinja::context! {
        bundle => minijinja::context! {
            items => values.clone(),
            ..Value::from(minijinja::value::Serde(&bundle))
        },
        items => values,
        groups => Value::from(groups),
    };
    let contents = print_order(&bundle.layers, items.iter().map(|object| &object.item));
    // A typed buffer in front of the dynamic writer: templates write in small pieces.
    let mut buffered = io::BufWriter::with_capacity(1 << 20, out);
    let mut render = || -> Result<(), minijinja::Error> {
        let compiled = environment.get_template(template)?;
        compiled.render_captured_to(&context, &mut buffered)?;
        buffered.flush().map_err(|error| {
            minijinja::Error::new(ErrorKind::WriteFailure, "cannot write the output")
                .with_source(error)
        })?;
        Ok(())
    };
    let rendered = match contents_are {
        Contents::Read => Prefetch::around(&contents, Form::Plain, None, render),
        Contents::StandIns => render(),
    };
    let rendered = rendered.map_err(|error| {
        let changed = items
            .iter()
            .find_map(|object| object.item.content.as_ref()?.render_error());
        if let Some(changed) = changed {
            return RenderError::Content(changed);
        }
        if error.kind() == ErrorKind::WriteFailure {
            let source = std::error::Error::source(&error)
                .and_then(|source| source.downcast_ref::<io::Error>())
                .map_or_else(
                    || io::Error::other(error.to_string()),
                    |io| io::Error::new(io.kind(), io.to_string()),
                );
            return RenderError::Io(source);
        }
        template_error(template, &error)
    });
    if contents_are == Contents::StandIns {
        drop((context, contents));
        bundle.items = items
            .into_iter()
            .map(|object| match Arc::try_unwrap(object) {
                Ok(object) => object.item,
                Err(shared) => shared.item.clone(),
            })
            .collect();
        return (rendered, Some(bundle));
    }
    // The bundle and the template's view of it are freed while the command exits.
    crate::parallel::drop_in_background((context, contents, items, bundle));
    (rendered, None)
}

/// Only plain names inside the templates folder; the built-in one as a fallback.
fn load(templates: &Path, name: &str) -> Result<Option<String>, minijinja::Error> {
    let refuse = |why: &str| {
        Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            format!("template name `{name}` {why}; templates are file names inside `templates/`"),
        ))
    };
    if name.is_empty()
        || name.starts_with('/')
        || name.contains('\\')
        || name.split('/').any(|part| part == ".." || part.is_empty())
    {
        return refuse("leaves the templates folder");
    }
    let path: PathBuf = templates.join(name);
    match (templates.canonicalize(), path.canonicalize()) {
        (Ok(folder), Ok(file)) if file.starts_with(&folder) && file.is_file() => {
            std::fs::read_to_string(&file).map(Some).map_err(|error| {
                minijinja::Error::new(
                    ErrorKind::InvalidOperation,
                    format!("cannot read template `{name}`: {error}"),
                )
            })
        }
        (Ok(_), Ok(_)) => refuse("resolves outside the templates folder"),
        _ if name == BUILTIN_NAME => Ok(Some(BUILTIN_TEMPLATE.to_owned())),
        _ => Ok(None),
    }
}

fn template_error(template: &str, error: &minijinja::Error) -> RenderError {
    let name = error.name().unwrap_or(template).to_owned();
    let line = error
        .line()
        .map(|line| format!(" line {line}"))
        .unwrap_or_default();
    let detail = match error.kind() {
        ErrorKind::OutOfFuel => {
            String::from("the template ran out of fuel (a runaway loop?); simplify it")
        }
        ErrorKind::UndefinedError => format!(
            "{} (a misspelt variable or field?)",
            error.detail().unwrap_or("undefined value")
        ),
        ErrorKind::TemplateNotFound => {
            format!("template `{template}` not found in `templates/` and not built in")
        }
        _ => error
            .detail()
            .map_or_else(|| error.to_string(), str::to_owned),
    };
    RenderError::Template { name, line, detail }
}

/// The bundle as pretty JSON (`ctx.bundle/v1`), newline-terminated, into `out` (or
/// `file`, as [`markdown`] says): the document counted when the bundle was fitted as it
/// is, else serialised again.
pub fn json(
    bundle: &Bundle,
    out: &mut dyn io::Write,
    file: Option<&File>,
) -> Result<(), RenderError> {
    if let Some(measured) = &bundle.measured
        && measured.is_of(&bundle.digest, Document::Json, "")
    {
        return write_measured(measured, bundle, Form::JsonEscaped, out, file);
    }
    json_with(bundle, out, Contents::Read)
}

/// [`json`], contents written as `contents` says.
pub fn json_with(
    bundle: &Bundle,
    out: &mut dyn io::Write,
    contents_are: Contents,
) -> Result<(), RenderError> {
    // A typed buffer in front of the dynamic writer: serde writes in small pieces.
    let mut buffered = io::BufWriter::with_capacity(1 << 20, out);
    let contents: Vec<Content> = bundle
        .items
        .iter()
        .filter_map(|item| item.content.clone())
        .collect();
    let handed = Arc::new(HandOver::default());
    let mut write = || {
        let mut serializer = serde_json::Serializer::with_formatter(
            &mut buffered,
            BulkFormatter::new(handed.clone()),
        );
        bundle.serialize(&mut serializer)
    };
    let written = match contents_are {
        Contents::Read => {
            Prefetch::around(&contents, Form::JsonEscaped, Some(handed.clone()), write)
        }
        Contents::StandIns => write(),
    };
    written.map_err(|error| {
        let changed = bundle
            .items
            .iter()
            .find_map(|item| item.content.as_ref()?.render_error());
        match changed {
            Some(changed) => RenderError::Content(changed),
            None => RenderError::Io(io::Error::from(error)),
        }
    })?;
    buffered.write_all(b"\n")?;
    buffered.flush()?;
    Ok(())
}
