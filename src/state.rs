//! The `.ctx/` folder of a workspace: the one module that knows its layout.
//!
//! ```text
//! .ctx/
//!   .gitignore            `*`: the folder is never committed by accident
//!   cache/tokens          the token cache (bundle::cache)
//!   gate-cache/<hash>.json  a gate's last pass and its inputs' key (gates::cache)
//!   store.sqlite          the outcome store (store), unless `[store] url` names another
//!   spool/<run id>.json   records the store could not take yet
//!   inbox/*.yaml          improvements `ctx insights --propose` suggests
//!   runs/<run id>/        one folder per `ctx gates` run
//!     bundle.json         the bundle given to gates as `CTX_BUNDLE`
//!     <gate>.log          a gate's whole output
//!     out/<gate>/         a gate's private output folder (`CTX_GATE_OUTPUT_DIR`)
//! ```
//!
//! Everything else asks this module for a path; nothing joins `.ctx` by hand.

use std::io;
use std::path::{Path, PathBuf};

use crate::ids::{GateId, RunId};

/// The `.ctx/` folder of the workspace at a root.
#[derive(Debug, Clone)]
pub struct State {
    folder: PathBuf,
}

impl State {
    pub fn of(root: &Path) -> Self {
        Self {
            folder: root.join(".ctx"),
        }
    }

    /// Where the documents of source `name` at `commit` are checked out (read-only).
    pub fn source_tree(&self, name: &str, commit: &str) -> PathBuf {
        self.folder.join("sources").join(name).join(commit)
    }

    /// The bare clone `ctx fetch` keeps of source `name`.
    pub fn source_repo(&self, name: &str) -> PathBuf {
        self.folder.join("sources").join(name).join("repo.git")
    }

    /// The token cache file.
    pub fn token_cache(&self) -> PathBuf {
        self.folder.join("cache").join("tokens")
    }

    /// The gate cache: each gate's last pass with its inputs' key.
    pub fn gate_cache(&self) -> PathBuf {
        self.folder.join("gate-cache")
    }

    /// The outcome store (SQLite), unless `[store] url` names another.
    pub fn store(&self) -> PathBuf {
        self.folder.join("store.sqlite")
    }

    /// Records of runs the store could not take yet.
    pub fn spool(&self) -> PathBuf {
        self.folder.join("spool")
    }

    /// Improvements `ctx insights --propose` suggests, for review.
    pub fn inbox(&self) -> PathBuf {
        self.folder.join("inbox")
    }

    /// The folder of one gate run.
    pub fn run_dir(&self, run: &RunId) -> PathBuf {
        self.folder.join("runs").join(run.as_str())
    }

    /// Create the folder that will hold `path` (a file under `.ctx/`), and the `.ctx`
    /// folder's own `.gitignore` if it has none.
    pub fn prepare(&self, path: &Path) -> io::Result<()> {
        let folder = path.parent().unwrap_or(&self.folder);
        std::fs::create_dir_all(folder)?;
        let ignore = self.folder.join(".gitignore");
        match ignore.exists() {
            true => Ok(()),
            false => std::fs::write(ignore, "*\n"),
        }
    }
}

/// The marker of a run in progress (its process id): never pruned while that process
/// lives.
const RUNNING: &str = ".running";

impl State {
    /// Mark a run folder as in progress.
    pub fn mark_running(run_dir: &Path) {
        let _ = std::fs::write(run_dir.join(RUNNING), std::process::id().to_string());
    }

    /// The run is over: unmark it, then keep only the newest `keep` run folders (runs in
    /// progress in other processes are left alone). Returns how many were removed.
    pub fn finish_run(&self, run_dir: &Path, keep: usize) -> usize {
        let _ = std::fs::remove_file(run_dir.join(RUNNING));
        let runs = self.folder.join("runs");
        let Ok(entries) = std::fs::read_dir(&runs) else {
            return 0;
        };
        let mut folders: Vec<PathBuf> = entries
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| {
                path.is_dir()
                    && path
                        .file_name()
                        .is_some_and(|name| name.to_string_lossy().parse::<RunId>().is_ok())
            })
            .collect();
        // Run ids sort by start time: the oldest come first.
        folders.sort();
        let excess = folders.len().saturating_sub(keep);
        let mut removed = 0;
        for folder in folders.into_iter().take(excess) {
            let running = std::fs::read_to_string(folder.join(RUNNING))
                .ok()
                .and_then(|pid| pid.trim().parse::<i32>().ok())
                .is_some_and(|pid| {
                    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
                });
            if !running && std::fs::remove_dir_all(&folder).is_ok() {
                removed += 1;
            }
        }
        removed
    }
}

