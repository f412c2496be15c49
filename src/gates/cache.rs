//! Gate results cached on declared inputs (opt-in per gate, never a false pass).
//!
//! A gate with `inputs` has a key: the blake3 of ctx's version, its command, its `cwd`,
//! its own `env`, the values of the variables it names, and the path and content of
//! every input file. Its last pass is kept under `.ctx/gate-cache/` with that key and
//! what went into it; a later run with the same key reuses the pass (status `cached`)
//! unless `--rerun`. Failures are never stored, a gate without `inputs` always runs, and
//! an entry that does not check out (damaged, edited, from another version) is ignored:
//! it only costs a run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::select::SelectedGate;
use crate::ids::GateId;
use crate::paths::Resolver;

/// What a key is made of, kept with the pass so `--why` can say what changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyParts {
    pub version: String,
    pub command: String,
    pub cwd: Option<String>,
    pub env: Vec<(String, String)>,
    /// Named variables and their values (`None`: unset).
    pub vars: BTreeMap<String, Option<String>>,
    /// Input files (root-relative) and the blake3 of their content.
    pub files: BTreeMap<String, String>,
}

impl KeyParts {
    /// The key: blake3 over the parts, in a fixed order.
    pub fn key(&self) -> String {
        let mut hasher = blake3::Hasher::new();
        let mut field = |text: &str| {
            hasher.update(&(text.len() as u64).to_le_bytes());
            hasher.update(text.as_bytes());
        };
        field("ctx-gate-cache/v1");
        field(&self.version);
        field(&self.command);
        field(self.cwd.as_deref().unwrap_or("."));
        for (name, value) in &self.env {
            field(name);
            field(value);
        }
        for (name, value) in &self.vars {
            field(name);
            field(value.as_deref().unwrap_or("\0unset"));
        }
        for (path, hash) in &self.files {
            field(path);
            field(hash);
        }
        hasher.finalize().to_hex().to_string()
    }

    /// What differs from `earlier`, in words.
    pub fn changes_since(&self, earlier: &Self) -> Vec<String> {
        let mut changes = Vec::new();
        if self.version != earlier.version {
            changes.push(format!(
                "ctx's version changed ({} → {})",
                earlier.version, self.version
            ));
        }
        if self.command != earlier.command {
            changes.push(format!(
                "the command changed (`{}` → `{}`)",
                earlier.command, self.command
            ));
        }
        if self.cwd != earlier.cwd {
            changes.push(String::from("the working folder changed"));
        }
        if self.env != earlier.env {
            changes.push(String::from("the gate's `env` changed"));
        }
        for (name, value) in &self.vars {
            if earlier.vars.get(name) != Some(value) {
                changes.push(format!("the variable `{name}` changed"));
            }
        }
        for (path, hash) in &self.files {
            match earlier.files.get(path) {
                None => changes.push(format!("`{path}` is new")),
                Some(old) if old != hash => changes.push(format!("`{path}` changed")),
                Some(_) => {}
            }
        }
        for path in earlier.files.keys() {
            if !self.files.contains_key(path) {
                changes.push(format!("`{path}` is gone"));
            }
        }
        changes
    }
}

/// A stored pass.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub gate: String,
    pub key: String,
    pub parts: KeyParts,
    pub duration_ms: u64,
    pub run_id: String,
    /// blake3 of the entry's JSON with this field empty: a damaged entry is ignored.
    #[serde(default)]
    pub check: String,
}

impl Entry {
    fn seal(mut self) -> Self {
        self.check.clear();
        self.check = checksum(&self);
        self
    }

    fn sound(&self) -> bool {
        let mut copy = self.clone();
        copy.check.clear();
        checksum(&copy) == self.check && self.parts.key() == self.key
    }
}

fn checksum(entry: &Entry) -> String {
    let text = serde_json::to_vec(entry).unwrap_or_default();
    blake3::hash(&text).to_hex().to_string()
}

