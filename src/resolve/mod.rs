//! Resolution: a scope → its layers in the one layer order ([`lineage`]) → merged items
//! ([`merge`], the only merge rules). Shared by bundles, gate selection and validation;
//! it reads no file and counts no token.

pub mod lineage;
pub mod merge;
