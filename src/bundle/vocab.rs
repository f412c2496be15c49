//! Byte-pair encoding over the o200k and cl100k vocabularies, as tiktoken does it.
//!
//! `build.rs` turns OpenAI's vocabulary files into tables the binary embeds (token bytes,
//! their offsets, a hash table from bytes to rank, each token's first eight bytes, the
//! rank of every two-byte string and a bit per two-byte string that is a token), so a
//! vocabulary costs no start-up work and no heap: a cold bundle of 140 MiB touches a few
//! MiB of them, and a run whose counts all come from the cache touches none.
//!
//! Counting a piece is tiktoken's algorithm: a piece that is itself a token counts 1;
//! otherwise start from single bytes and repeatedly merge the adjacent pair whose
//! concatenation has the lowest rank (the leftmost on a tie) until no pair is a token.
//! Short pieces run exactly tiktoken's loop on the stack; long ones (a run of letters in
//! minified code, a blob of base64) the same merges in the same order from a heap, which
//! is O(n log n) instead of O(n²). A test checks the two agree, and `tokens.rs` checks
//! the counts against `tiktoken-rs`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

include!("vocab_hash.rs");

/// One vocabulary's tables, as `build.rs` wrote them.
pub struct Vocab {
    bytes: &'static [u8],
    starts: &'static [u8],
    table: &'static [u8],
    heads: &'static [u8],
    pairs: &'static [u8],
    twos: &'static [u8],
    /// `64 - log2(slots)`: the table index is the hash's high bits.
    shift: u32,
}

/// The index of a two-byte string in the `pairs` and `twos` tables (as `build.rs` lays
/// them out).
fn pair_index(first: u8, second: u8) -> usize {
    usize::from(first) << 8 | usize::from(second)
}

/// The bytes of `text[start..start + length]` (1 to 8), zero-padded to a little-endian
/// word: one load where the text goes on for eight bytes.
pub fn word_of(text: &[u8], start: usize, length: usize) -> u64 {
    let mask = u64::MAX >> (64 - 8 * length);
    match text.get(start..start + 8) {
        Some(window) => u64::from_le_bytes(window.try_into().unwrap_or_default()) & mask,
        None => {
            let mut bytes = [0u8; 8];
            bytes[..length].copy_from_slice(&text[start..start + length]);
            u64::from_le_bytes(bytes)
        }
    }
}

/// Pieces up to this many bytes are merged by tiktoken's own loop, on the stack.
const SHORT: usize = 64;
/// No rank: the pair is not a token.
const NONE: u32 = u32::MAX;
/// The rank bits of a table entry.
const RANK_MASK: u32 = (1 << RANK_BITS) - 1;

macro_rules! vocab {
    ($name:literal) => {
        Vocab::new(
            include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".bytes")),
            include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".starts")),
            include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".table")),
            include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".heads")),
            include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".pairs")),
            include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".twos")),
        )
    };
}

static O200K: Vocab = vocab!("o200k_base");
static CL100K: Vocab = vocab!("cl100k_base");

/// The o200k vocabulary (GPT-4o and later).
pub fn o200k() -> &'static Vocab {
    &O200K
}

/// The cl100k vocabulary (GPT-4, GPT-3.5).
pub fn cl100k() -> &'static Vocab {
    &CL100K
}

impl Vocab {
    const fn new(
        bytes: &'static [u8],
        starts: &'static [u8],
        table: &'static [u8],
        heads: &'static [u8],
        pairs: &'static [u8],
        twos: &'static [u8],
    ) -> Self {
        let slots = table.len() / 4;
        Vocab {
            bytes,
            starts,
            table,
            heads,
            pairs,
            twos,
            shift: 64 - slots.trailing_zeros(),
        }
    }

    fn word(data: &[u8], index: usize) -> u32 {
        let at = index * 4;
        u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
    }

