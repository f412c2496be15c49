//! Exact token counts with the vocabularies embedded in the binary (o200k, cl100k): the
//! pieces of [`pretokenize`](super::pretokenize), each encoded by [`vocab`](super::vocab).
//! Verified against `tiktoken-rs`, an independent implementation, by a test.
//!
//! Two things make counting fast without changing a count: the hand-written
//! [`pretokenize`](super::pretokenize) splitter, and a per-thread memo of the count of
//! each piece (source code repeats its words, indentation, punctuation and comment
//! rulers; a piece always encodes to the same tokens, whatever surrounds it). The memo
//! is fixed tables compared byte for byte, so a hit is always the count of exactly that
//! piece: pieces of 3 to 7 bytes (most of them) packed with their count in one word,
//! those of 8 to 24 bytes in 32-byte slots, longer ones (up to [`MEMO_LONG_BYTES`])
//! boxed. Pieces of one or two bytes (two in five of source code's) are not memoised: a byte is one token, and a pair of bytes
//! one or two by a bit of the vocabulary's 8 KiB table ([`Vocab::count_short`]), which
//! stays in the first-level cache where a memo slot is a miss of the second (mixed
//! benchmark corpus: ~7% less CPU for a cold bundle). Splitting the short pieces by
//! size doubled the slots for the common ones in the same 2 MiB per thread (a cold
//! bundle of the mixed benchmark corpus: 4.6% less CPU), and packing the shortest into
//! one word doubled them again in the same 1 MiB (counting one thread's 57 MB of that
//! corpus: 2% less time); a table shared by both threads (a sequence lock per slot)
//! merged 35% fewer pieces but saved no time.

use std::cell::RefCell;
use std::ops::Range;

use super::pretokenize::{self, Pattern};
use super::vocab::{self, Vocab, mix, vocab_hash, word_of};
use crate::config::settings::Tokenizer;

/// Pieces up to this many bytes are memoised inline.
const MEMO_PIECE_BYTES: usize = 24;
/// Memo slots per thread for pieces of 3 to 7 bytes (1 MiB: 8 bytes each, no allocation
/// per entry), the table index being the top `TINY_BITS` of the key's hash.
const TINY_BITS: u32 = 17;
const MEMO_TINY_SLOTS: usize = 1 << TINY_BITS;
/// The key bits of a [`Memo::tiny`] slot: the piece's bytes zero-padded in the low 56
/// bits, then its length (3 bits) and tokenizer (2); the top 3 bits are its count (a
/// piece of up to 7 bytes is at most 7 tokens). 0 = empty (no piece there is shorter
/// than 3 bytes).
const TINY_KEY: u64 = (1 << 61) - 1;
/// Memo slots per thread for pieces of 8 to 24 bytes (1 MiB: 32 bytes each).
const MEMO_SLOTS: usize = 1 << 15;
/// Pieces up to this many bytes are memoised in the boxed table (at most 1 MiB of
/// pieces per thread); longer ones are rare and merged each time.
const MEMO_LONG_BYTES: usize = 256;
/// Boxed memo slots per thread.
const MEMO_LONG_SLOTS: usize = 1 << 12;

/// One inline memo slot: the piece's bytes zero-padded to three words, its length and
/// tokenizer (`length | tokenizer << 8`; 0 = empty), and its count. Direct-mapped: a
/// colliding piece replaces the one there. Compared as four integers, never as bytes.
#[derive(Clone, Copy, Default)]
struct MemoSlot {
    words: [u64; 3],
    meta: u32,
    count: u32,
}

impl MemoSlot {
    /// Whether the slot holds the text of `meta` (length and tokenizer) and `words`.
    fn holds(&self, meta: u32, words: &[u64; 3]) -> bool {
        self.meta == meta && self.words == *words
    }
}

/// A [`MemoSlot`] for a text of up to 8 bytes (a pair memo slot): one word.
#[derive(Clone, Copy, Default)]
struct TinySlot {
    word: u64,
    meta: u32,
    count: u32,
}

impl TinySlot {
    /// Whether the slot holds the text of `meta` (length and tokenizer) and `word`.
    fn holds(&self, meta: u32, word: u64) -> bool {
        self.meta == meta && self.word == word
    }
}

/// The memo slot of a text of up to 8 bytes, from its word and `meta`, in a table of
/// `slots` (as [`slot_of`] for longer ones).
fn tiny_slot_of(meta: u32, word: u64, slots: usize) -> usize {
    (mix(u64::from(meta), word) >> 48) as usize % slots
}

/// Pair memo slots per thread, of each size (256 + 512 KiB): see
/// [`Counter::remembered`].
const MEMO_PAIR_SLOTS: usize = 1 << 14;

