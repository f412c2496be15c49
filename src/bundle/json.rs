//! JSON output of file contents: serde_json's pretty format, with the contents escaped
//! in bulk, off the writing thread.
//!
//! Nearly every byte of a large JSON bundle is file content, and serde_json escapes
//! strings one byte at a time on the thread that writes. Instead, the read-ahead
//! ([`Form::JsonEscaped`]) escapes each file with [`escape_into`] (eight bytes at a time,
//! stopping only where JSON needs an escape) right after reading it, while the file is
//! still in that core's cache; [`Content`] hands the escaped text over ([`hand_over`])
//! and [`BulkFormatter`] copies it into the output. The output is byte for byte what
//! serde_json writes (tested against it).
//!
//! [`Content`]: super::content::Content
//! [`Form::JsonEscaped`]: super::prefetch::Form::JsonEscaped

use std::cell::RefCell;
use std::io;

use serde_json::ser::{Formatter, PrettyFormatter};

thread_local! {
    /// An escaped content text, from [`hand_over`] to the formatter.
    static HANDED: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Hand an already escaped string to the [`BulkFormatter`] serialising on this thread;
/// the caller then serialises an empty string, whose opening quote is where the
/// formatter writes it.
pub fn hand_over(escaped: String) {
    HANDED.with_borrow_mut(|handed| *handed = Some(escaped));
}

/// serde_json's [`PrettyFormatter`], writing a handed-over escaped text as it is.
#[derive(Debug, Default)]
pub struct BulkFormatter {
    pretty: PrettyFormatter<'static>,
}

impl Formatter for BulkFormatter {
    fn begin_string<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b"\"")?;
        match HANDED.with_borrow_mut(Option::take) {
            Some(escaped) => writer.write_all(escaped.as_bytes()),
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
/// it: `"`, `\` and control characters escaped, everything else as is.
pub fn escape_into(out: &mut String, text: &str) {
    let bytes = text.as_bytes();
    let mut clean = 0; // text[clean..at] needs no escape
    let mut at = 0;
    while at < bytes.len() {
        // Eight bytes at a time: skip them, or jump to the first that needs an escape.
        if let Some(word) = bytes.get(at..at + 8) {
            let found = escapes_in(u64::from_le_bytes(word.try_into().unwrap_or([0; 8])));
            if found == 0 {
                at += 8;
                continue;
            }
            at += (found.trailing_zeros() / 8) as usize;
        }
        let byte = bytes[at];
        let escaped = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\t' => "\\t",
            b'\r' => "\\r",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => {
                // Escapes are ASCII, so `clean..at` always falls on character boundaries.
                out.push_str(&text[clean..at]);
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 0xf)]));
                at += 1;
                clean = at;
                continue;
            }
            _ => {
                at += 1;
                continue;
            }
        };
        out.push_str(&text[clean..at]);
        out.push_str(escaped);
        at += 1;
        clean = at;
    }
    out.push_str(&text[clean..]);
}

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
        let mut out = String::from("kept ");
        escape_into(&mut out, text);
        out.strip_prefix("kept ").unwrap().to_owned()
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
        hand_over(String::from("x\\\"y"));
        let mut out = Vec::new();
        let mut serializer =
            serde_json::Serializer::with_formatter(&mut out, BulkFormatter::default());
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
