//! A fast pre-tokenizer for the o200k and cl100k patterns, exact by construction.
//!
//! Before BPE, tiktoken splits text with a regular expression into pieces (words with
//! their leading space, runs of up to three digits, punctuation runs, whitespace). The
//! general regex engine spends most of ctx's bundle time there, so the patterns are
//! written out here by hand for ASCII, the bulk of any source tree:
//!
//! ```text
//! o200k   [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//!       | [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//!       | \p{N}{1,3} | ?[^\s\p{L}\p{N}]+[\r\n/]* | \s*[\r\n]+ | \s+(?!\S) | \s+
//! cl100k  (?i:'s|'t|'re|'ve|'m|'ll|'d) | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N}{1,3}
//!       | ?[^\s\p{L}\p{N}]+[\r\n]* | \s+$ | \s*[\r\n]+ | \s+(?!\S) | \s+
//! ```
//!
//! (cl100k as tiktoken publishes it today, possessive quantifiers written out:
//! `\s++$` comes before `\s*[\r\n]`, so a whitespace run that ends the text is one
//! piece even when it holds a line break. ctx used to split it at the break, as the
//! older pattern does; no count we tried differed, but the pieces are now tiktoken's.)
//!
//! The rule: a decision that would look at a non-ASCII character is never guessed. The
//! piece is then taken from a general regex (below, compiled on first use), so every
//! piece is the one the pattern would produce. Property tests compare the whole splitter
//! with tiktoken's own patterns run by `fancy-regex`, on generated text.
//!
//! One kind of non-ASCII character is decided here all the same: a *symbol*, neither a
//! letter, a mark, a number nor white space (`÷`, `×`, `→`, `—`, `©`, an emoji). Every
//! class of both patterns that holds one holds all ASCII punctuation too and vice versa
//! (`[^\s\p{L}\p{N}]`, `[^\r\n\p{L}\p{N}]`), and no alternative names a non-ASCII
//! character (the case-insensitive contractions fold only to letters: `ſ`, `K`), so a
//! symbol splits exactly as `#` does. Which characters are symbols comes from the
//! Unicode tables of the regex engine the general splitter runs ([`is_symbol`]). Text
//! full of them (Unicode's own test data, box drawings, maths) is then split at the
//! speed of ASCII (a cold bundle of the mixed benchmark corpus spent ~10% of its
//! counting in the general regex, most of it on four such files).

use std::ops::Range;
use std::sync::LazyLock;

use regex_automata::meta::Regex;
use regex_automata::{Anchored, Input};

/// Which pattern to split by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    O200k,
    Cl100k,
}

/// The pieces of `text` as byte ranges, in order, covering `text`.
pub fn pieces(pattern: Pattern, text: &str) -> impl Iterator<Item = Range<usize>> {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= text.len() {
            return None;
        }
        let end = match piece_end(pattern, text.as_bytes(), start) {
            Some(end) => end,
            None => start + general_piece(pattern, &text[start..])?,
        };
        let piece = start..end;
        start = end;
        Some(piece)
    })
}

/// The general splitter: the pattern as alternatives the `regex-automata` engine runs
/// (it has no look-ahead). `\s+(?!\S)` becomes `\s+\s` with the last character given
/// back (pattern 1), exactly as `bpe-openai` does it; `\s+$` catches the run at the end.
struct General {
    regex: Regex,
}

#[expect(
    clippy::expect_used,
    reason = "the patterns are constants, compiled by the tests"
)]
fn general(patterns: [&str; 3]) -> General {
    General {
        regex: Regex::new_many(&patterns).expect("invariant: pre-tokenizer patterns are valid"),
    }
}

static GENERAL_O200K: LazyLock<General> = LazyLock::new(|| {
    let words = [
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        r"\p{N}{1,3}",
        r" ?[^\s\p{L}\p{N}]+[\r\n/]*",
        r"\s*[\r\n]+",
        r"\s+$",
    ]
    .join("|");
    general([&words, r"\s+\s", r"\s+"])
});

static GENERAL_CL100K: LazyLock<General> = LazyLock::new(|| {
    general([
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s+$|\s*[\r\n]+",
        r"\s+\s",
        r"\s+",
    ])
});

/// The length of the piece at the start of `text` (not empty), by the general regex.
fn general_piece(pattern: Pattern, text: &str) -> Option<usize> {
    let general = match pattern {
        Pattern::O200k => &*GENERAL_O200K,
        Pattern::Cl100k => &*GENERAL_CL100K,
    };
    let found = general
        .regex
        .find(Input::new(text).anchored(Anchored::Yes))?;
    let mut end = found.end();
    if found.pattern().as_usize() == 1 {
        end -= text[..end].chars().next_back()?.len_utf8();
    }
    (end > 0).then_some(end)
}

