//! Reading ahead while a bundle is written: reader threads (one per core) read and check
//! the next files, and prepare them in the [`Form`] the writer wants (JSON-escaped for
//! JSON output), while the writer writes the current one, within a memory cap.
//!
//! The readers take the contents in the order they are given (the order the writer is
//! expected to ask for them); the writer asks in whatever order the template prints. A
//! content no reader has reached is read by the writer itself; one a reader is busy
//! with is waited for, the writer meanwhile reading the next untouched one as a reader
//! would (so a writer that has caught up does not sleep and wake once per file); one
//! printed twice is read again. Nothing is held beyond [`CAP`] bytes (plus the files
//! being read).

use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::json::{self, HandOver};

/// What the read-ahead reads: a content that can prepare its text in a [`Form`], and be
/// told which read-ahead serves it while a write is under way.
pub trait Source: Clone + Send + Sync + Sized {
    type Error: Send;

    /// Read (and check) the text, in `form`.
    fn prepared(&self, form: Form) -> Result<Prepared, Self::Error>;

    /// From now on, take the text from `prefetch` (at this index); `None`: read it.
    fn attach(&self, prefetch: Option<(Arc<Prefetch<Self>>, usize)>);
}

/// Bytes read ahead at most (plus the file being read). One MiB keeps the writer fed
/// (a cold and a repeated bundle of 140 MiB take as long as with two) and the readers'
/// buffers small: a repeated JSON bundle peaked 1.7 MiB higher with two.
const CAP: usize = 1 << 20;

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
enum Slot<E> {
    /// Not touched yet.
    Pending,
    /// Being read by a reader thread.
    Loading,
    /// Read, not yet written.
    Ready(Result<Prepared, E>),
    /// Handed to the writer (or left to it).
    Taken,
}

struct State<E> {
    slots: Vec<Slot<E>>,
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
pub struct Prefetch<S: Source> {
    /// What to read, in the expected order (the write detaches them when done, which
    /// ends the reference cycle through [`Source::attach`]).
    contents: Vec<S>,
    /// Where a JSON write's formatter takes escaped texts from.
    handed: Option<Arc<HandOver>>,
    state: Mutex<State<S::Error>>,
    /// Signalled when room frees up under the cap (readers wait on it).
    room: Condvar,
    /// Signalled when a slot is ready (the writer waits on it).
    ready: Condvar,
    form: Form,
    /// Whether the writer reads ahead while it waits (when a core has no reader).
    helps: bool,
}

impl<S: Source> std::fmt::Debug for Prefetch<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prefetch").finish_non_exhaustive()
    }
}