/// This machine's (and user's) cache key: 32 random bytes kept outside every workspace
/// (`$XDG_CACHE_HOME/ctx/cache-key`, else `~/.cache/ctx/cache-key`), created on first
/// use. A cache restored from elsewhere was not written with it. `None` when there is no
/// place for it.
pub fn machine_key() -> Option<[u8; 32]> {
    static KEY: std::sync::OnceLock<Option<[u8; 32]>> = std::sync::OnceLock::new();
    *KEY.get_or_init(|| {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .filter(|value| !value.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
        let path = base.join("ctx").join("cache-key");
        if let Ok((file, metadata)) = crate::paths::open_regular(&path)
            && let Ok(bytes) = crate::paths::read_opened(&file, &metadata, 64)
            && let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice())
        {
            return Some(key);
        }
        let mut key = [0u8; 32];
        {
            use std::io::Read as _;
            std::fs::File::open("/dev/urandom")
                .ok()?
                .read_exact(&mut key)
                .ok()?;
        }
        std::fs::create_dir_all(path.parent()?).ok()?;
        crate::output::write_atomic(&path, &key).ok()?;
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
        }
        Some(key)
    })
}

/// A run folder's files for one gate.
#[derive(Debug, Clone)]
pub struct GateFiles {
    pub log: PathBuf,
    pub output_dir: PathBuf,
}

impl GateFiles {
    pub fn of(run_dir: &Path, gate: &GateId) -> Self {
        let name = file_name(&gate.to_string());
        Self {
            log: run_dir.join(format!("{name}.log")),
            output_dir: run_dir.join("out").join(name),
        }
    }
}

/// The bundle a run gives its gates.
pub fn run_bundle(run_dir: &Path) -> PathBuf {
    run_dir.join("bundle.json")
}

/// The record of a finished run (`ctx.gates/v1`): what `ctx bundle --from-run` reads.
pub fn run_record(run_dir: &Path) -> PathBuf {
    run_dir.join("run.json")
}

impl State {
    /// The folder of the newest run with a record, if any.
    pub fn latest_run(&self) -> Option<PathBuf> {
        let mut folders: Vec<PathBuf> = std::fs::read_dir(self.folder.join("runs"))
            .ok()?
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| {
                path.file_name()
                    .is_some_and(|name| name.to_string_lossy().parse::<RunId>().is_ok())
                    && run_record(path).is_file()
            })
            .collect();
        // Run ids sort by start time.
        folders.sort();
        folders.pop()
    }
}

/// A file name for a gate id: `domain:payment/payment-tests` → `domain_payment__payment-tests`.
fn file_name(id: &str) -> String {
    id.chars()
        .map(|character| match character {
            ':' => '_',
            '/' => '~',
            character
                if character.is_ascii_alphanumeric()
                    || matches!(character, '-' | '_' | '.' | '@') =>
            {
                character
            }
            _ => '_',
        })
        .collect::<String>()
        .replace('~', "__")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::workspace::LayerKind;
    use crate::ids::LayerId;

    #[test]
    fn gate_files_are_named_after_the_gate() {
        let gate = GateId::new(LayerId::new(LayerKind::Domain, "payment"), "payment-tests");
        let files = GateFiles::of(Path::new("/r"), &gate);
        assert_eq!(files.log, Path::new("/r/domain_payment__payment-tests.log"));
        assert_eq!(
            files.output_dir,
            Path::new("/r/out/domain_payment__payment-tests")
        );
    }
}
