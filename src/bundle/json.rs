//! JSON output of file contents: serde_json's pretty format, with the contents escaped
//! in bulk, off the writing thread.
//!
//! Nearly every byte of a large JSON bundle is file content, and serde_json escapes
//! strings one byte at a time on the thread that writes. Instead, the read-ahead
//! ([`Form::JsonEscaped`]) escapes each file with [`escape_into`] (sixteen bytes at a
//! time, stopping only where JSON needs an escape) right after reading it, while the
//! file is still in that core's cache; [`Content`] hands the escaped text over through
//! the write's [`HandOver`] (owned by that write, shared by the read-ahead and the
//! formatter: no thread-local, no global) and [`BulkFormatter`] copies it into the
//! output. The output is byte for byte what serde_json writes (tested against it).
//!
//! The writer escaping as it writes (through a buffer that stays in its cache) was
//! tried: a cold bundle's writing took 168 → 151 ms on one machine and the whole run no
//! less on another, while a repeated bundle, which is all writing, took 4–11% longer:
//! the escape is then on the one thread every byte goes through, where here it runs
//! beside it.
//!
//! [`Content`]: super::content::Content
//! [`Form::JsonEscaped`]: super::prefetch::Form::JsonEscaped

use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::ser::{Formatter, PrettyFormatter};

/// The slot through which an already escaped text reaches the [`BulkFormatter`] of one
/// JSON write: the serialiser of a content gives it here, then serialises an empty
/// string, whose opening quote is where the formatter writes it.
#[derive(Debug, Default)]
pub struct HandOver(Mutex<Option<Vec<u8>>>);

impl HandOver {
    pub fn give(&self, escaped: Vec<u8>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(escaped);
    }

    fn take(&self) -> Option<Vec<u8>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// serde_json's [`PrettyFormatter`], writing a handed-over escaped text as it is.
#[derive(Debug, Default)]
pub struct BulkFormatter {
    pretty: PrettyFormatter<'static>,
    handed: Arc<HandOver>,
}

impl BulkFormatter {
    /// A formatter that writes what is given to `handed`.
    pub fn new(handed: Arc<HandOver>) -> Self {
        Self {
            pretty: PrettyFormatter::default(),
            handed,
        }
    }
}

impl Formatter for BulkFormatter {
    fn begin_string<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b"\"")?;
        match self.handed.take() {
            Some(escaped) => writer.write_all(&escaped),
            None => Ok(()),
        }
    }

    // The rest is PrettyFormatter's layout.
    fn begin_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.begin_array(writer)
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.end_array(writer)
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.pretty.begin_array_value(writer, first)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.end_array_value(writer)
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.begin_object(writer)
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.end_object(writer)
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.pretty.begin_object_key(writer, first)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.begin_object_value(writer)
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.pretty.end_object_value(writer)
    }
}

/// Append `text` JSON-escaped (without quotes) to `out`, exactly as serde_json escapes
/// it: `"`, `\\` and control characters escaped, everything else as is.
///
/// Sixteen bytes at a time ([`escapes_in`]): a block with nothing to escape is copied
/// whole; one with an escape is copied up to it, the escape written, and the next block
/// starts right after it. (Escapes are ASCII, so the output is valid UTF-8 whenever
/// `text` is.)
pub fn escape_into(out: &mut Vec<u8>, text: &[u8]) {
    out.reserve(text.len() + text.len() / 8 + 16);
    let mut at = 0;
    while let Some(block) = text.get(at..at + BLOCK) {
        let block: &[u8; BLOCK] = block.try_into().unwrap_or(&[0; BLOCK]);
        let found = escapes_in(block);
        out.extend_from_slice(block);
        if found == 0 {
            at += BLOCK;
            continue;
        }
        let first = found.trailing_zeros() as usize;
        out.truncate(out.len() - BLOCK + first);
        push_escape(out, block[first]);
        at += first + 1;
    }
    for &byte in &text[at..] {
        match ESCAPES[usize::from(byte)] {
            0 => out.push(byte),
            _ => push_escape(out, byte),
        }
    }
}

/// Where the first byte of `text[from..to]` that JSON escapes is, if any.
pub fn first_escape(text: &[u8], from: usize, to: usize) -> Option<usize> {
    let to = to.min(text.len());
    let mut at = from;
    while at + BLOCK <= to {
        let found = escapes_in(text[at..at + BLOCK].try_into().unwrap_or(&[0; BLOCK]));
        if found != 0 {
            return Some(at + found.trailing_zeros() as usize);
        }
        at += BLOCK;
    }
    (at..to).find(|&index| ESCAPES[usize::from(text[index])] != 0)
}

/// The escape of one byte that needs one.
fn push_escape(out: &mut Vec<u8>, byte: u8) {
    let code = ESCAPES[usize::from(byte)];
    out.extend_from_slice(&[b'\\', code]);
    if code == b'u' {
        let hex = |nibble: u8| HEX[usize::from(nibble)];
        out.extend_from_slice(&[b'0', b'0', hex(byte >> 4), hex(byte & 0xf)]);
    }
}