/// The parts of a gate's key as things are now; `None` for a gate without `inputs`.
/// `hashes` memoises file hashes across the gates of a run.
pub fn parts(
    resolver: &Resolver,
    root: &Path,
    gate: &SelectedGate,
    hashes: &dyn Fn(&str) -> String,
) -> Option<KeyParts> {
    let inputs = gate.inputs.as_ref()?;
    let mut files = BTreeMap::new();
    for glob in &inputs.files {
        match resolver.expand_glob(glob) {
            Ok(matches) => {
                for path in matches.into_iter().flatten() {
                    files
                        .entry(path.to_string())
                        .or_insert_with(|| hashes(&path));
                }
            }
            Err(_) => {
                files.insert(format!("{glob} (unusable)"), String::new());
            }
        }
    }
    let _ = root;
    let mut env = gate.env.clone();
    env.sort();
    Some(KeyParts {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        command: gate.run.clone(),
        cwd: gate.cwd.clone(),
        env,
        vars: inputs
            .env
            .iter()
            .map(|name| (name.clone(), std::env::var(name).ok()))
            .collect(),
        files,
    })
}

/// The blake3 of a file's content (`missing` when it cannot be read).
pub fn hash_file(root: &Path, relative: &str) -> String {
    match std::fs::read(root.join(relative)) {
        Ok(bytes) => blake3::hash(&bytes).to_hex().to_string(),
        Err(_) => String::from("missing"),
    }
}

/// The cache folder of a workspace.
#[derive(Debug, Clone)]
pub struct GateCache {
    dir: PathBuf,
}

impl GateCache {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    fn path(&self, gate: &GateId) -> PathBuf {
        let name = blake3::hash(gate.to_string().as_bytes()).to_hex();
        self.dir.join(format!("{}.json", &name[..32]))
    }

    /// The gate's last pass, if it checks out.
    pub fn last_pass(&self, gate: &GateId) -> Option<Entry> {
        let file = crate::paths::open_regular(&self.path(gate)).ok()?;
        let text = crate::paths::read_opened(&file.0, &file.1, 1 << 20).ok()?;
        let entry: Entry = serde_json::from_slice(&text).ok()?;
        (entry.sound() && entry.gate == gate.to_string()).then_some(entry)
    }

    /// The pass to reuse for this key, if any.
    pub fn hit(&self, gate: &GateId, key: &str) -> Option<Entry> {
        self.last_pass(gate).filter(|entry| entry.key == key)
    }

    /// Remember a pass (failures are never stored). A cache that cannot be written only
    /// costs a run next time.
    pub fn store(&self, gate: &GateId, parts: &KeyParts, duration_ms: u64, run_id: &str) {
        let entry = Entry {
            gate: gate.to_string(),
            key: parts.key(),
            parts: parts.clone(),
            duration_ms,
            run_id: run_id.to_owned(),
            check: String::new(),
        }
        .seal();
        if std::fs::create_dir_all(&self.dir).is_ok()
            && let Ok(text) = serde_json::to_vec_pretty(&entry)
        {
            let _ = crate::output::write_atomic(&self.path(gate), &text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts() -> KeyParts {
        KeyParts {
            version: String::from("1"),
            command: String::from("make test"),
            cwd: None,
            env: Vec::new(),
            vars: BTreeMap::from([(String::from("CI"), Some(String::from("1")))]),
            files: BTreeMap::from([(String::from("src/a.rs"), String::from("h1"))]),
        }
    }

    #[test]
    fn every_part_changes_the_key_and_is_named_by_why() {
        let base = parts();
        let mut changed = base.clone();
        changed
            .files
            .insert(String::from("src/a.rs"), String::from("h2"));
        assert_ne!(changed.key(), base.key());
        assert_eq!(changed.changes_since(&base), ["`src/a.rs` changed"]);
        let mut var = base.clone();
        var.vars.insert(String::from("CI"), None);
        assert_ne!(var.key(), base.key());
        assert_eq!(var.changes_since(&base), ["the variable `CI` changed"]);
        let mut command = base.clone();
        command.command.push_str(" -v");
        assert_ne!(command.key(), base.key());
    }

    #[test]
    fn a_damaged_entry_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let cache = GateCache::new(dir.path().to_path_buf());
        let gate: GateId = "domain:d/test".parse().unwrap();
        cache.store(&gate, &parts(), 10, "run");
        assert!(cache.hit(&gate, &parts().key()).is_some());
        let path = cache.path(&gate);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &path,
            text.replace("\"duration_ms\": 10", "\"duration_ms\": 11"),
        )
        .unwrap();
        assert!(
            cache.hit(&gate, &parts().key()).is_none(),
            "an edited entry is ignored"
        );
        std::fs::write(&path, "{not json").unwrap();
        assert!(cache.last_pass(&gate).is_none());
    }
}
