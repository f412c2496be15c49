//! The built-in Markdown document, written directly: what `templates/bundle.md` renders,
//! byte for byte, without running a template over every item (the built-in template
//! filters all items by section and status five times over, through a value per field
//! read). The template stays the reference: a workspace copies it to customise, and
//! debug builds render both and compare them on every count (`measure.rs`), so every
//! test that makes a Markdown bundle checks the two agree.
//!
//! File contents are written as their stand-ins ([`content::stand_in`]), replaced when
//! the document is written out (`render.rs`).

use std::collections::HashMap;
use std::fmt::Write as _;

use super::content;
use super::files;
use super::model::{Bundle, ItemJson, LayerJson, OriginJson, ScopeKind, ValidationJson};
use crate::config::workspace::{LayerKind, Section};
use crate::resolve::merge::Status;

/// Statuses the Markdown leaves out of the pattern and example sections.
pub const HIDDEN: [Status; 5] = [
    Status::Overridden,
    Status::Disabled,
    Status::Expired,
    Status::FilteredAgent,
    Status::FilteredFeature,
];

/// `write!` into a `String`, which cannot fail.
macro_rules! put {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

/// The document of `bundle` as the built-in template writes it, with the stand-in of
/// each content (by its index in `bundle.items`) where the content goes.
pub fn document(bundle: &Bundle) -> String {
    let mut document = String::new();
    let written: Result<(), std::convert::Infallible> = write(bundle, &mut |text| {
        document.push_str(text);
        Ok(())
    });
    let Ok(()) = written;
    document
}

/// [`document`], handed to `sink` in pieces of about [`PIECE`] bytes (cut between
/// items, so that no stand-in is cut): a large bundle's document is never held whole.
pub fn write<E>(bundle: &Bundle, sink: &mut dyn FnMut(&str) -> Result<(), E>) -> Result<(), E> {
    let mut out = Piece {
        text: String::with_capacity(PIECE + PIECE / 4),
        sink,
    };
    let groups = groups(&bundle.layers, bundle.items.iter());
    header(&mut out.text, bundle);
    constraints(&mut out, bundle, &groups)?;
    plan(&mut out.text, bundle);
    patterns(&mut out, bundle, &groups)?;
    examples(&mut out, bundle)?;
    gates(&mut out.text, bundle);
    left_out(&mut out, bundle)?;
    out.text.push('\n');
    (out.sink)(&out.text)
}

/// How much of the document is handed on at once.
const PIECE: usize = 1 << 16;

/// The document's text not handed on yet, and where it goes.
struct Piece<'s, E> {
    text: String,
    sink: &'s mut dyn FnMut(&str) -> Result<(), E>,
}

impl<E> Piece<'_, E> {
    /// Hand the text on once it is [`PIECE`] bytes (called between items).
    fn spill(&mut self) -> Result<(), E> {
        if self.text.len() >= PIECE {
            (self.sink)(&self.text)?;
            self.text.clear();
        }
        Ok(())
    }
}

/// A layer's included constraints and shown patterns, by item index.
pub type Group = (Vec<usize>, Vec<usize>);

/// Each layer's position in the bundle, by kind and name.
pub fn layer_positions(layers: &[LayerJson]) -> HashMap<(LayerKind, &str), usize> {
    layers
        .iter()
        .enumerate()
        .map(|(position, layer)| ((layer.kind, layer.name.as_str()), position))
        .collect()
}

/// Each layer's [`Group`], in layer order (the template's `groups`): grouped once rather
/// than filtered per layer, which is quadratic on bundles of thousands of files.
pub fn groups<'i>(layers: &[LayerJson], items: impl Iterator<Item = &'i ItemJson>) -> Vec<Group> {
    let position = layer_positions(layers);
    let mut groups = vec![(Vec::new(), Vec::new()); layers.len()];
    for (index, item) in items.enumerate() {
        let Some(&at) = position.get(&(item.layer().kind, &*item.layer().name)) else {
            continue;
        };
        match item.section() {
            Section::Constraints if item.status == Status::Included => groups[at].0.push(index),
            Section::Patterns if !HIDDEN.contains(&item.status) => groups[at].1.push(index),
            _ => {}
        }
    }
    groups
}

