//! JSON output of file contents: serde_json's pretty format, with the contents escaped
//! in bulk, off the writing thread.
//!
//! Nearly every byte of a large JSON bundle is file content, and serde_json escapes
//! strings one byte at a time on the thread that writes. Instead, the read-ahead
//! ([`Form::JsonEscaped`]) escapes each file with [`escape_into`] (eight bytes at a time,
//! stopping only where JSON needs an escape) right after reading it, while the file is
//! still in that core's cache; [`Content`] hands the escaped text over through the
//! write's [`HandOver`] (owned by that write, shared by the read-ahead and the
//! formatter: no thread-local, no global) and [`BulkFormatter`] copies it into the
//! output. The output is byte for byte what serde_json writes (tested against it).
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
/// Eight bytes at a time: each word is copied whole, and when it holds a byte to escape,
/// the copy is cut back to just before that byte. (Escapes are ASCII, so cutting there
/// never splits a character; the output is valid UTF-8 whenever `text` is.)
pub fn escape_into(out: &mut Vec<u8>, text: &[u8]) {
    out.reserve(text.len() + text.len() / 8 + 16);
    let mut at = 0;
    while let Some(word) = text.get(at..at + 8) {
        let word: [u8; 8] = word.try_into().unwrap_or([0; 8]);
        let found = escapes_in(u64::from_le_bytes(word));
        out.extend_from_slice(&word);
        if found == 0 {
            at += 8;
            continue;
        }
        let first = (found.trailing_zeros() / 8) as usize;
        out.truncate(out.len() - 8 + first);
        push_escape(out, word[first]);
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
    while at + 8 <= to {
        let word: [u8; 8] = text[at..at + 8].try_into().unwrap_or([0; 8]);
        let found = escapes_in(u64::from_le_bytes(word));
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
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

/// The top bit of each byte of `word` (little-endian) that is `"`, `\` or below 0x20;
/// exact up to the first such byte (the lowest set bit), which is all the caller uses.
fn escapes_in(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Below `n` (at most 0x80): subtracting `n` borrows into the byte's top bit, which
    // was clear. Borrows only carry upwards, so bytes below the first hit are exact.
    let below = |value: u64, n: u64| value.wrapping_sub(ONES * n) & !value & HIGH;
    below(word, 0x20)
        | below(word ^ (ONES * u64::from(b'"')), 1)
        | below(word ^ (ONES * u64::from(b'\\')), 1)
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

    proptest! {
        #[test]
        fn any_text_escapes_like_serde_json(text in "(?s).{0,80}", ascii in "[ -~\t\n\"\\\\]{0,80}") {
            prop_assert_eq!(escaped(&text), serde_escaped(&text));
            prop_assert_eq!(escaped(&ascii), serde_escaped(&ascii));
        }
    }
}
