//! Opening and reading regular files only: a FIFO, socket or device is refused without
//! blocking, and reads are capped.

use std::io::{self, Read};
use std::path::Path;

/// Read at most `cap` bytes from a file opened by [`open_regular`] or [`open_seen_regular`].
pub fn read_opened(
    file: &std::fs::File,
    metadata: &std::fs::Metadata,
    cap: u64,
) -> io::Result<Vec<u8>> {
    // Up to the size the open handle reported (a file that grows meanwhile is read as it
    // was): once that much is in, no further `read` is made to look for more. A size of 0
    // may not be the truth (some special files), so then up to the cap.
    let limit = match metadata.len() {
        0 => cap,
        size => size.min(cap),
    };
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len().min(cap)).unwrap_or(0));
    file.take(limit).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// [`read_opened`] into a buffer kept initialised from file to file: the file's bytes
/// land at the start of `bytes`, and their number comes back. `bytes` keeps its length
/// (zeroed only where it grows), so a file of known size is read in one `read` as a rule
/// without zeroing room for it first; `read_to_end`, without a size hint, starts at
/// 8 KiB and doubles (a 100 KiB file took four `read`s).
pub fn read_opened_reusing(
    file: &std::fs::File,
    metadata: &std::fs::Metadata,
    cap: u64,
    bytes: &mut Vec<u8>,
) -> io::Result<usize> {
    // A size of 0 may not be the truth (some special files): then up to the cap.
    let size = match metadata.len() {
        0 => None,
        size => usize::try_from(size.min(cap)).ok(),
    };
    let Some(size) = size else {
        let read = read_opened(file, metadata, cap)?;
        if bytes.len() < read.len() {
            bytes.resize(read.len(), 0);
        }
        bytes[..read.len()].copy_from_slice(&read);
        return Ok(read.len());
    };
    if bytes.len() < size {
        bytes.resize(size, 0);
    }
    // Up to the size the open handle reported (a file that grows meanwhile is read as it
    // was).
    let mut filled = 0;
    let mut reader = file;
    while filled < size {
        match reader.read(&mut bytes[filled..size]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// Open a regular file for reading, with its metadata taken on the open handle.
/// Anything else (FIFO, socket, device, folder) is refused without being opened.
pub fn open_regular(path: &Path) -> io::Result<(std::fs::File, std::fs::Metadata)> {
    if !std::fs::metadata(path)?.is_file() {
        return Err(not_regular());
    }
    open_seen_regular(path)
}

/// [`open_regular`] for a path the caller has just seen to be a regular file (its own
/// `stat` said so): opens without looking again. The type is still checked on the open
/// handle, and the open cannot block.
pub fn open_seen_regular(path: &Path) -> io::Result<(std::fs::File, std::fs::Metadata)> {
    open_checked(path, nix::fcntl::OFlag::O_NONBLOCK)
}

/// [`open_regular`] for a path the tree's walk listed as a regular file, not a symlink,
/// with no symlink on the way (`Resolver::indexed_file`): opened without a `stat` of the
/// path first, and refused (`ELOOP`) should it have become a symlink since; the type is
/// checked on the open handle. The caller resolves the path in full when this fails.
pub fn open_listed_regular(path: &Path) -> io::Result<(std::fs::File, std::fs::Metadata)> {
    use nix::fcntl::OFlag;
    open_checked(path, OFlag::O_NONBLOCK | OFlag::O_NOFOLLOW)
}

/// Open `path` for reading with `flags` (at least `O_NONBLOCK`: if a FIFO was swapped in
/// after the caller's check, opening it must not block), and check on the open handle
/// that it is a regular file.
fn open_checked(
    path: &Path,
    flags: nix::fcntl::OFlag,
) -> io::Result<(std::fs::File, std::fs::Metadata)> {
    let file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(flags.bits())
            .open(path)?
    };
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (it changed while being opened)",
        ));
    }
    Ok((file, metadata))
}

/// Why a path that is not a regular file is not read.
pub fn not_regular() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "not a regular file (FIFOs, sockets and devices are never opened)",
    )
}

/// Number of lines (a last line without `\n` counts) in a file the caller has just seen
/// to be a regular file ([`open_seen_regular`]), reading at most `cap` bytes.
/// A regular file's text (invalid UTF-8 replaced), read within `cap` bytes.
pub fn read_text(path: &Path, cap: u64) -> io::Result<String> {
    let (file, metadata) = open_seen_regular(path)?;
    let bytes = read_opened(&file, &metadata, cap)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

pub fn count_lines(path: &Path, cap: u64) -> io::Result<usize> {
    let (file, metadata) = open_seen_regular(path)?;
    let bytes = read_opened(&file, &metadata, cap)?;
    let newlines = memchr::memchr_iter(b'\n', &bytes).count();
    Ok(newlines + usize::from(bytes.last().is_some_and(|&byte| byte != b'\n')))
}

/// Open a file to append to, creating it if missing; a FIFO, socket, device or folder is
/// refused without being opened (so it cannot block).
pub fn open_append_regular(path: &Path) -> io::Result<std::fs::File> {
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_symlink() => {
            let target = std::fs::metadata(path)?;
            if !target.is_file() {
                return Err(not_regular());
            }
        }
        Ok(metadata) if !metadata.is_file() => return Err(not_regular()),
        _ => {}
    }
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(not_regular());
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One buffer through files of every size: each file's bytes at its start, however
    /// long the buffer grew for an earlier one; a file that grew after its metadata was
    /// taken is read as it was; a file that reports a size of 0 (as `/proc` does) is read
    /// up to the cap.
    #[test]
    fn a_reused_buffer_holds_each_file_at_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let texts = [
            "x".repeat(100_000),
            "short\n".to_owned(),
            String::new(),
            "é".repeat(9_000),
        ];
        let mut buffer = Vec::new();
        for (index, text) in texts.iter().enumerate() {
            let path = dir.path().join(format!("{index}.txt"));
            std::fs::write(&path, text).unwrap();
            let (file, metadata) = open_regular(&path).unwrap();
            let length = read_opened_reusing(&file, &metadata, 1 << 20, &mut buffer).unwrap();
            assert_eq!(&buffer[..length], text.as_bytes(), "file {index}");
        }
        let path = dir.path().join("grows.txt");
        std::fs::write(&path, "before\n").unwrap();
        let (file, metadata) = open_regular(&path).unwrap();
        std::fs::write(&path, "before\nand after\n").unwrap();
        let length = read_opened_reusing(&file, &metadata, 1 << 20, &mut buffer).unwrap();
        assert_eq!(&buffer[..length], b"before\n");
        let (file, metadata) = open_regular(Path::new("/proc/self/status")).unwrap();
        assert_eq!(metadata.len(), 0);
        let length = read_opened_reusing(&file, &metadata, 10, &mut buffer).unwrap();
        assert_eq!(length, 10, "capped");
        assert!(buffer[..length].starts_with(b"Name:"));
    }
}
