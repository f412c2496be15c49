//! "did you mean": the closest known names for an unknown one.

use super::diagnostic::Problem;

/// The known names closest to `input` (Damerau–Levenshtein distance ≤ 2, or a
/// case-insensitive match), best first.
pub fn closest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let lowered = input.to_lowercase();
    let mut scored: Vec<(usize, &str)> = candidates
        .into_iter()
        .filter_map(|candidate| {
            let distance = strsim::damerau_levenshtein(&lowered, &candidate.to_lowercase());
            let limit = if input.chars().count() <= 3 { 1 } else { 2 };
            (distance <= limit).then_some((distance, candidate))
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored
        .into_iter()
        .map(|(_, candidate)| candidate)
        .take(3)
        .collect()
}

/// Add `did you mean` (when something is close) and the list of valid names as help.
pub fn with_did_you_mean(
    problem: Problem,
    input: &str,
    candidates: &[String],
    what: &str,
) -> Problem {
    let near = closest(input, candidates.iter().map(String::as_str));
    let listed = list(candidates);
    match near.as_slice() {
        [] if candidates.is_empty() => problem.help(format!("there are no {what} to refer to")),
        [] => problem.help(format!("{what}: {listed}")),
        [best, ..] => problem.help(format!("did you mean `{best}`? {what}: {listed}")),
    }
}

/// `a`, `b`, `c` (at most 12 shown).
pub fn list(candidates: &[String]) -> String {
    let mut shown: Vec<String> = candidates
        .iter()
        .take(12)
        .map(|candidate| format!("`{candidate}`"))
        .collect();
    if candidates.len() > 12 {
        shown.push(format!("… ({} more)", candidates.len() - 12));
    }
    shown.join(", ")
}

/// Read serde's "unknown field `x`, expected one of `a`, `b`" into the name and the
/// expected names.
pub fn parse_unknown_field(message: &str) -> Option<(String, Vec<String>)> {
    let rest = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("unknown field "))?;
    let (name, expected) = rest.split_once(['`', ','])?;
    let expected = expected.trim_start_matches([',', ' ']);
    let expected = expected
        .strip_prefix("expected one of ")
        .or_else(|| expected.strip_prefix("expected "))
        .unwrap_or("");
    let names = expected
        .split(", ")
        .flat_map(|part| part.split(" or "))
        .map(|part| part.trim().trim_matches('`').to_owned())
        .filter(|part| !part.is_empty() && part != "there are no fields")
        .collect();
    Some((name.to_owned(), names))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_names_are_suggested_best_first() {
        let names = ["patterns", "constraints", "quality_gates", "examples"];
        assert_eq!(closest("paterns", names), vec!["patterns"]);
        assert_eq!(closest("quality-gates", names), vec!["quality_gates"]);
        assert!(closest("zzz", names).is_empty());
    }

    #[test]
    fn serde_unknown_field_messages_are_parsed() {
        let (name, expected) =
            parse_unknown_field("unknown field `paterns`, expected one of name, patterns, timeout")
                .unwrap();
        assert_eq!(name, "paterns");
        assert_eq!(expected, ["name", "patterns", "timeout"]);
        let (_, expected) =
            parse_unknown_field("unknown field `x`, expected `path` or `lines`").unwrap();
        assert_eq!(expected, ["path", "lines"]);
        let (_, expected) = parse_unknown_field("unknown field `x`, there are no fields").unwrap();
        assert!(expected.is_empty());
    }
}
