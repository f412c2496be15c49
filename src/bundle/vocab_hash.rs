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

/// A table entry: the rank in the low [`RANK_BITS`] bits, a fingerprint of the token's
/// hash above them, so that most probes for a string that is not a token (and most
/// slots holding another token) are told apart without reading the token's bytes.
/// `u32::MAX` is an empty slot (its rank field is no rank: vocabularies stay below it).
const RANK_BITS: u32 = 18;

/// Where a hash goes: the table slot (its top `64 - shift` bits) and the entry's
/// fingerprint (the `32 - RANK_BITS` bits below those, shifted into place).
fn vocab_place(hash: u64, shift: u32) -> (usize, u32) {
    let fingerprint = (hash >> (shift - (32 - RANK_BITS))) as u32 & ((1 << (32 - RANK_BITS)) - 1);
    ((hash >> shift) as usize, fingerprint << RANK_BITS)
}
