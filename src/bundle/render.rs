//! Rendering: Markdown through a minijinja template, JSON straight from the model.
//!
//! The template is `templates/bundle.md`, built into the binary; a workspace may override
//! it (or add includes) in `<root>/templates/`. Templates run with strict undefined
//! (a typo is an error naming the template and line), a fuel limit (a runaway loop
//! stops), and a loader that only reads plain file names inside the templates folder.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use minijinja::{Environment, ErrorKind, UndefinedBehavior};
use serde::Serialize;

use super::content::ContentError;
use super::files;
use super::merge::Status;
use super::model::{Bundle, ItemJson};
use crate::config::workspace::{LayerKind, Section};

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

/// An item as the template sees it: the JSON item plus rendering aids.
#[derive(Serialize)]
struct ItemView<'a> {
    #[serde(flatten)]
    item: &'a ItemJson,
    /// A fence longer than any backtick run in the content.
    fence: String,
    ends_with_newline: bool,
}

/// One layer's items as the built-in template lays them out, grouped here once rather
/// than filtered per layer in the template (quadratic on bundles of thousands of files).
#[derive(Serialize)]
struct Group<'a> {
    kind: LayerKind,
    name: &'a str,
    /// Included constraints.
    constraints: Vec<&'a ItemView<'a>>,
    /// Patterns that are shown (included or omitted with a reason).
    patterns: Vec<&'a ItemView<'a>>,
}

/// Statuses the Markdown leaves out of the pattern and example sections.
const HIDDEN: [Status; 4] = [
    Status::Overridden,
    Status::Disabled,
    Status::Expired,
    Status::FilteredAgent,
];

fn group_by_layer<'a>(bundle: &'a Bundle, items: &'a [ItemView<'a>]) -> Vec<Group<'a>> {
    let mut groups: Vec<Group<'a>> = bundle
        .layers
        .iter()
        .map(|layer| Group {
            kind: layer.kind,
            name: &layer.name,
            constraints: Vec::new(),
            patterns: Vec::new(),
        })
        .collect();
    let index: HashMap<(LayerKind, &str), usize> = bundle
        .layers
        .iter()
        .enumerate()
        .map(|(position, layer)| ((layer.kind, layer.name.as_str()), position))
        .collect();
    for view in items {
        let item = view.item;
        let Some(&position) = index.get(&(item.layer.kind, item.layer.name.as_str())) else {
            continue;
        };
        match item.section {
            Section::Constraints if item.status == Status::Included => {
                groups[position].constraints.push(view);
            }
            Section::Patterns if !HIDDEN.contains(&item.status) => {
                groups[position].patterns.push(view);
            }
            _ => {}
        }
    }
    groups
}

/// Render `bundle` as Markdown with `template` (looked up in `<root>/templates/`, then
/// built in) into `out`, file contents streamed from disk as the template prints them.
pub fn markdown(
    bundle: &Bundle,
    root: &Path,
    template: &str,
    out: &mut dyn io::Write,
) -> Result<(), RenderError> {
    let templates = root.join("templates");
    let mut environment = Environment::new();
    environment.set_undefined_behavior(UndefinedBehavior::Strict);
    environment.set_fuel(Some(FUEL));
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .keep_trailing_newline(true)
        .build()
        .map_err(|error| template_error(template, &error))?;
    environment.set_syntax(syntax);
    environment.set_loader(move |name| load(&templates, name));
    environment.add_filter("code", code);
    let items: Vec<ItemView<'_>> = bundle
        .items
        .iter()
        .map(|item| ItemView {
            item,
            fence: item
                .content
                .as_ref()
                .map_or_else(|| files::fence(""), |content| content.fence()),
            ends_with_newline: item
                .content
                .as_ref()
                .is_none_or(|content| content.ends_with_newline()),
        })
        .collect();
    let groups = group_by_layer(bundle, &items);
    let context = minijinja::context! {
        bundle => minijinja::Value::from(minijinja::value::Serde(bundle)),
        items => minijinja::Value::from(minijinja::value::Serde(&items)),
        groups => minijinja::Value::from(minijinja::value::Serde(&groups)),
    };
    let mut render = || -> Result<(), minijinja::Error> {
        let compiled = environment.get_template(template)?;
        compiled.render_captured_to(&context, &mut *out)?;
        Ok(())
    };
    render().map_err(|error| {
        let changed = bundle
            .items
            .iter()
            .find_map(|item| item.content.as_ref()?.render_error());
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
    })
}

/// Inline code that survives any text: control characters shown escaped (a newline in a
/// file name as `\n`), and a backtick fence longer than any backtick run inside.
pub fn code(text: &str) -> String {
    let mut shown = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '\n' => shown.push_str("\\n"),
            '\r' => shown.push_str("\\r"),
            '\t' => shown.push_str("\\t"),
            character if character.is_control() => {
                shown.push_str(&format!("\\u{{{:x}}}", u32::from(character)))
            }
            character => shown.push(character),
        }
    }
    let fence = "`".repeat(files::longest_backtick_run(&shown) + 1);
    // A code span that starts or ends with a backtick needs a space inside the fence.
    let pad = if shown.starts_with('`') || shown.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{shown}{pad}{fence}")
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

/// The bundle as pretty JSON (`ctx.bundle/v1`), newline-terminated, into `out`.
pub fn json(bundle: &Bundle, out: &mut dyn io::Write) -> Result<(), RenderError> {
    serde_json::to_writer_pretty(&mut *out, bundle).map_err(|error| {
        let changed = bundle
            .items
            .iter()
            .find_map(|item| item.content.as_ref()?.render_error());
        match changed {
            Some(changed) => RenderError::Content(changed),
            None => RenderError::Io(io::Error::from(error)),
        }
    })?;
    out.write_all(b"\n")?;
    Ok(())
}
