//! Fitting a bundle to its token budget (SPEC §4).
//!
//! The budget bounds the whole document as written (Markdown or JSON), measured exactly
//! (see `measure.rs`), not only the file contents in it. Constraints, gates and phases
//! are never shed; if the document with every sheddable content left out still exceeds
//! the budget, the bundle cannot be built. Otherwise content is shed until the document
//! fits: example contents first (largest first), then pattern contents from the least
//! specific layer first (largest first within a layer). Then contents shed on the way
//! that fit in what is left are **filled back**, the last shed first. A shed item stays
//! listed with status `omitted-budget` and the tokens its content would have cost.

use super::content::Content;
use super::model::{Bundle, ItemJson};
use crate::config::workspace::Section;
use crate::resolve::merge::Status;

/// Constraints, gates and phases (and the document around them) alone need more than
/// the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the bundle needs {required} tokens with every pattern and example content left out, over the budget of {budget}"
)]
pub struct OverBudget {
    pub required: usize,
    pub budget: u64,
}

/// Shed (and fill back) contents of `bundle` until the document `measure` counts fits
/// `budget` (0 = no limit). Returns the count of the document as it is left, which is
/// the state `measure` saw last.
pub fn fit<E: From<OverBudget>>(
    bundle: &mut Bundle,
    budget: u64,
    measure: &mut dyn FnMut(&mut Bundle) -> Result<usize, E>,
) -> Result<usize, E> {
    let mut total = measure(bundle)?;
    let limit = usize::try_from(budget).unwrap_or(usize::MAX);
    if budget == 0 || total <= limit {
        return Ok(total);
    }
    let mut shelf: Vec<Option<Content>> = vec![None; bundle.items.len()];
    let mut shed = Vec::new();
    // Shed by estimate (a content's own count), measuring whenever the estimate fits.
    let mut estimate = total;
    for index in shedding_order(&bundle.items) {
        if estimate <= limit {
            total = measure(bundle)?;
            if total <= limit {
                break;
            }
            estimate = total;
        }
        estimate = estimate.saturating_sub(bundle.items[index].tokens);
        shelf[index] = shed_one(&mut bundle.items[index]);
        shed.push(index);
    }
    total = measure(bundle)?;
    if total > limit {
        return Err(E::from(OverBudget {
            required: total,
            budget,
        }));
    }
    // Fill back, the last shed first, while the estimate fits; then measure, and put
    // back on the shelf the last filled back until the document fits again.
    let mut filled = Vec::new();
    let mut estimate = total;
    for &index in shed.iter().rev() {
        let tokens = bundle.items[index].tokens;
        if estimate + tokens <= limit {
            restore(&mut bundle.items[index], shelf[index].take());
            estimate += tokens;
            filled.push(index);
        }
    }
    if filled.is_empty() {
        return Ok(total);
    }
    loop {
        total = measure(bundle)?;
        let Some(index) = filled.pop().filter(|_| total > limit) else {
            return Ok(total);
        };
        shelf[index] = shed_one(&mut bundle.items[index]);
    }
}

/// The sheddable items, in shedding order: examples before patterns, least specific
/// layer first, largest first.
fn shedding_order(items: &[ItemJson]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..items.len())
        .filter(|&index| {
            items[index].status == Status::Included
                && items[index].content.is_some()
                && matches!(
                    items[index].section(),
                    Section::Examples | Section::Patterns
                )
        })
        .collect();
    order.sort_by_key(|&index| {
        let item = &items[index];
        let examples_first = usize::from(item.section() != Section::Examples);
        let layer = if item.section() == Section::Examples {
            0
        } else {
            item.layer().kind as usize
        };
        (examples_first, layer, std::cmp::Reverse(item.tokens), index)
    });
    order
}

fn shed_one(item: &mut ItemJson) -> Option<Content> {
    item.status = Status::OmittedBudget;
    item.content.take()
}

fn restore(item: &mut ItemJson, content: Option<Content>) {
    item.status = Status::Included;
    item.content = content;
}
