//! The Printer: the only way `ctx` writes to the terminal.
//!
//! stdout carries data (bundles, tables, JSON); stderr carries everything else
//! (diagnostics, warnings, progress). Colour follows `--color`, then `NO_COLOR`, then
//! whether stderr is a terminal. A closed stdout (`ctx list | head`) is not an error:
//! the Printer notes it and every later write to stdout is dropped quietly.

use std::cell::Cell;
use std::io::{self, IsTerminal, Write};

/// When to colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorChoice {
    /// Colour when stderr is a terminal and `NO_COLOR` is unset.
    #[default]
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// How chatty stderr is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// Errors only (`-q`).
    Quiet,
    /// Errors and warnings.
    Normal,
    /// Also notes (`-v`).
    Verbose,
}

/// Writes data to stdout and everything else to stderr.
#[derive(Debug)]
pub struct Printer {
    color: bool,
    verbosity: Verbosity,
    stdout_closed: Cell<bool>,
}

impl Printer {
    /// Decide colour once, from the flag, `NO_COLOR` and the terminal.
    pub fn new(choice: ColorChoice, verbosity: Verbosity) -> Self {
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
                    && io::stderr().is_terminal()
            }
        };
        Self {
            color,
            verbosity,
            stdout_closed: Cell::new(false),
        }
    }

    /// Whether diagnostics should be coloured.
    pub fn color(&self) -> bool {
        self.color
    }

    /// Whether progress bars may be drawn (stderr is a terminal, not `-q`).
    pub fn progress(&self) -> bool {
        self.verbosity >= Verbosity::Normal && io::stderr().is_terminal()
    }

    /// Text on stderr as is (gate output blocks, GitHub workflow commands).
    pub fn text(&self, text: &str) {
        self.stderr(text);
    }

    /// Write data to stdout. A broken pipe ends output quietly; other errors are returned.
    pub fn data(&self, text: &str) -> io::Result<()> {
        if self.stdout_closed.get() {
            return Ok(());
        }
        let mut stdout = io::stdout().lock();
        match stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
        {
            Err(error) if error.kind() == io::ErrorKind::BrokenPipe => {
                self.stdout_closed.set(true);
                Ok(())
            }
            other => other,
        }
    }

    /// Stream data to stdout through `write` (buffered). A closed pipe ends the output
    /// quietly, like [`Printer::data`]: `write` is stopped (its writes fail from then
    /// on) and its error ignored, so `ctx bundle | head` ends at once.
    pub fn stream_data<E: From<io::Error>>(
        &self,
        write: impl FnOnce(&mut dyn Write) -> Result<(), E>,
    ) -> Result<(), E> {
        self.stream(|| None, |out, _| write(out))
    }

    /// [`Printer::stream_data`], `write` also given standard output as a file when it may
    /// write it at offsets instead ([`stdout_file`]).
    pub fn stream_data_to<E: From<io::Error>>(
        &self,
        write: impl FnOnce(&mut dyn Write, Option<&std::fs::File>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.stream(stdout_file, write)
    }

    /// Standard output (and the file behind it, as `file` finds it) to `write`, unless a
    /// broken pipe closed it.
    fn stream<E: From<io::Error>>(
        &self,
        file: impl FnOnce() -> Option<std::fs::File>,
        write: impl FnOnce(&mut dyn Write, Option<&std::fs::File>) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.stdout_closed.get() {
            return Ok(());
        }
        let file = file();
        let mut pipe = Pipe {
            inner: io::BufWriter::with_capacity(1 << 16, io::stdout().lock()),
            closed: false,
        };
        let written = write(&mut pipe, file.as_ref()).and_then(|()| Ok(pipe.flush()?));
        if pipe.closed {
            self.stdout_closed.set(true);
            return Ok(());
        }
        written
    }

    /// Write a rendered diagnostic (error or warning) to stderr.
    pub fn diagnostic(&self, rendered: &str, is_error: bool) {
        if !is_error && self.verbosity == Verbosity::Quiet {
            return;
        }
        self.stderr(rendered);
    }

    /// A one-line status message on stderr (`-v` only).
    pub fn note(&self, message: &str) {
        if self.verbosity >= Verbosity::Verbose {
            self.stderr(&format!("note: {message}\n"));
        }
    }

    /// A one-line summary on stderr, shown unless `-q`.
    pub fn status(&self, message: &str) {
        if self.verbosity >= Verbosity::Normal {
            self.stderr(&format!("{message}\n"));
        }
    }

    /// An error message on stderr, always shown.
    pub fn error(&self, message: &str) {
        let prefix = if self.color {
            "\u{1b}[1;31merror\u{1b}[0m"
        } else {
            "error"
        };
        self.stderr(&format!("{prefix}: {message}\n"));
    }

    fn stderr(&self, text: &str) {
        // Nothing useful can be done when stderr itself is gone.
        let _ = io::stderr().lock().write_all(text.as_bytes());
    }
}

