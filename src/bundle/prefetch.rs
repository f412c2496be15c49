//! Reading ahead while a bundle is written: one thread reads (and checks) the next files
//! while the writer escapes and writes the current one, within a memory cap.
//!
//! The reader goes through the contents in the order it is given (the order the writer
//! is expected to ask for them); the writer asks in whatever order the template prints.
//! A content the reader has not reached is read by the writer itself; one the reader is
//! busy with is waited for; one printed twice is read again. Nothing is held beyond
//! [`CAP`] bytes.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::content::{Content, ContentError};

/// Bytes read ahead at most (plus the file being read).
const CAP: usize = 2 << 20;

/// One content's state during a write.
enum Slot {
    /// Not touched yet.
    Pending,
    /// Being read by the reader thread.
    Loading,
    /// Read, not yet written.
    Ready(Result<String, ContentError>),
    /// Handed to the writer (or left to it).
    Taken,
}

struct State {
    slots: Vec<Slot>,
    /// Bytes in `Ready` slots.
    buffered: usize,
    stopped: bool,
}

/// The read-ahead of one write.
pub struct Prefetch {
    state: Mutex<State>,
    changed: Condvar,
}

impl std::fmt::Debug for Prefetch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prefetch").finish_non_exhaustive()
    }
}

impl Prefetch {
    /// Read ahead for `contents` (in bundle order) while `write` runs on this thread.
    pub fn around<R>(contents: &[Content], write: impl FnOnce() -> R) -> R {
        let prefetch = Arc::new(Self {
            state: Mutex::new(State {
                slots: contents.iter().map(|_| Slot::Pending).collect(),
                buffered: 0,
                stopped: false,
            }),
            changed: Condvar::new(),
        });
        for (index, content) in contents.iter().enumerate() {
            content.attach(Some((prefetch.clone(), index)));
        }
        let result = std::thread::scope(|scope| {
            // Without a reader thread (none could be started) the writer reads itself.
            let _ = std::thread::Builder::new().spawn_scoped(scope, || prefetch.read_all(contents));
            let result = write();
            prefetch.lock().stopped = true;
            prefetch.changed.notify_all();
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

    fn wait<'g>(&self, guard: MutexGuard<'g, State>) -> MutexGuard<'g, State> {
        self.changed
            .wait(guard)
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The reader thread: each content in order, unless the writer got there first.
    fn read_all(&self, contents: &[Content]) {
        for (index, content) in contents.iter().enumerate() {
            let mut state = self.lock();
            while state.buffered > CAP && !state.stopped {
                state = self.wait(state);
            }
            if state.stopped {
                return;
            }
            if !matches!(state.slots[index], Slot::Pending) {
                continue;
            }
            state.slots[index] = Slot::Loading;
            drop(state);
            let text = content.read();
            let mut state = self.lock();
            state.buffered += text.as_ref().map_or(0, String::len);
            state.slots[index] = Slot::Ready(text);
            drop(state);
            self.changed.notify_all();
        }
    }

    /// The text of content `index` for the writer: read ahead, being read, or read now
    /// with `read`.
    pub fn take(
        &self,
        index: usize,
        read: impl FnOnce() -> Result<String, ContentError>,
    ) -> Result<String, ContentError> {
        let mut state = self.lock();
        loop {
            match std::mem::replace(&mut state.slots[index], Slot::Taken) {
                Slot::Ready(text) => {
                    state.buffered -= text.as_ref().map_or(0, String::len);
                    drop(state);
                    self.changed.notify_all();
                    return text;
                }
                Slot::Loading => {
                    state.slots[index] = Slot::Loading;
                    state = self.wait(state);
                }
                Slot::Pending | Slot::Taken => {
                    drop(state);
                    return read();
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
        let texts = Prefetch::around(&contents, || {
            // Backwards, then the first one again.
            let mut texts: Vec<String> = contents
                .iter()
                .rev()
                .map(|content| content.text().unwrap())
                .collect();
            texts.push(contents[0].text().unwrap());
            texts
        });
        assert_eq!(texts[0], "file 49\n");
        assert_eq!(texts[49], "file 0\n");
        assert_eq!(texts[50], "file 0\n");
        // Detached afterwards: reads go straight to the file.
        assert_eq!(contents[3].text().unwrap(), "file 3\n");
    }

    #[test]
    fn a_changed_file_is_refused_through_the_read_ahead_too() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, "counted\n").unwrap();
        let contents = vec![Content::for_test(&path, "counted\n")];
        std::fs::write(&path, "changed\n").unwrap();
        let result = Prefetch::around(&contents, || contents[0].text());
        assert!(result.is_err());
    }
}