fn header(out: &mut String, bundle: &Bundle) {
    put!(out, "# Context: {}\n", feature(bundle));
    if let Some(description) = bundle
        .description
        .as_deref()
        .filter(|text| !text.is_empty())
    {
        put!(out, "\n{description}\n");
    }
    if let Some(agent) = &bundle.agent {
        put!(out, "\n- **View**: agent `{agent}`");
    }
    let scope = &bundle.scope;
    if scope.kind != ScopeKind::Feature {
        put!(out, "\n- **Scope**: {}", scope.kind.as_str());
        names(out, "; domains ", &scope.domains);
        names(out, "; services ", &scope.services);
    }
    out.push_str("\n- **Layers**: ");
    for (index, layer) in bundle.layers.iter().enumerate() {
        if index > 0 {
            out.push_str(" → ");
        }
        put!(out, "{} `{}`", layer.kind.as_str(), layer.name);
    }
    if !bundle.inputs.is_empty() {
        out.push_str("\n- **Inputs**: ");
        let inputs: Vec<_> = bundle.inputs.iter().collect();
        joined(out, &inputs, |out, (key, value)| {
            put!(out, "`{key}` = {value}")
        });
    }
    if let Some(changes) = &bundle.changes {
        let files = changes.files.len();
        let base: String = changes.merge_base.chars().take(12).collect();
        put!(
            out,
            "\n- **Changes**: {files} file{} changed since `{}` (merge base `{base}`)",
            if files == 1 { "" } else { "s" },
            changes.base
        );
    }
    if let Some(parent) = &bundle.parent {
        put!(
            out,
            "\n- **Parent**: `{}` ({} tokens), from {}",
            parent.digest,
            parent.tokens,
            code(&parent.from)
        );
    }
    let tokens = &bundle.tokens;
    put!(out, "\n- **Tokens**: {}", tokens.total);
    if tokens.budget != 0 {
        put!(out, " of {} budget", with_article(tokens.budget));
    }
    put!(out, " ({})", tokens.tokenizer);
    if let Some(cumulative) = tokens.cumulative {
        put!(out, "; {cumulative} with the parent chain");
    }
    put!(out, "\n- **Digest**: `{}`", bundle.digest);
    for note in &bundle.notes {
        put!(out, "\n- **Note**: {note}");
    }
    out.push_str("\n\n## Constraints\n");
}

fn constraints<E>(piece: &mut Piece<'_, E>, bundle: &Bundle, groups: &[Group]) -> Result<(), E> {
    by_layer(
        piece,
        bundle,
        groups,
        |group| &group.0,
        "\n",
        |out, _, item| {
            put!(
                out,
                "\n- **{}**: {} <sub>",
                item.key(),
                item.text.as_deref().unwrap_or_default()
            );
            match &item.rare().text_from {
                Some(from) => put!(out, "{}, overrides {}", place(from), place(&item.origin)),
                None => out.push_str(&place(&item.origin)),
            }
            overrides(out, &item.overrides, ", overrides ");
            out.push_str("</sub>");
        },
    )
}

/// For each layer with items in its group's `pick`: the layer's heading, each item by
/// `each` (the text handed on between items), then `after`.
fn by_layer<E>(
    piece: &mut Piece<'_, E>,
    bundle: &Bundle,
    groups: &[Group],
    pick: impl Fn(&Group) -> &Vec<usize>,
    after: &str,
    mut each: impl FnMut(&mut String, usize, &ItemJson),
) -> Result<(), E> {
    for (layer, group) in bundle.layers.iter().zip(groups) {
        let indices = pick(group);
        if indices.is_empty() {
            continue;
        }
        put!(
            piece.text,
            "\n### {} `{}`\n",
            layer.kind.as_str(),
            layer.name
        );
        for &index in indices {
            piece.spill()?;
            each(&mut piece.text, index, &bundle.items[index]);
        }
        piece.text.push_str(after);
    }
    Ok(())
}

fn plan(out: &mut String, bundle: &Bundle) {
    if bundle.phases.is_empty() {
        return;
    }
    out.push_str("\n## Plan\n");
    for (index, phase) in bundle.phases.iter().enumerate() {
        put!(out, "\n{}. **{}**", index + 1, phase.name);
        if let Some(strategy) = &phase.strategy {
            put!(out, " (strategy `{strategy}`)");
        }
        if let Some(description) = phase.description.as_deref().filter(|text| !text.is_empty()) {
            put!(out, ": {description}");
        }
        names(out, "\n   - domains: ", &phase.domains);
        if !phase.patterns.is_empty() {
            out.push_str("\n   - patterns: ");
            joined(out, &phase.patterns, |out, pattern| {
                put!(out, "`{}`", pattern.key);
                if let Some(path) = &pattern.path {
                    put!(out, " ({}", code(path));
                    match pattern.status {
                        Some(Status::Included) => {}
                        Some(status) => put!(out, ", {}", status.as_str()),
                        None => out.push_str(", none"),
                    }
                    out.push(')');
                }
            });
        }
        for constraint in &phase.constraints {
            put!(
                out,
                "\n   - constraint **{}**: {}",
                constraint.key,
                constraint.text
            );
        }
        for check in &phase.validation {
            out.push_str("\n   - check: ");
            match check {
                ValidationJson::Gate { name, run, .. } => {
                    put!(out, "gate `{name}`");
                    if let Some(run) = run {
                        put!(out, " (`{run}`)");
                    }
                }
                ValidationJson::Prose { text } => out.push_str(text),
            }
        }
    }
    out.push('\n');
}