/// A character seen by the ASCII rules: a byte, a [symbol](is_symbol) of that many
/// bytes, or the end of the text. `None` from [`at`] means any other non-ASCII
/// character: the rules give up.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ch {
    Byte(u8),
    Symbol(usize),
    End,
}

fn at(text: &[u8], index: usize) -> Option<Ch> {
    match text.get(index) {
        None => Some(Ch::End),
        Some(&byte) if byte.is_ascii() => Some(Ch::Byte(byte)),
        Some(_) => symbol_at(text, index).map(Ch::Symbol),
    }
}

/// The length of the character at `index` (a char boundary, not ASCII) if it is a
/// [symbol](is_symbol).
fn symbol_at(text: &[u8], index: usize) -> Option<usize> {
    let length = match text[index] {
        0xf0.. => 4,
        0xe0.. => 3,
        _ => 2,
    };
    let character = std::str::from_utf8(text.get(index..index + length)?)
        .ok()?
        .chars()
        .next()?;
    is_symbol(character).then_some(length)
}

/// The characters that are not [symbols](is_symbol): one bit per character of the Basic
/// Multilingual Plane (8 KiB), the class's ranges for those above it.
struct NotSymbols {
    plane: Vec<u64>,
    ranges: Vec<(char, char)>,
}

/// Whether `character` (not ASCII) is none of `\p{L}`, `\p{N}`, `\p{M}` and `\s`, by
/// the Unicode tables of `regex-syntax`, with which the general splitter's engine
/// compiles its patterns.
fn is_symbol(character: char) -> bool {
    static NOT_SYMBOLS: LazyLock<NotSymbols> = LazyLock::new(|| {
        let ranges = not_symbol_ranges();
        let mut plane = vec![0u64; 0x1_0000 / 64];
        for &(start, end) in &ranges {
            for code in u32::from(start)..=u32::from(end).min(0xffff) {
                plane[code as usize / 64] |= 1 << (code % 64);
            }
        }
        NotSymbols { plane, ranges }
    });
    let code = u32::from(character);
    if code <= 0xffff {
        return NOT_SYMBOLS.plane[code as usize / 64] >> (code % 64) & 1 == 0;
    }
    let ranges = &NOT_SYMBOLS.ranges;
    let after = ranges.partition_point(|&(start, _)| start <= character);
    after == 0 || ranges[after - 1].1 < character
}

/// The ranges of `[\p{L}\p{N}\p{M}\s]`, sorted.
fn not_symbol_ranges() -> Vec<(char, char)> {
    let parsed = regex_syntax::ParserBuilder::new()
        .unicode(true)
        .build()
        .parse(r"[\p{L}\p{N}\p{M}\s]");
    match parsed.map(regex_syntax::hir::Hir::into_kind) {
        Ok(regex_syntax::hir::HirKind::Class(regex_syntax::hir::Class::Unicode(class))) => class
            .ranges()
            .iter()
            .map(|range| (range.start(), range.end()))
            .collect(),
        // Not reached (a constant class, parsed by the tests): every character then
        // counts as a letter, and the general regex decides.
        _ => vec![('\u{80}', char::MAX)],
    }
}

/// Byte classes, one table lookup per byte ([`CLASSES`]).
const UPPER: u8 = 1;
const LOWER: u8 = 2;
const DIGIT: u8 = 4;
/// `\s` (Unicode `White_Space`) restricted to ASCII: tab, newline, vertical tab, form
/// feed, carriage return and space (not the separators U+001C–U+001F).
const SPACE: u8 = 8;
/// `[^\s\p{L}\p{N}]` restricted to ASCII: punctuation and symbols.
const PUNCT: u8 = 16;
/// `[^\r\n\p{L}\p{N}]` restricted to ASCII: the optional character before a word.
const PREFIX: u8 = 32;
/// A byte of a non-ASCII character: the ASCII rules give up.
const HIGH: u8 = 64;

/// The class bits of every byte.
static CLASSES: [u8; 256] = {
    let mut classes = [0u8; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        classes[byte] = if !b.is_ascii() {
            HIGH
        } else if b.is_ascii_uppercase() {
            UPPER
        } else if b.is_ascii_lowercase() {
            LOWER
        } else if b.is_ascii_digit() {
            DIGIT
        } else {
            // Neither a letter nor a digit: a space or punctuation, and a word's prefix
            // unless it breaks the line.
            let class = if matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ') {
                SPACE
            } else {
                PUNCT
            };
            if matches!(b, b'\r' | b'\n') {
                class
            } else {
                class | PREFIX
            }
        };
        byte += 1;
    }
    classes
};

