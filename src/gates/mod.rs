//! The gate stage: selection ([`select`]) → running ([`run`], output in [`capture`]),
//! which emits [`events`] → reporters ([`report`]: terminal, JSON, JUnit, GitHub
//! Actions), all fed through one fan-out.

pub mod cache;
pub mod capture;
pub mod events;
pub mod partition;
pub mod plan;
pub mod report;
pub mod run;
pub mod select;
