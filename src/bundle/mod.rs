//! The bundle stage: layers ([`layer`]) → merge ([`merge`], the only merge rules) →
//! files read and tokens counted ([`build`], [`files`], [`tokens`]) → budget
//! ([`budget`]) → output ([`render`]: Markdown template or JSON of [`model`]).

pub mod budget;
pub mod build;
pub mod files;
pub mod layer;
pub mod merge;
pub mod model;
mod pretokenize;
pub mod render;
pub mod select;
pub mod tokens;
