//! Reading ahead while a bundle is written: reader threads (one per core) read and check
//! the next files, and prepare them in the [`Form`] the writer wants (JSON-escaped for
//! JSON output), while the writer writes the current one, within a memory cap.
//!
//! The readers take the contents in the order they are given (the order the writer is
//! expected to ask for them); the writer asks in whatever order the template prints. A
//! content no reader has reached is read by the writer itself; one a reader is busy
//! with is waited for; one printed twice is read again. Nothing is held beyond [`CAP`]
//! bytes (plus the files being read).

use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::content::{Content, ContentError};
use super::json;

/// Bytes read ahead at most (plus the file being read).
const CAP: usize = 2 << 20;

/// The form in which the writer wants the texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Plain,
    /// The inside of a JSON string ([`json::escape_into`]): escaped where the file was
    /// just read, so the writer only copies it.
    JsonEscaped,
}

impl Form {
    pub fn prepare(self, text: String) -> Prepared {
        match self {
            Self::Plain => Prepared::Text(text),
            Self::JsonEscaped => Prepared::escaped(text.as_bytes()),
        }
    }
}

/// A text in the [`Form`] a write wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prepared {
    Text(String),
    /// The inside of a JSON string (valid UTF-8, kept as bytes: never looked at again).
    Escaped(Vec<u8>),
}

impl Prepared {
    /// `text` JSON-escaped ([`json::escape_into`]); `text` must be valid UTF-8.
    pub fn escaped(text: &[u8]) -> Self {
        let mut escaped = Vec::new();
        json::escape_into(&mut escaped, text);
        Self::Escaped(escaped)
    }

    fn len(&self) -> usize {
        match self {
            Self::Text(text) => text.len(),
            Self::Escaped(escaped) => escaped.len(),
        }
    }
}

/// One content's state during a write.
enum Slot {
    /// Not touched yet.
    Pending,
    /// Being read by a reader thread.
    Loading,
    /// Read, not yet written.
    Ready(Result<Prepared, ContentError>),
    /// Handed to the writer (or left to it).
    Taken,
}

struct State {
    slots: Vec<Slot>,
    /// The first slot no reader has looked at.
    next: usize,
    /// Bytes in `Ready` slots.
    buffered: usize,
    stopped: bool,
    /// Readers waiting for room under the cap.
    readers_waiting: usize,
    /// The slot the writer waits for, while it waits.
    writer_waits_for: Option<usize>,
}

/// The read-ahead of one write.
pub struct Prefetch {
    state: Mutex<State>,
    /// Signalled when room frees up under the cap (readers wait on it).
    room: Condvar,
    /// Signalled when a slot is ready (the writer waits on it).
    ready: Condvar,
    form: Form,
}

impl std::fmt::Debug for Prefetch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prefetch").finish_non_exhaustive()
    }
}

