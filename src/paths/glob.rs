//! Globs: `*` stays within one folder, `**` crosses folders.

use globset::{GlobBuilder, GlobMatcher};

use super::PathError;

/// A compiled glob: `*` stays within one folder, `**` crosses folders.
///
/// Globs made only of `*`, `?` and `**` (nearly all of them in practice) are matched
/// segment by segment without a regex, which matters when a workspace has thousands of
/// distinct globs; anything richer (`[abc]`, `{a,b}`, escapes) goes to globset.
#[derive(Debug, Clone)]
pub enum Glob {
    Segments(Vec<String>),
    Full(GlobMatcher),
}

impl Glob {
    pub fn new(pattern: &str) -> Result<Self, PathError> {
        let pattern = pattern.trim_start_matches("./");
        if pattern.contains(['[', '{', '\\']) {
            return glob_matcher(pattern).map(Self::Full);
        }
        let segments: Vec<String> = pattern.split('/').map(str::to_owned).collect();
        // globset's rules for `**` inside a segment (`a**b`): defer to it.
        if segments
            .iter()
            .any(|segment| segment.contains("**") && segment != "**")
        {
            return glob_matcher(pattern).map(Self::Full);
        }
        Ok(Self::Segments(segments))
    }

    /// Whether a root-relative, `/`-separated path matches.
    pub fn is_match(&self, path: &str) -> bool {
        match self {
            Self::Full(matcher) => matcher.is_match(path),
            Self::Segments(segments) => {
                // Split on the stack: this runs for every candidate file of every glob.
                let mut parts = [""; 64];
                let mut count = 0;
                for part in path.split('/') {
                    let Some(slot) = parts.get_mut(count) else {
                        let parts: Vec<&str> = path.split('/').collect();
                        return match_segments(segments, &parts);
                    };
                    *slot = part;
                    count += 1;
                }
                match_segments(segments, &parts[..count])
            }
        }
    }
}

fn match_segments(pattern: &[String], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => {
            // `**` matches zero or more whole segments; a trailing `**` needs at least one.
            match rest {
                [] => !path.is_empty(),
                // `**/*.rs`, the usual tail: only the last segment can match `*.rs`.
                [last] if last != "**" => path
                    .last()
                    .is_some_and(|name| wildcard(last.as_bytes(), name.as_bytes())),
                _ => (0..=path.len()).any(|skip| match_segments(rest, &path[skip..])),
            }
        }
        Some((first, rest)) => match path.split_first() {
            Some((name, remaining)) => {
                wildcard(first.as_bytes(), name.as_bytes()) && match_segments(rest, remaining)
            }
            None => false,
        },
    }
}

/// `*` and `?` within one segment (iterative, linear backtracking).
fn wildcard(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            // `?` is one character; step over a whole UTF-8 sequence.
            if pattern[p] == b'?' {
                t += utf8_width(text[t]);
            } else {
                t += 1;
            }
            p += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + utf8_width(text[star_t]);
            star = Some((star_p, t));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&byte| byte == b'*')
}

fn utf8_width(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// A glob matcher where `*` stays within one folder and `**` crosses folders.
pub fn glob_matcher(pattern: &str) -> Result<GlobMatcher, PathError> {
    GlobBuilder::new(pattern.trim_start_matches("./"))
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map(|glob| glob.compile_matcher())
        .map_err(|error| PathError::BadGlob(error.kind().to_string()))
}
