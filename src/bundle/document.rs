//! Which document a bundle is written as (a leaf: the cache, the inliner and the
//! measurer all key their work by it).

/// The document a bundle is written as; its token total is the exact count of that
/// document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Document {
    #[default]
    Markdown,
    Json,
}