fn class(byte: u8) -> u8 {
    CLASSES[usize::from(byte)]
}

fn is_prefix(byte: u8) -> bool {
    class(byte) & PREFIX != 0
}

fn is_punct(byte: u8) -> bool {
    class(byte) & PUNCT != 0
}

/// The end of the longest run from `index` of bytes of a class in `classes` (and of
/// symbols, with [`PUNCT`]); `None` when the run stops at a non-ASCII character other
/// than a symbol (which might belong to the class).
fn run(text: &[u8], mut index: usize, classes: u8) -> Option<usize> {
    while let Some(&byte) = text.get(index) {
        let found = class(byte);
        if found & classes == 0 {
            if found & HIGH == 0 {
                return Some(index);
            }
            // A symbol is punctuation; any other non-ASCII character might be in the class.
            let length = symbol_at(text, index)?;
            if classes & PUNCT == 0 {
                return Some(index);
            }
            index += length;
            continue;
        }
        index += 1;
    }
    Some(index)
}

/// `(?i:'s|'t|'re|'ve|'m|'ll|'d)` at `index`: its end, or `index` when absent.
fn contraction(text: &[u8], index: usize) -> Option<usize> {
    if at(text, index)? != Ch::Byte(b'\'') {
        return Some(index);
    }
    let lower = |offset: usize| -> Option<Option<u8>> {
        Some(match at(text, index + offset)? {
            Ch::Byte(byte) => Some(byte.to_ascii_lowercase()),
            Ch::Symbol(_) | Ch::End => None,
        })
    };
    let end = match lower(1)? {
        Some(b's' | b't' | b'm' | b'd') => index + 2,
        Some(b'r' | b'v') if lower(2)? == Some(b'e') => index + 3,
        Some(b'l') if lower(2)? == Some(b'l') => index + 3,
        _ => index,
    };
    Some(end)
}