/// Write `bytes` to `path` atomically: a temp file in the same folder, flushed to disk,
/// then renamed over the target. On failure the previous file is untouched and the temp
/// file removed.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |out| out.write_all(bytes))
}

/// [`write_atomic`], with the content streamed by `write` (buffered) instead of held in
/// memory. If `write` fails, the temp file is removed and `path` is left as it was.
pub fn write_atomic_with<E: From<io::Error>>(
    path: &std::path::Path,
    write: impl FnOnce(&mut dyn Write) -> Result<(), E>,
) -> Result<(), E> {
    write_atomic_to(path, |out, _| write(out))
}

/// [`write_atomic_with`], `write` also given the temp file, which it may write at
/// offsets instead (from offset 0; the stream holds nothing unwritten when it starts).
pub fn write_atomic_to<E: From<io::Error>>(
    path: &std::path::Path,
    write: impl FnOnce(&mut dyn Write, Option<&std::fs::File>) -> Result<(), E>,
) -> Result<(), E> {
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "the output path names no file")
    })?;
    let prefix = format!(".{}.ctx-tmp-", name.to_string_lossy());
    remove_stale_temps(&folder, &prefix);
    let temp = folder.join(format!("{prefix}{}", std::process::id()));
    let result = (|| -> Result<(), E> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        let mut buffered = io::BufWriter::with_capacity(1 << 16, &file);
        write(&mut buffered, Some(&file))?;
        buffered.flush()?;
        drop(buffered);
        file.sync_all()?;
        Ok(std::fs::rename(&temp, path)?)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Standard output as a file a document may be written into at offsets: a regular file
/// (`> out.json`), not opened to append (`>>`: Linux appends every positional write,
/// whatever its offset). A copy of the descriptor, sharing the file's offset.
pub fn stdout_file() -> Option<std::fs::File> {
    use std::os::fd::AsFd;
    let descriptor = io::stdout().as_fd().try_clone_to_owned().ok()?;
    let flags = nix::fcntl::fcntl(&descriptor, nix::fcntl::FcntlArg::F_GETFL).ok()?;
    if nix::fcntl::OFlag::from_bits_truncate(flags).contains(nix::fcntl::OFlag::O_APPEND) {
        return None;
    }
    let file = std::fs::File::from(descriptor);
    file.metadata().ok()?.is_file().then_some(file)
}

/// A configuration string as a terminal may show it: escape sequences (colours, titles,
/// hyperlinks) and other control characters (bell, NUL) removed; newlines and tabs kept.
pub fn printable(text: &str) -> String {
    crate::secrets::strip_escapes(text)
        .chars()
        .filter(|character| !character.is_control() || matches!(character, '\n' | '\t'))
        .collect()
}

/// Where an output named on the command line goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// `-`: standard output.
    Stdout,
    /// An existing FIFO, device or socket (`/dev/null`, `/dev/stdout`): written through,
    /// never replaced.
    Through(std::path::PathBuf),
    /// A regular file (existing or not), symlinks followed: written atomically.
    File(std::path::PathBuf),
}

/// Why an output was refused (before anything was written).
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("`{0}` is one of this run's inputs ({1}); ctx never writes over its own input")]
    Input(String, &'static str),
    #[error("`{0}`: {1}")]
    Unusable(String, io::Error),
}

