//! Gate output: every byte goes to the gate's log file (capped, with a truncation
//! marker) and into a bounded in-memory capture (the first and last bytes), so a gate
//! that floods gigabytes costs a fixed amount of memory.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Write};
use std::sync::Mutex;

/// Bytes kept from the start of a gate's output.
pub const HEAD_BYTES: usize = 16 * 1024;
/// Bytes kept from the end of a gate's output.
pub const TAIL_BYTES: usize = 48 * 1024;
/// Largest log file written per gate.
pub const LOG_CAP: u64 = 64 * 1024 * 1024;

/// The first [`HEAD_BYTES`] and last [`TAIL_BYTES`] of a stream.
#[derive(Debug, Default)]
pub struct Capture {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    total: u64,
}

impl Capture {
    pub fn push(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let room = HEAD_BYTES - self.head.len();
        if room > 0 {
            let take = room.min(bytes.len());
            self.head.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
        if bytes.len() >= TAIL_BYTES {
            self.tail.clear();
            self.tail.extend(&bytes[bytes.len() - TAIL_BYTES..]);
        } else {
            let overflow = (self.tail.len() + bytes.len()).saturating_sub(TAIL_BYTES);
            self.tail.drain(..overflow);
            self.tail.extend(bytes);
        }
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// The kept bytes, with a marker where the middle was dropped.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = self.head.clone();
        let kept = (self.head.len() + self.tail.len()) as u64;
        if self.total > kept {
            out.extend_from_slice(
                format!("\n[ctx: {} bytes omitted]\n", self.total - kept).as_bytes(),
            );
        }
        out.extend(self.tail.iter());
        out
    }
}

/// Remove ANSI escape sequences and control characters; keep what a `\r` left visible.
pub fn clean(text: &str) -> String {
    let text = crate::secrets::strip_escapes(text);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(character) = chars.next() {
        match character {
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    // A progress line being redrawn: drop what was written since the last newline.
                    let line_start = out.rfind('\n').map_or(0, |index| index + 1);
                    out.truncate(line_start);
                }
            }
            '\n' | '\t' => out.push(character),
            character if character.is_control() => {}
            character => out.push(character),
        }
    }
    out
}

/// A gate's output sink: the capped log file plus the capture.
#[derive(Debug)]
pub struct Sink {
    pub capture: Mutex<Capture>,
    log: Mutex<Log>,
}

#[derive(Debug)]
struct Log {
    file: Option<File>,
    written: u64,
    truncated: bool,
}

impl Sink {
    pub fn new(log: Option<File>) -> Self {
        Self {
            capture: Mutex::new(Capture::default()),
            log: Mutex::new(Log {
                file: log,
                written: 0,
                truncated: false,
            }),
        }
    }

    pub fn write(&self, bytes: &[u8]) {
        if let Ok(mut capture) = self.capture.lock() {
            capture.push(bytes);
        }
        let Ok(mut log) = self.log.lock() else { return };
        let room = LOG_CAP.saturating_sub(log.written);
        let take = usize::try_from(room).unwrap_or(usize::MAX).min(bytes.len());
        let failed = match log.file.as_mut() {
            Some(file) => file.write_all(&bytes[..take]).is_err(),
            None => false,
        };
        if failed {
            log.file = None;
        }
        log.written += take as u64;
        if take < bytes.len() && !log.truncated {
            log.truncated = true;
            if let Some(file) = log.file.as_mut() {
                let _ = write!(
                    file,
                    "\n[ctx: log truncated after {LOG_CAP} bytes; the rest was discarded]\n"
                );
            }
        }
    }

    /// Drain `stream` into the sink until end of file.
    pub fn drain(&self, mut stream: impl Read) {
        let mut buffer = vec![0; 64 * 1024];
        loop {
            match stream.read(&mut buffer) {
                Ok(0) => break,
                Ok(read) => self.write(&buffer[..read]),
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_keeps_head_and_tail_within_bounds() {
        let mut capture = Capture::default();
        for index in 0..10_000u32 {
            capture.push(format!("line {index}\n").as_bytes());
        }
        let kept = capture.bytes();
        assert!(kept.len() < HEAD_BYTES + TAIL_BYTES + 100);
        let text = String::from_utf8_lossy(&kept);
        assert!(text.starts_with("line 0\n"));
        assert!(text.ends_with("line 9999\n"));
        assert!(text.contains("bytes omitted"));
        assert_eq!(
            capture.total(),
            (0..10_000u32)
                .map(|index| format!("line {index}\n").len() as u64)
                .sum::<u64>()
        );
    }

    #[test]
    fn clean_strips_escapes_and_keeps_the_last_progress_state() {
        assert_eq!(clean("\u{1b}[31mred\u{1b}[0m ok\n"), "red ok\n");
        assert_eq!(clean("10%\r50%\r100%\ndone\r\n"), "100%\ndone\n");
        assert_eq!(clean("bell\u{7} nul\u{0} tab\tend"), "bell nul tab\tend");
    }
}
