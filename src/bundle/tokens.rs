//! Exact token counts with the vocabularies embedded in the binary (o200k, cl100k), via
//! `bpe-openai`. Verified against `tiktoken-rs`, an independent implementation, by a test.
//!
//! Two things make counting fast without changing a count: the hand-written
//! [`pretokenize`](super::pretokenize) splitter, and a per-thread memo of the count of
//! each short piece (source code repeats its words, indentation and punctuation; a piece
//! always encodes to the same tokens, whatever surrounds it). The memo is a fixed table
//! compared byte for byte, so a hit is always the count of exactly that piece.

use std::cell::RefCell;
use std::hash::Hasher;

use rustc_hash::FxHasher;

use super::pretokenize::{self, Pattern};
use crate::config::settings::Tokenizer;

/// Pieces up to this many bytes are memoised.
const MEMO_PIECE_BYTES: usize = 24;
/// Memo slots per thread (a fixed 2 MiB: 32 bytes each, no allocation per entry).
const MEMO_SLOTS: usize = 1 << 16;

/// One memo slot: `[length, tokenizer, piece bytes (24), pad (2), count (u32 LE)]`;
/// length 0 = empty. Direct-mapped: a colliding piece replaces the one there.
type MemoSlot = [u8; 32];

thread_local! {
    static MEMO: RefCell<Vec<MemoSlot>> = const { RefCell::new(Vec::new()) };
}

/// Free this thread's memo of piece counts (2 MiB): counting is over, and the thread
/// goes on to other work (the next count starts a new one).
pub fn forget_memo() {
    MEMO.with_borrow_mut(|memo| *memo = Vec::new());
}

/// Count the tokens of `text` exactly as the model's tokenizer would (special-token
/// strings in the text are ordinary text).
pub fn count(tokenizer: Tokenizer, text: &str) -> usize {
    if text.is_empty() {
        return 0;
    }
    let (pattern, reference, id) = match tokenizer {
        Tokenizer::O200k => (Pattern::O200k, bpe_openai::o200k_base(), 1u8),
        Tokenizer::Cl100k => (Pattern::Cl100k, bpe_openai::cl100k_base(), 2u8),
    };
    MEMO.with_borrow_mut(|memo| {
        if memo.is_empty() {
            *memo = vec![[0; 32]; MEMO_SLOTS];
        }
        pretokenize::split(pattern, reference, text)
            .map(|piece| {
                let bytes = piece.as_bytes();
                if bytes.len() > MEMO_PIECE_BYTES {
                    return reference.bpe.count(bytes);
                }
                let mut hasher = FxHasher::default();
                hasher.write(bytes);
                hasher.write_u8(id);
                // The high bits of an Fx hash are the well-mixed ones.
                let index = (hasher.finish() >> 48) as usize % MEMO_SLOTS;
                let slot = &mut memo[index];
                let length = bytes.len() as u8;
                if slot[0] == length && slot[1] == id && &slot[2..2 + bytes.len()] == bytes {
                    return u32::from_le_bytes([slot[28], slot[29], slot[30], slot[31]]) as usize;
                }
                let count = reference.bpe.count(bytes);
                slot[0] = length;
                slot[1] = id;
                slot[2..2 + bytes.len()].copy_from_slice(bytes);
                slot[28..32]
                    .copy_from_slice(&u32::try_from(count).unwrap_or(u32::MAX).to_le_bytes());
                count
            })
            .sum()
    })
}

/// The tokenizer's name as shown in bundles.
pub fn name(tokenizer: Tokenizer) -> &'static str {
    match tokenizer {
        Tokenizer::O200k => "o200k",
        Tokenizer::Cl100k => "cl100k",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A varied corpus: code, prose, whitespace runs, Unicode, emoji, digits, CRLF and
    /// special-token look-alikes.
    fn corpus() -> Vec<String> {
        let mut texts: Vec<String> = vec![
            String::from("fn main() {\n    println!(\"hello, world\");\n}\n"),
            String::from(
                "The quick brown fox jumps over the lazy dog. It's 2026; we've 3,141,592 reasons.",
            ),
            String::from("   leading and   internal    spaces\t\ttabs\n\n\n\nand trailing   "),
            String::from("Grüße aus Köln — naïve café, 東京都, Привет мир, مرحبا بالعالم 🎉🚀👩‍👩‍👧"),
            String::from("line one\r\nline two\r\n\r\n"),
            String::from("<|endoftext|> is just text here <|fim_prefix|>"),
            String::from("x=1;y=22;z=333;w=4444;v=55555;u=666666"),
            String::from("CamelCaseIdentifier snake_case_identifier SCREAMING_CASE kebab-case"),
        ];
        for path in [
            "src/config/validate.rs",
            "README.md",
            "domains/src/users/jwt_auth.py",
        ] {
            if let Ok(text) = std::fs::read_to_string(path) {
                texts.push(text);
            }
        }
        texts
    }

    #[test]
    fn counts_match_an_independent_implementation() {
        let o200k = tiktoken_rs::o200k_base().unwrap();
        let cl100k = tiktoken_rs::cl100k_base().unwrap();
        for text in corpus() {
            assert_eq!(
                count(Tokenizer::O200k, &text),
                o200k.encode_ordinary(&text).len(),
                "o200k: {text:.60}"
            );
            assert_eq!(
                count(Tokenizer::Cl100k, &text),
                cl100k.encode_ordinary(&text).len(),
                "cl100k: {text:.60}"
            );
        }
    }

    #[test]
    fn empty_text_has_no_tokens() {
        assert_eq!(count(Tokenizer::O200k, ""), 0);
    }
}