impl<S: Source> Prefetch<S> {
    /// Read ahead for `contents` (in bundle order), in `form`, while `write` runs on
    /// this thread.
    pub fn around<R>(
        contents: &[S],
        form: Form,
        handed: Option<Arc<HandOver>>,
        write: impl FnOnce() -> R,
    ) -> R {
        // One reader, and the writer reads too whenever it would otherwise wait for it:
        // plain texts cost less to read than the template takes to print them, and
        // reading, checking and escaping JSON about as much as writing it (a second
        // reader, tried, was no faster and held 1.8 MiB more in its own buffers).
        let cores = crate::parallel::cores();
        let readers = 1;
        let prefetch = Arc::new(Self {
            contents: contents.to_vec(),
            handed,
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
            helps: readers < cores,
        });
        for (index, content) in contents.iter().enumerate() {
            content.attach(Some((prefetch.clone(), index)));
        }
        let result = std::thread::scope(|scope| {
            // Without reader threads (none could be started) the writer reads itself.
            for _ in 0..readers {
                let _ = std::thread::Builder::new().spawn_scoped(scope, || prefetch.read_all());
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

    /// Give an escaped text to the formatter of this write (see [`HandOver`]); `false`
    /// when this write has no formatter to take it.
    pub fn hand_over(&self, escaped: Vec<u8>) -> bool {
        match &self.handed {
            Some(handed) => {
                handed.give(escaped);
                true
            }
            None => false,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<S::Error>> {
        // A panic elsewhere poisons nothing this state cannot recover from.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn wait<'g>(
        condvar: &Condvar,
        guard: MutexGuard<'g, State<S::Error>>,
    ) -> MutexGuard<'g, State<S::Error>> {
        condvar
            .wait(guard)
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A reader thread: the next content no one has touched, until all are done or the
    /// write stops. (Waking a thread costs a system call: only one that waits is woken.)
    fn read_all(&self) {
        loop {
            let mut state = self.lock();
            while state.buffered > CAP && !state.stopped {
                state.readers_waiting += 1;
                state = Self::wait(&self.room, state);
                state.readers_waiting -= 1;
            }
            let Some(index) = Self::claim(&mut state, self.contents.len()) else {
                return;
            };
            drop(state);
            self.fill(index);
        }
    }

    /// The next content no one has touched, marked as being read; none when all are
    /// taken, the write stopped or the cap is reached.
    fn claim(state: &mut State<S::Error>, count: usize) -> Option<usize> {
        while state
            .slots
            .get(state.next)
            .is_some_and(|slot| !matches!(slot, Slot::Pending))
        {
            state.next += 1;
        }
        let index = state.next;
        if state.stopped || index >= count || state.buffered > CAP {
            return None;
        }
        state.next += 1;
        state.slots[index] = Slot::Loading;
        Some(index)
    }

    /// Read content `index` (claimed) and leave it ready for the writer.
    fn fill(&self, index: usize) {
        let text = self.contents[index].prepared(self.form);
        let mut state = self.lock();
        state.buffered += text.as_ref().map_or(0, Prepared::len);
        state.slots[index] = Slot::Ready(text);
        let wake = state.writer_waits_for == Some(index);
        drop(state);
        if wake {
            self.ready.notify_all();
        }
    }

    /// The text of content `index` for the writer, in this read-ahead's form: read ahead,
    /// being read, or read now with `read` (given the form).
    pub fn take(
        &self,
        index: usize,
        read: impl FnOnce(Form) -> Result<Prepared, S::Error>,
    ) -> Result<Prepared, S::Error> {
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
                    // Rather than sleep until a reader has it, read ahead like a reader.
                    if self.helps
                        && let Some(ahead) = Self::claim(&mut state, self.contents.len())
                    {
                        drop(state);
                        self.fill(ahead);
                        state = self.lock();
                        continue;
                    }
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
    use crate::bundle::content::{Content, ContentError};

    #[test]
    fn texts_come_back_whatever_the_order_and_however_often() {
        let dir = tempfile::tempdir().unwrap();
        let contents: Vec<Content> = (0..50)
            .map(|number| {
                let path = dir.path().join(format!("{number}.txt"));
                Content::written_for_test(&path, &format!("file {number}\n"))
            })
            .collect();
        for form in [Form::Plain, Form::JsonEscaped] {
            let texts = Prefetch::around(&contents, form, None, || {
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

    /// Readers (and a waiting writer) claim the first untouched content, never one that
    /// is being read, ready or taken, and none over the cap or after the write stopped.
    #[test]
    fn claims_skip_touched_contents_and_respect_the_cap() {
        let mut state = State {
            slots: vec![
                Slot::<ContentError>::Taken,
                Slot::Loading,
                Slot::Pending,
                Slot::Ready(Ok(Prepared::Text(String::new()))),
                Slot::Pending,
            ],
            next: 0,
            buffered: 0,
            stopped: false,
            readers_waiting: 0,
            writer_waits_for: None,
        };
        assert_eq!(Prefetch::<Content>::claim(&mut state, 5), Some(2));
        assert!(matches!(state.slots[2], Slot::Loading));
        state.buffered = CAP + 1;
        assert_eq!(Prefetch::<Content>::claim(&mut state, 5), None);
        state.buffered = CAP;
        assert_eq!(Prefetch::<Content>::claim(&mut state, 5), Some(4));
        assert_eq!(Prefetch::<Content>::claim(&mut state, 5), None);
        state.slots.push(Slot::Pending);
        state.stopped = true;
        assert_eq!(Prefetch::<Content>::claim(&mut state, 6), None);
    }

    #[test]
    fn a_changed_file_is_refused_through_the_read_ahead_too() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        let contents = vec![Content::written_for_test(&path, "counted\n")];
        std::fs::write(&path, "changed\n").unwrap();
        let result = Prefetch::around(&contents, Form::Plain, None, || contents[0].for_write());
        assert!(result.is_err());
    }
}