/// For each byte that JSON escapes, the letter after the backslash (`u`: `\\u00XX`);
/// 0 for the rest.
const ESCAPES: [u8; 256] = {
    let mut escapes = [0; 256];
    let mut byte = 0;
    while byte < 0x20 {
        escapes[byte] = b'u';
        byte += 1;
    }
    escapes[0x08] = b'b';
    escapes[0x09] = b't';
    escapes[0x0a] = b'n';
    escapes[0x0c] = b'f';
    escapes[0x0d] = b'r';
    escapes[b'"' as usize] = b'"';
    escapes[b'\\' as usize] = b'\\';
    escapes
};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The bytes [`escapes_in`] looks at together.
const BLOCK: usize = 16;

/// Bit `i` set for each byte `block[i]` that is `"`, `\\` or below 0x20: three
/// comparisons of all sixteen bytes at once (SSE2, which every x86-64 processor has).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
fn escapes_in(block: &[u8; BLOCK]) -> u32 {
    use safe_arch::{
        bitor_m128i, cmp_eq_mask_i8_m128i, load_unaligned_m128i, min_u8_m128i, move_mask_i8_m128i,
        set_splat_i8_m128i,
    };
    let bytes = load_unaligned_m128i(block);
    let is = |byte: u8| cmp_eq_mask_i8_m128i(bytes, set_splat_i8_m128i(byte as i8));
    // Below 0x20: unchanged by the unsigned minimum with 0x1f.
    let control = cmp_eq_mask_i8_m128i(min_u8_m128i(bytes, set_splat_i8_m128i(0x1f)), bytes);
    move_mask_i8_m128i(bitor_m128i(bitor_m128i(is(b'"'), is(b'\\')), control)) as u32
}

/// [`escapes_in`] where SSE2 is not at hand, byte by byte.
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
fn escapes_in(block: &[u8; BLOCK]) -> u32 {
    escapes_in_bytes(block)
}

/// [`escapes_in`] byte by byte: the portable one, and what tests check the other by.
#[cfg(any(test, not(all(target_arch = "x86_64", target_feature = "sse2"))))]
fn escapes_in_bytes(block: &[u8; BLOCK]) -> u32 {
    block.iter().enumerate().fold(0, |found, (at, &byte)| {
        found | u32::from(ESCAPES[usize::from(byte)] != 0) << at
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn escaped(text: &str) -> String {
        let mut out = b"kept ".to_vec();
        escape_into(&mut out, text.as_bytes());
        String::from_utf8(out)
            .unwrap()
            .strip_prefix("kept ")
            .unwrap()
            .to_owned()
    }

    fn serde_escaped(text: &str) -> String {
        let quoted = serde_json::to_string(text).unwrap();
        quoted[1..quoted.len() - 1].to_owned()
    }

    #[test]
    fn escapes_like_serde_json() {
        for text in [
            "",
            "plain ascii, longer than eight bytes",
            "a\"b\\c\nd\te\rf\u{8}g\u{c}h\u{0}i\u{1f}j\u{7f}k",
            "\"\"\"\"\"\"\"\"\"",
            "ünïcödé → 🦀 \u{2028}",
            "fn main() {\n    println!(\"hi\");\n}\n",
        ] {
            assert_eq!(escaped(text), serde_escaped(text), "{text:?}");
        }
    }

    #[test]
    fn a_handed_over_text_is_written_as_it_is() {
        let handed = Arc::new(HandOver::default());
        handed.give(b"x\\\"y".to_vec());
        let mut out = Vec::new();
        let mut serializer =
            serde_json::Serializer::with_formatter(&mut out, BulkFormatter::new(handed));
        serde::Serialize::serialize(&vec!["", "plain", ""], &mut serializer).unwrap();
        // Taken once: the next empty string is empty.
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "[\n  \"x\\\"y\",\n  \"plain\",\n  \"\"\n]"
        );
    }

    #[test]
    fn a_block_finds_every_byte_to_escape_in_every_place() {
        for byte in 0..=255u8 {
            for at in 0..BLOCK {
                let mut block = [b'a'; BLOCK];
                block[at] = byte;
                assert_eq!(
                    escapes_in(&block),
                    escapes_in_bytes(&block),
                    "{byte:#x} at {at}"
                );
                // Among others to escape, before and after it.
                let mut crowded = [b'"'; BLOCK];
                crowded[at] = byte;
                assert_eq!(escapes_in(&crowded), escapes_in_bytes(&crowded));
            }
        }
        // `"`, `\\`, newline, 0x1f and tab; not DEL, a high byte, a space or punctuation.
        assert_eq!(
            escapes_in(b"a\"b\\c\nd\x1fe\x7f\xff \t!#z"),
            0b0001_0000_1010_1010
        );
    }

    proptest! {
        #[test]
        fn the_first_escape_is_the_first_byte_to_escape(
            text in proptest::collection::vec(prop_oneof![3 => 0x20u8..0x7f, 1 => any::<u8>()], 0..80),
            from in 0..80usize,
            to in 0..90usize,
        ) {
            let expected = (from..to.min(text.len()))
                .find(|&at| ESCAPES[usize::from(text[at])] != 0);
            prop_assert_eq!(first_escape(&text, from, to), expected);
        }

        #[test]
        fn any_text_escapes_like_serde_json(text in "(?s).{0,80}", ascii in "[ -~\t\n\"\\\\]{0,80}") {
            prop_assert_eq!(escaped(&text), serde_escaped(&text));
            prop_assert_eq!(escaped(&ascii), serde_escaped(&ascii));
        }
    }
}
