//! Fitting a bundle to its token budget (SPEC §4).
//!
//! Constraints, gates and phases are never shed; if they alone exceed the budget, the
//! bundle cannot be built. Otherwise content is shed until the total fits: example
//! contents first (largest first), then pattern contents from the least specific layer
//! first (largest first within a layer). A shed item stays listed with status
//! `omitted-budget` and the tokens it would have cost.

use super::model::ItemJson;
use crate::config::workspace::Section;
use crate::resolve::merge::Status;

/// Constraints, gates and phases alone need more than the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("constraints, gates and phases alone need {required} tokens, over the budget of {budget}")]
pub struct OverBudget {
    pub required: usize,
    pub budget: u64,
}

/// Shed content until `items` (plus `fixed` tokens of phases) fit `budget` (0 = no limit).
pub fn apply(items: &mut [ItemJson], fixed: usize, budget: u64) -> Result<(), OverBudget> {
    if budget == 0 {
        return Ok(());
    }
    let included = |item: &ItemJson| item.status == Status::Included;
    let required = fixed
        + items
            .iter()
            .filter(|item| {
                included(item)
                    && matches!(item.section, Section::Constraints | Section::QualityGates)
            })
            .map(|item| item.tokens)
            .sum::<usize>();
    let budget_tokens = usize::try_from(budget).unwrap_or(usize::MAX);
    if required > budget_tokens {
        return Err(OverBudget { required, budget });
    }
    let mut total = fixed
        + items
            .iter()
            .filter(|item| included(item))
            .map(|item| item.tokens)
            .sum::<usize>();
    if total <= budget_tokens {
        return Ok(());
    }
    // Shedding order: (examples before patterns, least specific layer first, largest first).
    let mut order: Vec<usize> = (0..items.len())
        .filter(|&index| {
            included(&items[index])
                && matches!(items[index].section, Section::Examples | Section::Patterns)
        })
        .collect();
    order.sort_by_key(|&index| {
        let item = &items[index];
        let examples_first = usize::from(item.section != Section::Examples);
        let layer = if item.section == Section::Examples {
            0
        } else {
            item.layer.kind as usize
        };
        (examples_first, layer, std::cmp::Reverse(item.tokens), index)
    });
    for index in order {
        if total <= budget_tokens {
            break;
        }
        let item = &mut items[index];
        total -= item.tokens;
        item.status = Status::OmittedBudget;
        item.content = None;
    }
    Ok(())
}
