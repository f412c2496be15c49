//! `{{ inputs.KEY }}` in a feature's text fields (constraint texts, pattern `why`, phase
//! descriptions): found here for validation and filled in when a bundle is made.

use std::borrow::Cow;
use std::collections::BTreeMap;

/// The input keys a text references, in order (`{{ inputs.ticket }}`, spaces optional).
pub fn references(text: &str) -> Vec<&str> {
    scan(text).into_iter().map(|found| found.key).collect()
}

/// The text with each reference to a given input replaced by its value; references to
/// inputs not given stay as written, so the reader sees what is missing.
pub fn fill<'t>(text: &'t str, inputs: &BTreeMap<String, String>) -> Cow<'t, str> {
    let found = scan(text);
    if found.iter().all(|found| !inputs.contains_key(found.key)) {
        return Cow::Borrowed(text);
    }
    let mut filled = String::with_capacity(text.len());
    let mut at = 0;
    for found in found {
        if let Some(value) = inputs.get(found.key) {
            filled.push_str(&text[at..found.start]);
            filled.push_str(value);
            at = found.end;
        }
    }
    filled.push_str(&text[at..]);
    Cow::Owned(filled)
}

struct Found<'t> {
    start: usize,
    end: usize,
    key: &'t str,
}

fn scan(text: &str) -> Vec<Found<'_>> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(open) = text[from..].find("{{").map(|offset| from + offset) {
        let rest = &text[open + 2..];
        let inner = rest.trim_start();
        let skipped = rest.len() - inner.len();
        let parsed = inner.strip_prefix("inputs.").and_then(|after| {
            let key_len = after
                .find(|character: char| {
                    !(character.is_ascii_alphanumeric() || character == '_' || character == '-')
                })
                .unwrap_or(after.len());
            let tail = after[key_len..].trim_start();
            (key_len > 0 && tail.starts_with("}}")).then(|| {
                let key = &after[..key_len];
                let end = text.len() - tail.len() + 2;
                (key, end)
            })
        });
        match parsed {
            Some((key, end)) => {
                found.push(Found {
                    start: open,
                    end,
                    key,
                });
                from = end;
            }
            None => from = open + 2 + skipped.min(rest.len()),
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_fill() {
        let text =
            "ticket {{ inputs.ticket }} and {{inputs.area}}, not {{ other }} or {{ inputs. }}";
        assert_eq!(references(text), ["ticket", "area"]);
        let inputs = BTreeMap::from([(String::from("ticket"), String::from("SHOP-1"))]);
        assert_eq!(
            fill(text, &inputs),
            "ticket SHOP-1 and {{inputs.area}}, not {{ other }} or {{ inputs. }}"
        );
        assert!(matches!(fill("plain {{ x", &inputs), Cow::Borrowed(_)));
        assert_eq!(
            fill("{{ inputs.ticket}}{{inputs.ticket }}", &inputs),
            "SHOP-1SHOP-1"
        );
    }
}