/// The end of the piece that starts at `start` (a char boundary before the end), or
/// `None` when the ASCII rules cannot decide it.
fn piece_end(pattern: Pattern, text: &[u8], start: usize) -> Option<usize> {
    // A symbol splits as `#` does (see the module docs); `width` is the first
    // character's length.
    let (first, width) = match at(text, start)? {
        Ch::Byte(byte) => (byte, 1),
        Ch::Symbol(length) => (b'#', length),
        Ch::End => return None,
    };
    if pattern == Pattern::Cl100k && first == b'\'' {
        let end = contraction(text, start)?;
        if end > start {
            return Some(end);
        }
    }
    // Words, with one optional leading non-letter.
    if first.is_ascii_alphabetic() || is_prefix(first) {
        let word = if is_prefix(first) {
            start + width
        } else {
            start
        };
        let end = match pattern {
            Pattern::O200k => {
                let uppers = run(text, word, UPPER)?;
                let lowers = run(text, uppers, LOWER)?;
                (lowers > word).then_some(lowers)
            }
            Pattern::Cl100k => {
                let letters = run(text, word, UPPER | LOWER)?;
                (letters > word).then_some(letters)
            }
        };
        if let Some(end) = end {
            return match pattern {
                Pattern::O200k => contraction(text, end),
                Pattern::Cl100k => Some(end),
            };
        }
    }
    // Up to three digits.
    if first.is_ascii_digit() {
        let mut end = start + 1;
        while end < start + 3 {
            match at(text, end)? {
                Ch::Byte(byte) if byte.is_ascii_digit() => end += 1,
                _ => break,
            }
        }
        return Some(end);
    }
    // Punctuation, with one optional leading space, then line breaks (and `/` for o200k).
    let punct = if first == b' ' {
        match at(text, start + 1)? {
            Ch::Byte(byte) if is_punct(byte) => Some(start + 1),
            Ch::Symbol(_) => Some(start + 1),
            _ => None,
        }
    } else if is_punct(first) {
        Some(start)
    } else {
        None
    };
    if let Some(punct) = punct {
        let mut end = run(text, punct, PUNCT)?;
        while let Some(&byte) = text.get(end) {
            let tail = matches!(byte, b'\r' | b'\n') || (pattern == Pattern::O200k && byte == b'/');
            if !tail {
                break;
            }
            end += 1;
        }
        return Some(end);
    }
    // Whitespace: through the last line break of the run; else the whole run at the end
    // of the text; else all but the last character (which joins the next word). cl100k
    // (`\s++$` first) takes a run that reaches the end whole, line breaks and all.
    let end = run(text, start, SPACE)?;
    if pattern == Pattern::Cl100k && end == text.len() {
        return Some(end);
    }
    if let Some(last_break) = text[start..end]
        .iter()
        .rposition(|&byte| matches!(byte, b'\r' | b'\n'))
    {
        return Some(start + last_break + 1);
    }
    if end == text.len() || end - start == 1 {
        return Some(end);
    }
    Some(end - 1)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// tiktoken's patterns as tiktoken publishes them, look-ahead and all, run by a
    /// backtracking engine: an oracle independent of both the ASCII rules and the
    /// general regex above.
    fn oracle(pattern: Pattern) -> &'static fancy_regex::Regex {
        static O200K: LazyLock<fancy_regex::Regex> =
            LazyLock::new(|| fancy_regex::Regex::new(tiktoken_rs::O200K_BASE_PAT_STR).unwrap());
        static CL100K: LazyLock<fancy_regex::Regex> = LazyLock::new(|| {
            fancy_regex::Regex::new(
                r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s",
            )
            .unwrap()
        });
        match pattern {
            Pattern::O200k => &O200K,
            Pattern::Cl100k => &CL100K,
        }
    }

    fn check(text: &str) {
        for pattern in [Pattern::O200k, Pattern::Cl100k] {
            let fast: Vec<&str> = pieces(pattern, text).map(|piece| &text[piece]).collect();
            let slow: Vec<&str> = oracle(pattern)
                .find_iter(text)
                .map(|found| found.unwrap().as_str())
                .collect();
            assert_eq!(fast, slow, "{pattern:?} on {text:?}");
            let mut start = 0;
            let general: Vec<&str> = std::iter::from_fn(|| {
                let end = start
                    + general_piece(pattern, text.get(start..).filter(|rest| !rest.is_empty())?)?;
                let piece = &text[start..end];
                start = end;
                Some(piece)
            })
            .collect();
            assert_eq!(general, slow, "general {pattern:?} on {text:?}");
        }
    }

    #[test]
    fn matches_the_regex_on_tricky_text() {
        for text in [
            "",
            "fn main() {\n    println!(\"hi\");\n}\n",
            "FOOBar fooBar FOO'S it's we'VE they'll I'd 'sa 'x '",
            "a  b   \t c\r\n\r\n  \n x   ",
            "12345 1 22 333 4444 x1y22z333",
            " 123 \t( //a/b/ }\n/ ;;\r\n\r",
            "\u{b}\u{c}\u{1c}\u{1f}\0\u{7f}",
            "naïve café — 東京 Привет 👩‍👩‍👧 \u{a0}x \u{2003}\n",
            "÷ 0041 × 0308 ÷\t#  ÷ [0.2] LATIN (L) × [9.0] ×÷×\n→x ©2026 a→b «é» ×é é× 1÷2",
            "x'÷ '× ÷'s ÷'S 's÷ ×\r\n÷ \u{200d}\u{301}÷ ÷\u{301} 😀😀 😀x x😀 /÷/",
            "don'ſ DON'\u{17f} x'\u{212a}",
            "   ",
            "x ",
            "\n",
            "'",
            " '",
        ] {
            check(text);
        }
    }

    /// Symbols by the engine's tables: what Unicode calls punctuation, symbols and
    /// format or private-use characters; not letters, marks, numbers or spaces.
    #[test]
    fn symbols_are_neither_letters_marks_numbers_nor_spaces() {
        for symbol in [
            '÷',
            '×',
            '→',
            '—',
            '©',
            '«',
            '€',
            '😀',
            '\u{200d}',
            '\u{e000}',
            '\u{10ffff}',
        ] {
            assert!(is_symbol(symbol), "{symbol:?}");
        }
        for other in [
            'é', 'ſ', 'K', '東', '٣', '½', '\u{301}', '\u{a0}', '\u{2003}', '\u{2028}', 'ǅ', '𝐀',
            '𝟙',
        ] {
            assert!(!is_symbol(other), "{other:?}");
        }
        assert!(not_symbol_ranges().len() > 100);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]
        #[test]
        fn matches_the_regex_on_generated_text(
            text in proptest::collection::vec(
                prop_oneof![
                    8 => proptest::char::range(' ', '~'),
                    2 => prop_oneof![Just('\n'), Just('\r'), Just('\t'), Just('\''), Just('\u{b}'), Just('\u{1c}')],
                    1 => prop_oneof![Just('é'), Just('ſ'), Just('\u{a0}'), Just('—'), Just('٣'), Just('東'), Just('\u{301}'), Just('ǅ')],
                    2 => prop_oneof![Just('÷'), Just('×'), Just('→'), Just('©'), Just('😀'), Just('\u{200d}'), Just('«'), Just('\u{e000}')],
                ],
                0..48,
            ).prop_map(|chars| chars.into_iter().collect::<String>())
        ) {
            check(&text);
        }
    }
}