impl Prefetch {
    /// Read ahead for `contents` (in bundle order), in `form`, while `write` runs on
    /// this thread.
    pub fn around<R>(contents: &[Content], form: Form, write: impl FnOnce() -> R) -> R {
        let prefetch = Arc::new(Self {
            state: Mutex::new(State {
                slots: contents.iter().map(|_| Slot::Pending).collect(),
                next: 0,
                buffered: 0,
                stopped: false,
                readers_waiting: 0,
                writer_waits_for: None,
            }),
            room: Condvar::new(),
            ready: Condvar::new(),
            form,
        });
        for (index, content) in contents.iter().enumerate() {
            content.attach(Some((prefetch.clone(), index)));
        }
        // Reading, checking and escaping JSON cost more than writing it: one reader per
        // core. Plain texts cost less to read than the template takes to print them.
        let readers = match form {
            Form::JsonEscaped => {
                std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
            }
            Form::Plain => 1,
        };
        let result = std::thread::scope(|scope| {
            // Without reader threads (none could be started) the writer reads itself.
            for _ in 0..readers {
                let _ =
                    std::thread::Builder::new().spawn_scoped(scope, || prefetch.read_all(contents));
            }
            let result = write();
            prefetch.lock().stopped = true;
            prefetch.room.notify_all();
            result
        });
        for content in contents {
            content.attach(None);
        }
        result
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere poisons nothing this state cannot recover from.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn wait<'g>(condvar: &Condvar, guard: MutexGuard<'g, State>) -> MutexGuard<'g, State> {
        condvar
            .wait(guard)
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A reader thread: the next content no one has touched, until all are done or the
    /// write stops. (Waking a thread costs a system call: only one that waits is woken.)
    fn read_all(&self, contents: &[Content]) {
        loop {
            let mut state = self.lock();
            while state.buffered > CAP && !state.stopped {
                state.readers_waiting += 1;
                state = Self::wait(&self.room, state);
                state.readers_waiting -= 1;
            }
            while state
                .slots
                .get(state.next)
                .is_some_and(|slot| !matches!(slot, Slot::Pending))
            {
                state.next += 1;
            }
            let index = state.next;
            if state.stopped || index >= contents.len() {
                return;
            }
            state.next += 1;
            state.slots[index] = Slot::Loading;
            drop(state);
            let text = contents[index].prepared(self.form);
            let mut state = self.lock();
            state.buffered += text.as_ref().map_or(0, Prepared::len);
            state.slots[index] = Slot::Ready(text);
            let wake = state.writer_waits_for == Some(index);
            drop(state);
            if wake {
                self.ready.notify_all();
            }
        }
    }

    /// The text of content `index` for the writer, in this read-ahead's form: read ahead,
    /// being read, or read now with `read` (given the form).
    pub fn take(
        &self,
        index: usize,
        read: impl FnOnce(Form) -> Result<Prepared, ContentError>,
    ) -> Result<Prepared, ContentError> {
        let mut state = self.lock();
        loop {
            match std::mem::replace(&mut state.slots[index], Slot::Taken) {
                Slot::Ready(text) => {
                    state.buffered -= text.as_ref().map_or(0, Prepared::len);
                    let wake = state.readers_waiting > 0 && state.buffered <= CAP;
                    drop(state);
                    if wake {
                        self.room.notify_all();
                    }
                    return text;
                }
                Slot::Loading => {
                    state.slots[index] = Slot::Loading;
                    state.writer_waits_for = Some(index);
                    state = Self::wait(&self.ready, state);
                    state.writer_waits_for = None;
                }
                Slot::Pending | Slot::Taken => {
                    drop(state);
                    return read(self.form);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_come_back_whatever_the_order_and_however_often() {
        let dir = tempfile::tempdir().unwrap();
        let contents: Vec<Content> = (0..50)
            .map(|number| {
                let path = dir.path().join(format!("{number}.txt"));
                let text = format!("file {number}\n");
                std::fs::write(&path, &text).unwrap();
                Content::for_test(&path, &text)
            })
            .collect();
        for form in [Form::Plain, Form::JsonEscaped] {
            let texts = Prefetch::around(&contents, form, || {
                // Backwards, then the first one again.
                let mut texts: Vec<Prepared> = contents
                    .iter()
                    .rev()
                    .map(|content| content.for_write().unwrap())
                    .collect();
                texts.push(contents[0].for_write().unwrap());
                texts
            });
            let expected = |number: usize| match form {
                Form::Plain => Prepared::Text(format!("file {number}\n")),
                Form::JsonEscaped => Prepared::Escaped(format!("file {number}\\n").into_bytes()),
            };
            assert_eq!(texts[0], expected(49));
            assert_eq!(texts[49], expected(0));
            assert_eq!(texts[50], expected(0));
        }
        // Detached afterwards: reads go straight to the file.
        assert_eq!(
            contents[3].for_write().unwrap(),
            Prepared::Text(String::from("file 3\n"))
        );
    }

    #[test]
    fn a_changed_file_is_refused_through_the_read_ahead_too() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, "counted\n").unwrap();
        let contents = vec![Content::for_test(&path, "counted\n")];
        std::fs::write(&path, "changed\n").unwrap();
        let result = Prefetch::around(&contents, Form::Plain, || contents[0].for_write());
        assert!(result.is_err());
    }
}
