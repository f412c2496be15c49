//! A kept document written into a regular file on every core: each thread takes the next
//! run of [`RUN`] parts (each the document's own text up to a content, then the content
//! read, checked and prepared) into one buffer, and writes it at its offset once the
//! lengths of all the runs before it are known. Nothing waits for a write to finish,
//! only for a length: a thread that has prepared a run whose place is not known yet
//! keeps it and goes on with the next (up to [`HELD`] bytes), and writes it when the
//! place is known. A run is one write of hundreds of kilobytes: the page cache takes
//! large writes in large pages, where one write per file cost the kernel twice the
//! copying (perf: `copy_folio_from_iter_atomic`).
//!
//! Written at offsets, the parts need no writer thread copying them in order into one
//! stream: where the output is a pipe or a terminal the document is streamed
//! (`render::write_measured`).

use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError, TryLockError};

use super::content::{Content, ContentError};
use super::prefetch::Form;

/// One piece of the document: its own text, then a content (none after the last).
#[derive(Debug, Clone, Copy)]
pub struct Part<'t> {
    pub before: &'t str,
    pub content: Option<&'t Content>,
}

/// Why a write stopped.
#[derive(Debug)]
pub enum Stopped {
    /// A content changed since it was counted.
    Changed(ContentError),
    Io(io::Error),
}

impl From<io::Error> for Stopped {
    fn from(error: io::Error) -> Self {
        Self::Io(error)
    }
}

/// Parts per run (one buffer, one write): about half a megabyte of source files.
const RUN: usize = 64;

/// Bytes a thread keeps at most (beyond the part it prepares) while the place of what
/// it prepared is not known: a large file prepared by the other thread holds it back.
const HELD: usize = 4 << 20;

/// The order of the runs: where each one starts, as far as the lengths are known.
struct Places {
    /// Each run's length once prepared (`u64::MAX` before).
    lengths: Vec<u64>,
    /// Where each run starts, for the first `known` runs.
    starts: Vec<u64>,
    known: usize,
    /// Where run `known` starts.
    end: u64,
    failed: Option<Stopped>,
    /// Threads waiting for a place.
    waiting: usize,
}

impl Places {
    /// Record run `index`'s length and work out the places it makes known.
    fn record(&mut self, index: usize, length: u64) {
        self.lengths[index] = length;
        while let Some(&length) = self.lengths.get(self.known)
            && length != u64::MAX
        {
            self.starts[self.known] = self.end;
            self.end += length;
            self.known += 1;
        }
    }

    fn start(&self, index: usize) -> Option<u64> {
        (index < self.known).then(|| self.starts[index])
    }
}

struct Writing<'p, 't> {
    file: &'p File,
    parts: &'p [Part<'t>],
    form: Form,
    /// Where the document starts in the file.
    origin: u64,
    /// Bytes a thread may hold whose place is not known ([`HELD`]).
    most: usize,
    next: AtomicUsize,
    places: Mutex<Places>,
    /// Signalled when places become known (or the write failed).
    known: Condvar,
    /// Held while writing: the file system takes the file's lock for every write, and a
    /// thread waiting for it there spins; one that finds this taken prepares the next
    /// run instead.
    turn: Mutex<()>,
}

