// The hash that places a token's bytes in the vocabulary's table. `include!`d by both
// `build.rs`, which builds the tables, and `bundle/vocab.rs`, which probes them, so the
// two can never disagree. (No inner attributes or `use`: it is pasted into both.)

/// One Fx-style multiply-rotate step: `word` mixed into `hash`. The high bits of the
/// result are the well-mixed ones.
#[allow(dead_code, reason = "build.rs pastes this file too and uses only the hash")]
pub fn mix(hash: u64, word: u64) -> u64 {
    (hash.rotate_left(26) ^ word).wrapping_mul(0xf135_7aea_2e62_a9c5)
}

/// [`mix`] over eight bytes at a time, seeded with the length. The table index is
/// taken from the high bits.
pub fn vocab_hash(bytes: &[u8]) -> u64 {
    let mut hash = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        hash = mix(hash, u64::from_le_bytes(word));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        hash = mix(hash, u64::from_le_bytes(word));
    }
    hash
}

/// A table entry: the rank in the low [`RANK_BITS`] bits, then the token's length (up to
/// 15; 15 for longer ones) in [`LENGTH_BITS`] bits, then a fingerprint of its hash, so
/// that most probes for a string that is not a token (and most slots holding another
/// token) are told apart without reading the token's bytes. `u32::MAX` is an empty slot
/// (its rank field is no rank: vocabularies stay below it).
const RANK_BITS: u32 = 18;
/// The bits of a table entry that hold the token's length.
const LENGTH_BITS: u32 = 4;

/// Where a hash of a string of `length` bytes goes: the table slot (the hash's top
/// `64 - shift` bits) and the entry's tag (its length and a fingerprint from the bits
/// below those, shifted into place above the rank).
fn vocab_place(hash: u64, shift: u32, length: usize) -> (usize, u32) {
    const FINGERPRINT_BITS: u32 = 32 - RANK_BITS - LENGTH_BITS;
    let fingerprint = (hash >> (shift - FINGERPRINT_BITS)) as u32 & ((1 << FINGERPRINT_BITS) - 1);
    let length = length.min((1 << LENGTH_BITS) - 1) as u32;
    ((hash >> shift) as usize, (fingerprint << LENGTH_BITS | length) << RANK_BITS)
}