fn patterns<E>(piece: &mut Piece<'_, E>, bundle: &Bundle, groups: &[Group]) -> Result<(), E> {
    if groups.iter().all(|(_, patterns)| patterns.is_empty()) {
        return Ok(());
    }
    piece.text.push_str("\n## Patterns\n");
    by_layer(
        piece,
        bundle,
        groups,
        |group| &group.1,
        "",
        |out, index, item| {
            let rare = item.rare();
            put!(out, "\n#### {}", item.key());
            if let Some(path) = item.path() {
                put!(out, ": {}", code(path));
                if let Some(lines) = item.lines {
                    put!(out, " (lines {lines})");
                }
            }
            out.push_str("\n\n");
            if let Some(why) = &item.why {
                put!(out, "{why}\n\n");
            }
            put!(out, "<sub>from {}", place(&item.origin));
            if let Some(service) = &rare.from_service {
                put!(out, ", shared by `{service}`");
            }
            overrides(out, &item.overrides, ", overrides ");
            put!(out, " · {} tokens</sub>\n", item.tokens);
            body(out, index, item);
        },
    )
}

fn examples<E>(piece: &mut Piece<'_, E>, bundle: &Bundle) -> Result<(), E> {
    let examples: Vec<usize> = (0..bundle.items.len())
        .filter(|&index| {
            let item = &bundle.items[index];
            item.section() == Section::Examples && !HIDDEN.contains(&item.status)
        })
        .collect();
    if examples.is_empty() {
        return Ok(());
    }
    piece.text.push_str("\n## Examples\n");
    for index in examples {
        piece.spill()?;
        let out = &mut piece.text;
        let item = &bundle.items[index];
        let layer = item.layer();
        put!(
            out,
            "\n#### {} <sub>({} `{}`, {} tokens)</sub>\n",
            code(item.path().unwrap_or_default()),
            layer.kind.as_str(),
            layer.name,
            item.tokens
        );
        body(out, index, item);
    }
    Ok(())
}

/// An item's content in its fence, or why it has none.
fn body(out: &mut String, index: usize, item: &ItemJson) {
    let rare = item.rare();
    if let Some(content) = &item.content {
        let fence = content.fence();
        put!(
            out,
            "\n{fence}{}\n{}",
            item.language.unwrap_or_default(),
            content::stand_in(index)
        );
        if !content.ends_with_newline() {
            out.push('\n');
        }
        put!(out, "{fence}\n");
    } else if let Some(same_as) = &rare.same_as {
        put!(out, "\n_same content as {}_\n", code(&same_as.to_string()));
    } else {
        put!(out, "\n_not inlined ({})", item.status.as_str());
        if let Some(note) = &rare.note {
            put!(out, ": {note}");
        }
        out.push_str("_\n");
    }
}

fn gates(out: &mut String, bundle: &Bundle) {
    out.push_str("\n\n## Quality gates\n\nRun them with ");
    let scope = &bundle.scope;
    match scope.kind {
        ScopeKind::Feature => put!(out, "`ctx gates {}`", feature(bundle)),
        ScopeKind::Changed => put!(
            out,
            "`ctx gates --changed --base {}`",
            bundle
                .changes
                .as_ref()
                .map_or("", |changes| changes.base.as_str())
        ),
        ScopeKind::Service => put!(out, "`ctx gates --service {}`", feature(bundle)),
        ScopeKind::AdHoc => {
            out.push_str("`ctx gates");
            for domain in &scope.domains {
                put!(out, " --domain {domain}");
            }
            for service in &scope.services {
                put!(out, " --service {service}");
            }
            out.push('`');
        }
    }
    out.push_str(".\n\n| gate | command | timeout | blocking |\n|---|---|---|---|\n");
    for gate in &bundle.quality_gates {
        let timeout = gate.timeout.map_or_else(
            || String::from("default"),
            |timeout| humantime::format_duration(timeout).to_string(),
        );
        put!(
            out,
            "| `{}` | `{}` | {timeout} | {} |\n",
            gate.id,
            gate.run.replace('|', "\\|"),
            if gate.blocking { "yes" } else { "no" }
        );
    }
}