/// One boxed memo slot: the tokenizer, the piece and its count (an empty piece = empty).
type LongSlot = (u8, Box<[u8]>, u32);

#[derive(Default)]
struct Memo {
    tiny: Vec<u64>,
    short: Vec<MemoSlot>,
    long: Vec<LongSlot>,
    /// Pairs of counts by short text, their count field `first | second << 16`: of up
    /// to 8 bytes, and of 9 to 24.
    tiny_pairs: Vec<TinySlot>,
    pairs: Vec<MemoSlot>,
}

thread_local! {
    static MEMO: RefCell<Memo> = RefCell::new(Memo::default());
}

/// Free this thread's memo of piece counts (2.5 MiB and up): counting is over, and the
/// thread goes on to other work (the next count starts a new one).
pub fn forget_memo() {
    MEMO.with_borrow_mut(|memo| *memo = Memo::default());
}

/// Count the tokens of `text` exactly as the model's tokenizer would (special-token
/// strings in the text are ordinary text).
pub fn count(tokenizer: Tokenizer, text: &str) -> usize {
    if text.is_empty() {
        return 0;
    }
    with_counter(tokenizer, |counter| counter.count(text))
}

/// Counts texts with one hold on this thread's memo: cheaper than [`count`] per text
/// when a text is counted in many short parts.
pub struct Counter<'m> {
    memo: &'m mut Memo,
    pattern: Pattern,
    vocab: &'static Vocab,
    id: u8,
}

impl Counter<'_> {
    /// Exactly [`count`]`(tokenizer, text)`.
    pub fn count(&mut self, text: &str) -> usize {
        pretokenize::pieces(self.pattern, text)
            .map(|piece| self.memo.count(self.vocab, self.id, text.as_bytes(), piece))
            .sum()
    }

    /// `counts(self)`, remembered on this thread by `key` when `key` has at most 24
    /// bytes and both counts are below 65,536: for two counts that depend on a short
    /// text alone (a JSON zone as read and as escaped), which source code repeats. The
    /// key is compared byte for byte, as the piece memo's.
    pub fn remembered(
        &mut self,
        key: &[u8],
        counts: impl FnOnce(&mut Self) -> (usize, usize),
    ) -> (usize, usize) {
        let length = key.len();
        if length > MEMO_PIECE_BYTES {
            return counts(self);
        }
        let meta = length as u32 | u32::from(self.id) << 8;
        let place = PairPlace::of(meta, key);
        if let Some(packed) = self.memo.pair(&place, meta) {
            return ((packed & 0xffff) as usize, (packed >> 16) as usize);
        }
        let (first, second) = counts(self);
        if let (Ok(low), Ok(high)) = (u16::try_from(first), u16::try_from(second)) {
            self.memo
                .keep_pair(place, meta, u32::from(low) | u32::from(high) << 16);
        }
        (first, second)
    }
}

/// Where a short text's pair of counts is remembered: up to 8 bytes (most JSON zones: a
/// line's end) as one word in a 16-byte slot, as the piece memo keeps short pieces.
enum PairPlace {
    Tiny(usize, u64),
    Short(usize, [u64; 3]),
}

impl PairPlace {
    fn of(meta: u32, key: &[u8]) -> Self {
        let length = key.len();
        if length <= 8 {
            let word = word_of(key, 0, length);
            return Self::Tiny(tiny_slot_of(meta, word, MEMO_PAIR_SLOTS), word);
        }
        let words = padded(key, 0, length);
        Self::Short(slot_of(meta, &words) % MEMO_PAIR_SLOTS, words)
    }
}

/// The memo slot of a short text, from its padded words and `meta` (length and
/// tokenizer): the high bits of an Fx-style hash, the well-mixed ones.
fn slot_of(meta: u32, words: &[u64; 3]) -> usize {
    (mix(mix(mix(u64::from(meta), words[0]), words[1]), words[2]) >> 48) as usize
}

