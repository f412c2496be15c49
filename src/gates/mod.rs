//! The gate stage: selection ([`select`]) → running ([`run`], output in [`capture`]) →
//! reports ([`report`]: terminal, JSON, JUnit, GitHub Actions).

pub mod capture;
pub mod report;
pub mod run;
pub mod select;