/// Write `parts` into `file` from its current offset, on every core, and leave the
/// offset after them (as a sequential write would). If a content cannot be written (it
/// changed since it was counted) or a write fails, the file is cut back to where the
/// document started: nothing of it is left, rather than a document with holes.
pub fn write(file: &File, parts: &[Part<'_>], form: Form) -> Result<(), Stopped> {
    write_holding(file, parts, form, HELD)
}

/// [`write`], a thread holding at most `most` bytes whose place is not known.
fn write_holding(file: &File, parts: &[Part<'_>], form: Form, most: usize) -> Result<(), Stopped> {
    let origin = (&*file).stream_position()?;
    let runs = parts.len().div_ceil(RUN);
    let writing = Writing {
        file,
        parts,
        form,
        origin,
        most,
        next: AtomicUsize::new(0),
        places: Mutex::new(Places {
            lengths: vec![u64::MAX; runs],
            starts: vec![0; runs],
            known: 0,
            end: 0,
            failed: None,
            waiting: 0,
        }),
        known: Condvar::new(),
        turn: Mutex::new(()),
    };
    let threads = crate::parallel::cores().min(runs).max(1);
    std::thread::scope(|scope| {
        // A helper that cannot be started only means fewer hands.
        let helpers: Vec<_> = (1..threads)
            .filter_map(|_| {
                std::thread::Builder::new()
                    .spawn_scoped(scope, || writing.work())
                    .ok()
            })
            .collect();
        writing.work();
        for helper in helpers {
            helper
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        }
    });
    let places = writing
        .places
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(failed) = places.failed {
        let _ = file.set_len(origin);
        let _ = (&*file).seek(SeekFrom::Start(origin));
        return Err(failed);
    }
    (&*file).seek(SeekFrom::Start(origin + places.end))?;
    Ok(())
}

impl Writing<'_, '_> {
    fn lock(&self) -> MutexGuard<'_, Places> {
        self.places.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One thread: prepare the next run, record its length, write what this thread
    /// holds whose place is known; at the end, wait for the places of the rest.
    fn work(&self) {
        let mut held: Vec<(usize, Vec<u8>)> = Vec::new();
        let mut held_bytes = 0;
        // The buffer of a run written, for the next: its pages are in already.
        let mut spare = Vec::new();
        loop {
            let index = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(run) = self.parts.chunks(RUN).nth(index) else {
                break;
            };
            let mut buffer = std::mem::take(&mut spare);
            for part in run {
                buffer.extend_from_slice(part.before.as_bytes());
                if let Some(content) = part.content
                    && let Err(changed) = content.prepared_into(self.form, &mut buffer)
                {
                    return self.fail(Stopped::Changed(changed));
                }
            }
            let length = buffer.len();
            held_bytes += length;
            held.push((index, buffer));
            let mut places = self.lock();
            places.record(index, length as u64);
            if places.waiting > 0 {
                self.known.notify_all();
            }
            let full = held_bytes > self.most;
            while full && places.failed.is_none() && places.start(held[0].0).is_none() {
                places = self.wait(places);
            }
            if places.failed.is_some()
                || !self.write_known(places, &mut held, &mut held_bytes, full, &mut spare)
            {
                return;
            }
        }
        while !held.is_empty() {
            let mut places = self.lock();
            while places.failed.is_none() && places.start(held[0].0).is_none() {
                places = self.wait(places);
            }
            if places.failed.is_some()
                || !self.write_known(places, &mut held, &mut held_bytes, true, &mut spare)
            {
                return;
            }
        }
    }

    fn wait<'g>(&self, mut places: MutexGuard<'g, Places>) -> MutexGuard<'g, Places> {
        places.waiting += 1;
        let mut places = self
            .known
            .wait(places)
            .unwrap_or_else(PoisonError::into_inner);
        places.waiting -= 1;
        places
    }

    /// Write the held runs whose places are known (the lock released first), when it is
    /// this thread's turn, or, unless `must`, not at all if another thread is writing;
    /// `false` if a write failed. The last buffer written is left, emptied, in `spare`.
    fn write_known(
        &self,
        places: MutexGuard<'_, Places>,
        held: &mut Vec<(usize, Vec<u8>)>,
        held_bytes: &mut usize,
        must: bool,
        spare: &mut Vec<u8>,
    ) -> bool {
        let ready = held
            .iter()
            .take_while(|(index, _)| places.start(*index).is_some())
            .count();
        let starts: Vec<u64> = held[..ready]
            .iter()
            .map(|(index, _)| places.starts[*index])
            .collect();
        drop(places);
        if ready == 0 {
            return true;
        }
        let _turn = match self.turn.try_lock() {
            Ok(turn) => turn,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) if !must => return true,
            Err(TryLockError::WouldBlock) => {
                self.turn.lock().unwrap_or_else(PoisonError::into_inner)
            }
        };
        for ((_, mut buffer), start) in held.drain(..ready).zip(starts) {
            *held_bytes -= buffer.len();
            if let Err(error) = self.file.write_all_at(&buffer, self.origin + start) {
                self.fail(Stopped::Io(error));
                return false;
            }
            buffer.clear();
            *spare = buffer;
        }
        true
    }

    /// Stop every thread: the first failure is the one reported.
    fn fail(&self, error: Stopped) {
        let mut places = self.lock();
        places.failed.get_or_insert(error);
        self.next.store(self.parts.len(), Ordering::Relaxed);
        drop(places);
        self.known.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Seek, SeekFrom, Write};

    use super::super::prefetch::Prepared;
    use super::*;

    /// Parts of every size (empty, small, and a few of most of a megabyte, which hold
    /// the other thread back), some without a content.
    fn texts() -> Vec<String> {
        (0..1000)
            .map(|index: usize| match index % 200 {
                7 => "x\"y\\z\n".repeat(150_000 + index),
                13 => String::new(),
                _ => format!("line {index}\n\tquoted \"{index}\"\n").repeat(index % 9 + 1),
            })
            .collect()
    }

    fn written(
        form: Form,
        most: usize,
        contents: &[Option<Content>],
        befores: &[String],
    ) -> Vec<u8> {
        let parts: Vec<Part<'_>> = befores
            .iter()
            .zip(contents)
            .map(|(before, content)| Part {
                before,
                content: content.as_ref(),
            })
            .collect();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"before\n").unwrap();
        write_holding(&file, &parts, form, most).unwrap();
        file.write_all(b"after\n").unwrap();
        file.seek(SeekFrom::Start(0)).unwrap();
        let mut out = Vec::new();
        file.read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn every_part_lands_in_its_place_from_the_file_offset() {
        let dir = tempfile::tempdir().unwrap();
        let texts = texts();
        let contents: Vec<Option<Content>> = texts
            .iter()
            .enumerate()
            .map(|(index, text)| {
                (index % 11 != 5).then(|| {
                    Content::written_for_test(&dir.path().join(format!("{index}.txt")), text)
                })
            })
            .collect();
        let befores: Vec<String> = (0..texts.len()).map(|index| format!("<{index}>")).collect();
        for form in [Form::Plain, Form::JsonEscaped] {
            let mut expected = b"before\n".to_vec();
            for (index, before) in befores.iter().enumerate() {
                expected.extend_from_slice(before.as_bytes());
                if contents[index].is_some() {
                    match form.prepare(texts[index].clone()) {
                        Prepared::Text(text) => expected.extend_from_slice(text.as_bytes()),
                        Prepared::Escaped(escaped) => expected.extend_from_slice(&escaped),
                    }
                }
            }
            expected.extend_from_slice(b"after\n");
            // Held back by a large part, or by any part at all.
            for most in [HELD, 1] {
                let out = written(form, most, &contents, &befores);
                assert!(
                    out == expected,
                    "{form:?} {most}: {} vs {} bytes",
                    out.len(),
                    expected.len()
                );
            }
        }
    }

    #[test]
    fn a_changed_content_leaves_nothing_of_the_document() {
        let dir = tempfile::tempdir().unwrap();
        let contents: Vec<Content> = (0..50)
            .map(|index| {
                Content::written_for_test(&dir.path().join(format!("{index}.txt")), "counted\n")
            })
            .collect();
        std::fs::write(dir.path().join("31.txt"), "changed\n").unwrap();
        let parts: Vec<Part<'_>> = contents
            .iter()
            .map(|content| Part {
                before: "<>",
                content: Some(content),
            })
            .collect();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"before\n").unwrap();
        let error = write(&file, &parts, Form::Plain).unwrap_err();
        assert!(matches!(&error, Stopped::Changed(_)), "{error:?}");
        file.write_all(b"after\n").unwrap();
        file.seek(SeekFrom::Start(0)).unwrap();
        let mut out = String::new();
        file.read_to_string(&mut out).unwrap();
        assert_eq!(out, "before\nafter\n");
    }
}
