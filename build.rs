//! Builds the tokenizer vocabularies into compact tables the binary embeds.
//!
//! `vocab/*.tiktoken.gz` are OpenAI's published vocabularies, gzipped (one
//! `base64(token) rank` line per token, ranks 0..n in order). For each, this writes to
//! `OUT_DIR`:
//!
//! - `NAME.bytes`: every token's bytes, concatenated in rank order;
//! - `NAME.starts`: n + 1 little-endian u32 offsets into `.bytes` (token r is
//!   `bytes[starts[r]..starts[r + 1]]`);
//! - `NAME.table`: an open-addressing hash table (linear probing, a power of two at
//!   least twice n) of little-endian u32 entries, each a rank, the token's length and a
//!   fingerprint of its hash, `u32::MAX` for an empty slot, placed by `vocab_hash` and
//!   `vocab_place` (`src/bundle/vocab_hash.rs`, shared with the lookup);
//! - `NAME.heads`: each token's first eight bytes (zero-padded, a little-endian u64) in
//!   rank order: a token of up to eight bytes is then told from a string of its length
//!   by one load beside the table's, not three (its offsets, its bytes);
//! - `NAME.pairs`: the rank of every two-byte string (little-endian u32, `u32::MAX` for
//!   none), indexed by the two bytes: the first lookups of every merge, without hashing.
//! - `NAME.twos`: one bit per two-byte string, set when it is a token (8 KiB): the count
//!   of a two-byte piece (a fifth of the pieces of source code) from a table that stays
//!   in the first-level cache.
//!
//! The binary then needs no start-up work and no heap for a vocabulary: the tables are
//! read where they lie (about 6 MiB for o200k, 3 MiB for cl100k).

#![expect(
    clippy::expect_used,
    reason = "a build script reports what is wrong by panicking"
)]

use std::io::Read;
use std::path::Path;

use base64::Engine;

include!("src/bundle/vocab_hash.rs");

/// Each vocabulary with the BLAKE3 digest of its decompressed file (the files are the
/// ones OpenAI publishes, SHA-256 446a9538… for o200k and 223921b7… for cl100k).
const VOCABULARIES: [(&str, &str); 2] = [
    (
        "o200k_base",
        "77500c1d2b9e0f606d2ab99ff39e9ebaed9221b4531c6d83a503c36def0b8be8",
    ),
    (
        "cl100k_base",
        "65afa6a4947e558c7e52ca1dc682285a6aff053a60ce9ba951bf154da0cb980f",
    ),
];

fn main() {
    let out = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR");
    for (name, digest) in VOCABULARIES {
        let source = format!("vocab/{name}.tiktoken.gz");
        println!("cargo::rerun-if-changed={source}");
        let compressed = std::fs::read(&source).unwrap_or_else(|error| panic!("{source}: {error}"));
        let mut text = String::new();
        flate2::read::GzDecoder::new(compressed.as_slice())
            .read_to_string(&mut text)
            .unwrap_or_else(|error| panic!("{source}: {error}"));
        let actual = blake3::hash(text.as_bytes()).to_hex();
        assert_eq!(
            actual.as_str(),
            digest,
            "{source}: not the published vocabulary"
        );
        write_tables(Path::new(&out), name, &tokens(&source, &text));
    }
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=src/bundle/vocab_hash.rs");
}

/// The tokens in rank order, checking that the ranks are exactly 0..n.
fn tokens(source: &str, text: &str) -> Vec<Vec<u8>> {
    text.lines()
        .enumerate()
        .map(|(line, entry)| {
            let (encoded, rank) = entry
                .split_once(' ')
                .unwrap_or_else(|| panic!("{source}:{}: no rank", line + 1));
            assert_eq!(
                rank.parse::<usize>().ok(),
                Some(line),
                "{source}:{}: rank out of order",
                line + 1
            );
            let token = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .unwrap_or_else(|error| panic!("{source}:{}: {error}", line + 1));
            assert!(!token.is_empty(), "{source}:{}: empty token", line + 1);
            token
        })
        .collect()
}

fn write_tables(out: &Path, name: &str, tokens: &[Vec<u8>]) {
    let count = u32::try_from(tokens.len()).expect("fewer than 2^32 tokens");
    assert!(
        count < (1 << RANK_BITS) - 1,
        "{name}: {count} tokens do not fit the table's rank bits"
    );
    let mut bytes = Vec::new();
    let mut starts = Vec::with_capacity((tokens.len() + 1) * 4);
    for token in tokens {
        starts.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        bytes.extend_from_slice(token);
    }
    starts.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    let slots = (tokens.len() * 2).next_power_of_two();
    let shift = 64 - slots.trailing_zeros();
    let mut table = vec![u32::MAX; slots];
    let mut pairs = vec![u32::MAX; 1 << 16];
    let mut twos = vec![0u8; (1 << 16) / 8];
    let mut heads = Vec::with_capacity(tokens.len() * 8);
    for (rank, token) in (0..count).zip(tokens) {
        let mut head = [0u8; 8];
        let length = token.len().min(8);
        head[..length].copy_from_slice(&token[..length]);
        heads.extend_from_slice(&head);
        let (mut slot, tag) = vocab_place(vocab_hash(token), shift, token.len());
        while table[slot] != u32::MAX {
            let other = (table[slot] & ((1 << RANK_BITS) - 1)) as usize;
            assert_ne!(&tokens[other], token, "{name}: token {rank} repeats");
            slot = (slot + 1) & (slots - 1);
        }
        table[slot] = tag | rank;
        if let [first, second] = token[..] {
            let pair = usize::from(first) << 8 | usize::from(second);
            pairs[pair] = rank;
            twos[pair / 8] |= 1 << (pair % 8);
        }
    }
    let words =
        |words: &[u32]| -> Vec<u8> { words.iter().flat_map(|word| word.to_le_bytes()).collect() };
    let (table, pairs) = (words(&table), words(&pairs));
    for (extension, data) in [
        ("bytes", &bytes),
        ("starts", &starts),
        ("table", &table),
        ("heads", &heads),
        ("pairs", &pairs),
        ("twos", &twos),
    ] {
        let path = out.join(format!("{name}.{extension}"));
        std::fs::write(&path, data).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    }
}