    /// The bytes of the token of rank `rank`.
    fn token(&self, rank: u32) -> &'static [u8] {
        let rank = rank as usize;
        &self.bytes
            [Self::word(self.starts, rank) as usize..Self::word(self.starts, rank + 1) as usize]
    }

    /// The first eight bytes of the token of rank `rank`, zero-padded.
    fn head(&self, rank: u32) -> u64 {
        word_of(self.heads, rank as usize * 8, 8)
    }

    /// The rank of the token whose bytes are `piece`, if there is one.
    #[cfg(test)]
    fn rank(&self, piece: &[u8]) -> Option<u32> {
        let rank = self.rank_in(piece, 0, piece.len());
        (rank != NONE).then_some(rank)
    }

    /// The rank of `text[start..end]` as a token, or [`NONE`]. `text` may go on past
    /// `end`: a string of up to eight bytes is then one load, compared with the token's
    /// head (`heads`) when its tag (length and fingerprint) matches.
    fn rank_in(&self, text: &[u8], start: usize, end: usize) -> u32 {
        let length = end - start;
        if length == 2 {
            return Self::word(self.pairs, pair_index(text[start], text[start + 1]));
        }
        let head = word_of(text, start, length.min(8));
        // `vocab_hash` of a string of at most eight bytes, from the word already read.
        let hash = if length <= 8 {
            mix(length as u64, head)
        } else {
            vocab_hash(&text[start..end])
        };
        let mask = self.table.len() / 4 - 1;
        let (mut slot, tag) = vocab_place(hash, self.shift, length);
        loop {
            let entry = Self::word(self.table, slot);
            if entry == NONE {
                return NONE;
            }
            if entry & !RANK_MASK == tag {
                let rank = entry & RANK_MASK;
                if self.head(rank) == head && (length <= 8 || self.token(rank) == &text[start..end])
                {
                    return rank;
                }
            }
            slot = (slot + 1) & mask;
        }
    }

    /// The number of tokens a piece of at most two bytes encodes to: a byte is a token
    /// in both vocabularies, and a pair of bytes is one token or two.
    pub fn count_short(&self, piece: &[u8]) -> usize {
        match piece {
            [first, second] => {
                let pair = pair_index(*first, *second);
                2 - usize::from(self.twos[pair / 8] >> (pair % 8) & 1)
            }
            _ => piece.len(),
        }
    }

    /// The number of tokens `piece` (one pre-tokenized piece) encodes to.
    pub fn count(&self, piece: &[u8]) -> usize {
        self.count_at(piece, piece.len())
    }

    /// [`count`](Self::count) of the piece `text[..length]`, read where the text goes on
    /// (a lookup of up to eight bytes is then one load).
    pub fn count_at(&self, text: &[u8], length: usize) -> usize {
        if length <= 1 || self.rank_in(text, 0, length) != NONE {
            return length.min(1);
        }
        if length <= SHORT {
            self.merge_short(text, length)
        } else {
            self.merge_long(text, length)
        }
    }

    /// tiktoken's `byte_pair_merge`, merge for merge: the parts are linked by where they
    /// end (`ends[i]`: the end of the part that starts at byte i, the next part's start),
    /// and `ranks[i]` is the rank of the part at i and the one after it together. A merge
    /// relinks two parts instead of moving the arrays' tails down (two `memmove` calls a
    /// merge, most of them a few bytes long).
    fn merge_short(&self, text: &[u8], length: usize) -> usize {
        let mut ends = [0u8; SHORT];
        let mut ranks = [NONE; SHORT];
        for (index, end) in ends.iter_mut().enumerate().take(length) {
            *end = index as u8 + 1;
        }
        for (index, rank) in ranks.iter_mut().enumerate().take(length - 1) {
            *rank = self.rank_in(text, index, index + 2);
        }
        let mut parts = length;
        loop {
            // The lowest rank, the leftmost on a tie, and the part before it.
            let (mut best, mut at, mut before) = (NONE, 0, None);
            let (mut previous, mut part) = (None, 0);
            while part < length {
                if ranks[part] < best {
                    (best, at, before) = (ranks[part], part, previous);
                }
                previous = Some(part);
                part = usize::from(ends[part]);
            }
            if best == NONE {
                return parts;
            }
            let end = usize::from(ends[usize::from(ends[at])]);
            ends[at] = end as u8;
            parts -= 1;
            ranks[at] = if end < length {
                self.rank_in(text, at, usize::from(ends[end]))
            } else {
                NONE
            };
            if let Some(before) = before {
                ranks[before] = self.rank_in(text, before, end);
            }
        }
    }

    /// The same merges as [`merge_short`](Self::merge_short) in the same order: a heap
    /// of candidate pairs `(rank, left start, right end)` ordered by rank then position,
    /// over a linked list of parts; a candidate whose parts have changed since is stale
    /// and skipped (parts only grow, so a pair that still spans the same bytes still has
    /// the same rank).
    fn merge_long(&self, text: &[u8], length: usize) -> usize {
        // next[i]/previous[i]: the neighbours of the part starting at i (length = none).
        let mut next: Vec<usize> = (1..=length).collect();
        let mut previous: Vec<usize> = (0..length).map(|index| index.wrapping_sub(1)).collect();
        let mut alive = vec![true; length];
        let mut heap = BinaryHeap::with_capacity(length);
        for index in 0..length - 1 {
            let rank = self.rank_in(text, index, index + 2);
            if rank != NONE {
                heap.push(Reverse((rank, index, index + 2)));
            }
        }
        let mut parts = length;
        while let Some(Reverse((_, left, end))) = heap.pop() {
            let middle = next[left];
            if !alive[left] || middle >= length || next[middle] != end {
                continue;
            }
            alive[middle] = false;
            next[left] = end;
            if end < length {
                previous[end] = left;
            }
            parts -= 1;
            let before = previous[left];
            if before < length {
                let rank = self.rank_in(text, before, end);
                if rank != NONE {
                    heap.push(Reverse((rank, before, end)));
                }
            }
            if end < length {
                let after = next[end];
                let rank = self.rank_in(text, left, after);
                if rank != NONE {
                    heap.push(Reverse((rank, left, after)));
                }
            }
        }
        parts
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn every_token_is_found_at_its_rank() {
        for vocab in [o200k(), cl100k()] {
            let count = vocab.starts.len() / 4 - 1;
            assert!(count > 100_000, "{count} tokens");
            for rank in (0..count as u32).step_by(7) {
                assert_eq!(vocab.rank(vocab.token(rank)), Some(rank));
            }
            assert_eq!(vocab.rank(b"not a token at all, surely"), None);
        }
    }

    #[test]
    fn pieces_of_one_or_two_bytes_count_as_merged() {
        for vocab in [o200k(), cl100k()] {
            for first in 0..=255u8 {
                assert_eq!(vocab.count_short(&[first]), 1);
                assert_eq!(vocab.count(&[first]), 1);
                assert!(vocab.rank(&[first]).is_some(), "every byte is a token");
                for second in 0..=255u8 {
                    let piece = [first, second];
                    assert_eq!(vocab.count_short(&piece), vocab.count(&piece), "{piece:?}");
                    assert_eq!(vocab.count_short(&piece) == 1, vocab.rank(&piece).is_some());
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]
        /// The heap merges what tiktoken's loop merges, on pieces of repeated word-like
        /// fragments (where merges compete) and of arbitrary bytes; and a piece counts
        /// the same whatever follows it in the text it is read from.
        #[test]
        fn the_heap_merges_like_the_loop(
            fragments in proptest::collection::vec(
                prop_oneof![
                    Just(&b"ab"[..]), Just(&b"aa"[..]), Just(&b"the"[..]), Just(&b"ing"[..]),
                    Just(&b"xyz"[..]), Just(&b"Q"[..]), Just(&b"e"[..]), Just(&b"\xc3\xa9"[..]),
                    Just(&b"0"[..]), Just(&b"=="[..]),
                ],
                1..30,
            ),
            noise in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let piece: Vec<u8> = fragments.concat();
            let piece = &piece[..piece.len().min(SHORT)];
            for vocab in [o200k(), cl100k()] {
                for candidate in [piece, &noise[..]] {
                    let length = candidate.len();
                    if length >= 2 {
                        prop_assert_eq!(
                            vocab.merge_long(candidate, length),
                            vocab.merge_short(candidate, length)
                        );
                    }
                    // A piece read where the text goes on counts as the piece alone.
                    let going_on = [candidate, &noise[..], piece].concat();
                    prop_assert_eq!(vocab.count_at(&going_on, length), vocab.count(candidate));
                }
            }
        }
    }
}