/// Resolve an output path: `-` is stdout; a symlink is followed to its destination; an
/// existing non-regular file is written through; one of the run's `inputs` (canonical
/// paths, with what they are) is refused.
pub fn destination(
    path: &std::path::Path,
    inputs: &[(std::path::PathBuf, &'static str)],
) -> Result<Destination, Refused> {
    if path.as_os_str() == "-" {
        return Ok(Destination::Stdout);
    }
    let shown = path.display().to_string();
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&current) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                let target = std::fs::read_link(&current)
                    .map_err(|error| Refused::Unusable(shown.clone(), error))?;
                current = match current.parent() {
                    Some(parent) if target.is_relative() => parent.join(target),
                    _ => target,
                };
            }
            // A folder in the way is left to the write, which fails (exit 4) and keeps it.
            Ok(metadata) if !metadata.is_file() && !metadata.is_dir() => {
                return Ok(Destination::Through(current));
            }
            Ok(_) | Err(_) => {
                // A regular file, or nothing yet: compare its canonical place with the inputs.
                let canonical = current
                    .parent()
                    .filter(|parent| !parent.as_os_str().is_empty())
                    .map_or_else(
                        || std::path::PathBuf::from("."),
                        std::path::Path::to_path_buf,
                    )
                    .canonicalize()
                    .ok()
                    .zip(current.file_name())
                    .map(|(folder, name)| folder.join(name));
                if let Some(canonical) = &canonical
                    && let Some((_, what)) = inputs.iter().find(|(input, _)| input == canonical)
                {
                    return Err(Refused::Input(shown, what));
                }
                return Ok(Destination::File(current));
            }
        }
    }
    Err(Refused::Unusable(
        shown,
        io::Error::other("too many levels of symbolic links"),
    ))
}

/// Write through an existing FIFO, device or socket (never replacing it).
pub fn write_through<E: From<io::Error>>(
    path: &std::path::Path,
    write: impl FnOnce(&mut dyn Write) -> Result<(), E>,
) -> Result<(), E> {
    let file = std::fs::OpenOptions::new().write(true).open(path)?;
    let mut buffered = io::BufWriter::with_capacity(1 << 16, file);
    write(&mut buffered)?;
    buffered.flush()?;
    Ok(())
}

/// Write many files atomically at once (`ctx export`): each to a temp file beside it,
/// then one flush of the file system (instead of one per file), then the renames. If
/// anything fails before the renames, every target is left as it was.
pub fn write_many_atomic(
    files: &[(std::path::PathBuf, &[u8])],
) -> Result<(), (std::path::PathBuf, io::Error)> {
    let mut temps: Vec<(std::path::PathBuf, std::fs::File)> = Vec::new();
    let cleanup = |temps: &[(std::path::PathBuf, std::fs::File)]| {
        for (temp, _) in temps {
            let _ = std::fs::remove_file(temp);
        }
    };
    for (path, bytes) in files {
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = path.with_file_name(format!(".{name}.ctx-tmp-{}", std::process::id()));
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .and_then(|mut file| file.write_all(bytes).map(|()| file));
        match written {
            Ok(file) => temps.push((temp, file)),
            Err(error) => {
                let _ = std::fs::remove_file(&temp);
                cleanup(&temps);
                return Err((path.clone(), error));
            }
        }
    }
    // One flush of the whole file system; where that is not possible, each file.
    if let Some((_, file)) = temps.first()
        && nix::unistd::syncfs(file).is_err()
    {
        for (temp, file) in &temps {
            if let Err(error) = file.sync_all() {
                cleanup(&temps);
                return Err((temp.clone(), error));
            }
        }
    }
    for ((temp, _), (path, _)) in temps.iter().zip(files) {
        if let Err(error) = std::fs::rename(temp, path) {
            cleanup(&temps);
            return Err((path.clone(), error));
        }
    }
    Ok(())
}

/// A writer that notes a broken pipe (the reader went away); every write after it fails
/// too, so that whoever writes stops.
struct Pipe<W: Write> {
    inner: W,
    closed: bool,
}

impl<W: Write> Pipe<W> {
    fn guard<T>(&mut self, result: io::Result<T>) -> io::Result<T> {
        if let Err(error) = &result
            && error.kind() == io::ErrorKind::BrokenPipe
        {
            self.closed = true;
        }
        result
    }

    fn closed_error() -> io::Error {
        io::Error::new(io::ErrorKind::BrokenPipe, "the reader of stdout went away")
    }
}

impl<W: Write> Write for Pipe<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Err(Self::closed_error());
        }
        let result = self.inner.write(bytes);
        self.guard(result)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Err(Self::closed_error());
        }
        let result = self.inner.flush();
        self.guard(result)
    }
}

/// Remove temp files left by writers that were killed mid-write: `<prefix><pid>` whose
/// process no longer exists. A live writer's temp file is never touched.
fn remove_stale_temps(folder: &std::path::Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|name| name.strip_prefix(prefix)) else {
            continue;
        };
        let alive = pid
            .parse::<u32>()
            .is_ok_and(|pid| std::path::Path::new("/proc").join(pid.to_string()).exists());
        if !alive {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
