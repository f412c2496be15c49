//! The bundle stage: the merged items of a scope ([`crate::resolve`]) → files read,
//! scanned and counted on all cores ([`build`], `inline`, [`files`], [`tokens`], with
//! the [`cache`] of counts by content hash) → budget ([`budget`]) → output ([`render`]:
//! Markdown template or JSON of [`model`]), streaming each file's [`content`] from disk
//! as it is written; [`explain`] says how a bundle was made.

pub mod budget;
pub mod build;
pub mod cache;
pub mod content;
pub mod document;
pub mod explain;
pub mod files;
pub mod generated;
mod inline;
mod json;
mod markdown;
pub mod measure;
pub mod model;
mod positional;
mod prefetch;
mod pretokenize;
pub mod render;
pub mod select;
pub mod tokens;
mod view;
mod vocab;