fn left_out<E>(piece: &mut Piece<'_, E>, bundle: &Bundle) -> Result<(), E> {
    let out = &mut piece.text;
    let with = |status: Status| -> Vec<&ItemJson> {
        bundle
            .items
            .iter()
            .filter(|item| item.status == status)
            .collect()
    };
    let left: Vec<&ItemJson> = bundle
        .items
        .iter()
        .filter(|item| {
            !matches!(
                item.status,
                Status::Included
                    | Status::FilteredAgent
                    | Status::FilteredFeature
                    | Status::Skipped
            )
        })
        .collect();
    let (skipped, filtered, unnamed) = (
        with(Status::Skipped),
        with(Status::FilteredAgent),
        with(Status::FilteredFeature),
    );
    if left.is_empty() && filtered.is_empty() && unnamed.is_empty() && skipped.is_empty() {
        return Ok(());
    }
    out.push_str("\n## Left out\n\n");
    let plural = |count: usize| if count == 1 { "" } else { "s" };
    // A line of `head`, the keys of `items` and `tail`, when there are any.
    let keys =
        |out: &mut String, items: &[&ItemJson], head: std::fmt::Arguments<'_>, tail: &str| {
            if !items.is_empty() {
                put!(out, "{head}");
                joined(out, items, |out, item| put!(out, "`{}`", item.key()));
                out.push_str(tail);
            }
        };
    keys(
        out,
        &skipped,
        format_args!(
            "- {} extension{} not run (",
            skipped.len(),
            plural(skipped.len())
        ),
        "): allow them with `--extensions` or `CTX_EXTENSIONS=1`\n",
    );
    keys(
        out,
        &unnamed,
        format_args!(
            "- {} domain pattern{} no phase names (the feature takes only named ones: `domain_patterns: named`): ",
            unnamed.len(),
            plural(unnamed.len())
        ),
        "\n",
    );
    if !filtered.is_empty() {
        let agent = bundle.agent.as_deref().unwrap_or("none");
        put!(
            out,
            "- {} items outside the topics and sections of agent `{agent}` (`ctx explain ",
            filtered.len()
        );
        let scope = &bundle.scope;
        match scope.kind {
            ScopeKind::Feature => put!(out, "{} ", feature(bundle)),
            ScopeKind::Service => put!(out, "--service {} ", feature(bundle)),
            ScopeKind::AdHoc | ScopeKind::Changed => {
                for domain in &scope.domains {
                    put!(out, "--domain {domain} ");
                }
                for service in &scope.services {
                    put!(out, "--service {service} ");
                }
            }
        }
        put!(out, "--agent {agent}` lists them)\n");
    }
    for item in left {
        piece.spill()?;
        let out = &mut piece.text;
        let rare = item.rare();
        put!(
            out,
            "- {}: {}",
            code(&item.id.to_string()),
            item.status.as_str()
        );
        if let Some(note) = &rare.note {
            put!(out, " ({note})");
        }
        overrides(out, &rare.overridden_by, " by ");
        out.push('\n');
    }
    Ok(())
}

/// The bundle's name as the template shows it (`none` when it has none).
fn feature(bundle: &Bundle) -> &str {
    bundle.feature.as_deref().unwrap_or("none")
}

/// `` `file:line` ``.
fn place(origin: &OriginJson) -> String {
    format!("`{}:{}`", origin.file, origin.line)
}

/// `lead` and the places, comma-separated, when there are any.
fn overrides(out: &mut String, places: &[OriginJson], lead: &str) {
    if places.is_empty() {
        return;
    }
    out.push_str(lead);
    joined(out, places, |out, origin| out.push_str(&place(origin)));
}

/// `label` and `names` in backticks, comma-joined, when there are any.
fn names(out: &mut String, label: &str, names: &[String]) {
    if !names.is_empty() {
        out.push_str(label);
        joined(out, names, |out, name| put!(out, "`{name}`"));
    }
}

/// Each of `list` written by `each`, separated by `, `.
fn joined<T>(out: &mut String, list: &[T], mut each: impl FnMut(&mut String, &T)) {
    for (index, value) in list.iter().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        each(out, value);
    }
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

/// A number with the indefinite article it takes read aloud: "an 8000", "an 11000",
/// "a 1000" (the template filter `with_article`).
pub fn with_article(number: u64) -> String {
    format!("{} {number}", article(number))
}

fn article(number: u64) -> &'static str {
    let digits = number.to_string();
    let spoken_with_vowel = digits.starts_with('8')
        || ((digits.starts_with("11") || digits.starts_with("18")) && digits.len() % 3 == 2);
    if spoken_with_vowel { "an" } else { "a" }
}

#[cfg(test)]
mod tests {
    use super::article;

    #[test]
    fn article_follows_how_the_number_is_read() {
        for (number, expected) in [
            (8000, "an"),
            (800, "an"),
            (18_000, "an"),
            (11_000, "an"),
            (11, "an"),
            (110, "a"),
            (1100, "a"),
            (1000, "a"),
            (4000, "a"),
            (180_000, "a"),
        ] {
            assert_eq!(article(number), expected, "{number}");
        }
    }
}
