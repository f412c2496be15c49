//! Configuration: discovery and `ctx.toml` ([`settings`]), reading YAML into wire types
//! ([`load`], [`model`]), and validation into domain types ([`validate`] →
//! [`workspace`]), with every problem a located [`diagnostic::Problem`].

pub mod convert;
pub mod diagnostic;
pub mod lineage;
pub mod load;
pub mod lock;
pub mod model;
pub mod placeholders;
pub mod settings;
pub mod sources;
pub mod suggest;
pub mod validate;
pub mod workspace;

use std::path::Path;

use crate::date::Date;
use diagnostic::Problem;
use validate::Validation;

/// Discover, load and validate the workspace: the front half of every command.
///
/// `Err` means nothing usable could be loaded (no root, broken `ctx.toml`).
pub fn open(explicit_root: Option<&Path>, today: Date) -> Result<Validation, Vec<Problem>> {
    open_locked(explicit_root, today, false)
}

/// [`open`]; with `locked`, `ctx.lock` must exist and record every file patterns show
/// unchanged (drift is an error, not a warning).
pub fn open_locked(
    explicit_root: Option<&Path>,
    today: Date,
    locked: bool,
) -> Result<Validation, Vec<Problem>> {
    let root = settings::discover(explicit_root).map_err(|problem| vec![*problem])?;
    let settings = settings::load(&root)?;
    // Imported sources load from their checkouts, pinned by the lock (offline).
    let lock = lock::read(&root);
    let sources = match settings.sources.is_empty() {
        true => Vec::new(),
        false => {
            let pinned = lock.as_ref().map_err(|problem| vec![(**problem).clone()])?;
            sources::trees(&root, &settings.sources, pinned.as_ref())?
        }
    };
    let resolver = std::sync::Arc::new(crate::paths::Resolver::with_sources(
        &root,
        sources
            .iter()
            .map(|tree| (tree.name.clone(), tree.root.clone()))
            .collect(),
    ));
    // The file index (for globs) needs a walk of the tree; build it while files are parsed.
    // (If no thread can be started, the index is built when first needed.)
    let loaded = std::thread::scope(|scope| {
        let _ = std::thread::Builder::new().spawn_scoped(scope, || resolver.index().len());
        load::load(&root, &settings.config, settings.source.as_ref(), &sources)
    });
    // The workspace keeps the resolver: bundles reuse its index and caches.
    let validation = validate::validate(&root, settings, &loaded, today, resolver, &lock, locked);
    crate::parallel::drop_in_background(loaded);
    Ok(validation)
}
