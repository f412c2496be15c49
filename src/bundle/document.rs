//! Which document a bundle is written as (a leaf: the cache, the inliner and the
//! measurer all key their work by it), and a Markdown document kept from its count.

/// The document a bundle is written as; its token total is the exact count of that
/// document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Document {
    #[default]
    Markdown,
    Json,
}

/// Stands in for the total while a document is measured: the line holding it (the
/// count line) is left out of the count, as the total cannot count itself.
pub const TOTAL_STAND_IN: usize = 7_070_707_070_707;

/// A document as counted (JSON, or Markdown made by the built-in template), with
/// stand-ins for its contents and totals, to be written as it is rather than rendered a
/// second time (`render::write_measured`): the stand-ins replaced by the contents (read
/// again and checked, as a render reads them) and by the totals.
#[derive(Debug)]
pub struct Measured {
    /// The digest of the bundle it is the document of (which covers all but its totals).
    pub digest: String,
    pub document: Document,
    /// The Markdown template (not looked at for JSON).
    pub template: String,
    pub text: String,
}

impl Measured {
    /// Whether this is the `document` of the bundle with `digest` (with `template`, for
    /// Markdown).
    pub fn is_of(&self, digest: &str, document: Document, template: &str) -> bool {
        self.digest == digest
            && self.document == document
            && (document == Document::Json || self.template == template)
    }
}
