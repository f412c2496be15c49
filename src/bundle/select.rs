//! Choosing domains for ad-hoc bundles: a name or a free-text description is matched
//! against the domains' `match.keywords` (case-insensitive, whole words, simple plurals:
//! `order` matches "orders", `category` matches "categories"; a keyword of several words
//! matches those words in sequence).

use crate::config::workspace::{Domain, Workspace};

/// A domain chosen by its keywords, with the keywords that matched.
#[derive(Debug, Clone)]
pub struct Matched<'w> {
    pub domain: &'w Domain,
    pub keywords: Vec<String>,
}

/// Domains whose keywords occur in `text`, in declaration order.
pub fn domains<'w>(workspace: &'w Workspace, text: &str) -> Vec<Matched<'w>> {
    let words = words(text);
    workspace
        .domains
        .iter()
        .filter_map(|domain| {
            let keywords: Vec<String> = domain
                .keywords
                .iter()
                .filter(|keyword| contains(&words, &self::words(keyword)))
                .cloned()
                .collect();
            (!keywords.is_empty()).then_some(Matched { domain, keywords })
        })
        .collect()
}

/// Lowercase words of letters and digits (`reset-password_flow` → reset, password, flow).
fn words(text: &str) -> Vec<String> {
    text.split(|character: char| !character.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn contains(words: &[String], keyword: &[String]) -> bool {
    !keyword.is_empty()
        && words.windows(keyword.len()).any(|window| {
            window
                .iter()
                .zip(keyword)
                .all(|(word, key)| same_word(word, key))
        })
}

/// Equal, or equal up to a simple English plural on either side.
fn same_word(a: &str, b: &str) -> bool {
    let singular = |word: &str| -> String {
        if let Some(stem) = word.strip_suffix("ies").filter(|stem| stem.len() >= 2) {
            format!("{stem}y")
        } else if let Some(stem) = word.strip_suffix("es").filter(|stem| {
            stem.ends_with(['s', 'x', 'z']) || stem.ends_with("ch") || stem.ends_with("sh")
        }) {
            stem.to_owned()
        } else if let Some(stem) = word
            .strip_suffix('s')
            .filter(|stem| stem.len() >= 2 && !stem.ends_with('s'))
        {
            stem.to_owned()
        } else {
            word.to_owned()
        }
    };
    a == b || singular(a) == singular(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_and_case_are_tolerated_but_not_substrings() {
        assert!(same_word("orders", "order"));
        assert!(same_word("categories", "category"));
        assert!(same_word("boxes", "box"));
        assert!(same_word("Password".to_lowercase().as_str(), "passwords"));
        assert!(!same_word("author", "auth"));
        let text = words("Reset a PASSWORD by e-mail for order-history");
        assert!(contains(&text, &words("password")));
        assert!(contains(&text, &words("orders")));
        assert!(contains(&text, &words("order history")));
        assert!(!contains(&text, &words("pass")));
    }
}