/// Run `counting` with a [`Counter`] for `tokenizer` on this thread's memo.
pub fn with_counter<R>(tokenizer: Tokenizer, counting: impl FnOnce(&mut Counter<'_>) -> R) -> R {
    let (pattern, vocab, id) = match tokenizer {
        Tokenizer::O200k => (Pattern::O200k, vocab::o200k(), 1u8),
        Tokenizer::Cl100k => (Pattern::Cl100k, vocab::cl100k(), 2u8),
    };
    MEMO.with_borrow_mut(|memo| {
        if memo.short.is_empty() {
            memo.short = vec![MemoSlot::default(); MEMO_SLOTS];
            memo.tiny = vec![0; MEMO_TINY_SLOTS];
            memo.long = (0..MEMO_LONG_SLOTS)
                .map(|_| (0, Box::default(), 0))
                .collect();
            memo.tiny_pairs = vec![TinySlot::default(); MEMO_PAIR_SLOTS];
            memo.pairs = vec![MemoSlot::default(); MEMO_PAIR_SLOTS];
        }
        counting(&mut Counter {
            memo,
            pattern,
            vocab,
            id,
        })
    })
}

/// The bytes of `text[start..start + length]` (at most 24), zero-padded to three
/// little-endian words: read eight at a time from the text where it goes on, so that
/// no piece is copied byte by byte.
fn padded(text: &[u8], start: usize, length: usize) -> [u64; 3] {
    let mut words = [0u64; 3];
    for (index, word) in words.iter_mut().enumerate().take(length.div_ceil(8)) {
        let from = index * 8;
        *word = word_of(text, start + from, (length - from).min(8));
    }
    words
}

impl Memo {
    /// The packed pair of counts remembered at `place` for the text of `meta`, if any.
    fn pair(&self, place: &PairPlace, meta: u32) -> Option<u32> {
        match *place {
            PairPlace::Tiny(index, word) => {
                let slot = &self.tiny_pairs[index];
                slot.holds(meta, word).then_some(slot.count)
            }
            PairPlace::Short(index, ref words) => {
                let slot = &self.pairs[index];
                slot.holds(meta, words).then_some(slot.count)
            }
        }
    }

    /// Remember the packed pair `count` at `place` (replacing what was there).
    fn keep_pair(&mut self, place: PairPlace, meta: u32, count: u32) {
        match place {
            PairPlace::Tiny(index, word) => {
                self.tiny_pairs[index] = TinySlot { word, meta, count };
            }
            PairPlace::Short(index, words) => {
                self.pairs[index] = MemoSlot { words, meta, count };
            }
        }
    }

    fn count(&mut self, vocab: &Vocab, id: u8, text: &[u8], piece: Range<usize>) -> usize {
        let length = piece.len();
        if length <= 2 {
            return vocab.count_short(&text[piece]);
        }
        if length > MEMO_PIECE_BYTES {
            return self.count_long(vocab, id, &text[piece]);
        }
        let meta = length as u32 | u32::from(id) << 8;
        if length < 8 {
            let key =
                word_of(text, piece.start, length) | (length as u64) << 56 | u64::from(id) << 59;
            let slot = &mut self.tiny[(mix(0, key) >> (64 - TINY_BITS)) as usize];
            if *slot & TINY_KEY == key {
                return (*slot >> 61) as usize;
            }
            let count = vocab.count_at(&text[piece.start..], length);
            *slot = key | (count as u64) << 61;
            return count;
        }
        let words = padded(text, piece.start, length);
        let slot = &mut self.short[slot_of(meta, &words) % MEMO_SLOTS];
        if slot.holds(meta, &words) {
            return slot.count as usize;
        }
        let count = vocab.count_at(&text[piece.start..], length);
        *slot = MemoSlot {
            words,
            meta,
            count: u32::try_from(count).unwrap_or(u32::MAX),
        };
        count
    }

    fn count_long(&mut self, vocab: &Vocab, id: u8, bytes: &[u8]) -> usize {
        if bytes.len() > MEMO_LONG_BYTES {
            return vocab.count(bytes);
        }
        let hash = mix(vocab_hash(bytes), u64::from(id));
        let slot = &mut self.long[(hash >> 48) as usize % MEMO_LONG_SLOTS];
        if slot.0 == id && *slot.1 == *bytes {
            return slot.2 as usize;
        }
        let count = vocab.count(bytes);
        *slot = (id, bytes.into(), u32::try_from(count).unwrap_or(u32::MAX));
        count
    }
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
            String::from("a text that ends in a line break and indentation\n    "),
            // Pieces longer than the stack merge takes (64 bytes): the heap merges them.
            format!("//{}\n{}x\n", "=".repeat(150), " ".repeat(97)),
            format!(
                "const BLOB: &str = \"{}\";\n",
                "QmFzZTY0IGRhdGEgaGVyZQ".repeat(20)
            ),
            format!("{} {}", "abcdefghij".repeat(31), "ÄÖÜäöüß".repeat(25)),
            String::from("<|endoftext|> is just text here <|fim_prefix|>"),
            String::from("x=1;y=22;z=333;w=4444;v=55555;u=666666"),
            String::from("CamelCaseIdentifier snake_case_identifier SCREAMING_CASE kebab-case"),
            // Symbols, split by the ASCII rules as punctuation (Unicode's own test data).
            String::from(
                "÷ 0041 × 0308 ÷\t#  ÷ [0.2] LATIN CAPITAL LETTER A (ALetter) × [4.0] COMBINING DIAERESIS (Extend_FE) ÷ [0.3]\n→x ©2026 «é» —y— 😀😀 x😀 ×÷×'s\n",
            ),
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
