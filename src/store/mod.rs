//! The outcome store: which context was in effect for each gate run, and how it turned
//! out. SQLite by default (`.ctx/store.sqlite`), PostgreSQL when `[store] url` or
//! `CTX_STORE` names one (the shared store a team's CI runners write to). Rows are per
//! workspace (the tenant), so one PostgreSQL serves many repositories.
//!
//! What is stored: per run its id, trace, times, git commit/branch/dirty, feature,
//! scopes, the bundle digest and tokens per layer, every item of the bundle (id, status,
//! content hash, tokens) and every gate (id, scope, command hash, status, attempts,
//! duration, exit); the outcome recorded by `ctx record`. Never file contents, gate
//! output or secrets. A store that cannot be reached never fails a run: the record is
//! spooled under `.ctx/spool/` and delivered by the next run or `ctx store sync`.

pub mod insights;
pub mod record;
mod schema;

use std::path::{Path, PathBuf};
use std::time::Duration;

use record::{GateRecord, ItemRecord, RunRecord};

/// The workspace's id in the store (its tenant): `[workspace] name`, else the root
/// folder's name.
pub fn workspace_id(workspace: &crate::config::workspace::Workspace) -> String {
    workspace.settings.name.clone().unwrap_or_else(|| {
        workspace.root.file_name().map_or_else(
            || String::from("workspace"),
            |name| name.to_string_lossy().into_owned(),
        )
    })
}

/// Where the store is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Location {
    /// `CTX_STORE`, else `[store] url`, else `.ctx/store.sqlite` under the root.
    pub fn resolve(root: &Path, configured: Option<&str>) -> Self {
        let chosen = std::env::var("CTX_STORE")
            .ok()
            .filter(|value| !value.is_empty())
            .or_else(|| configured.map(str::to_owned));
        match chosen {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Self::Postgres(url)
            }
            Some(url) => {
                let path = url.strip_prefix("sqlite:").unwrap_or(&url);
                let path = Path::new(path);
                Self::Sqlite(if path.is_absolute() {
                    path.to_path_buf()
                } else {
                    root.join(path)
                })
            }
            None => Self::Sqlite(crate::state::State::of(root).store()),
        }
    }

    /// For messages: the SQLite path, or the PostgreSQL URL without its password.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(path) => path.display().to_string(),
            Self::Postgres(url) => match (url.find("://"), url.rfind('@')) {
                (Some(scheme), Some(at)) if at > scheme && url[scheme + 3..at].contains(':') => {
                    let credentials = &url[scheme + 3..at];
                    let user = credentials.split(':').next().unwrap_or("");
                    format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
                }
                _ => url.clone(),
            },
        }
    }
}

/// Why the store could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store `{location}`: {detail}")]
    Open { location: String, detail: String },
    #[error(
        "the store `{location}` has schema version {found}, newer than this ctx knows ({known}); upgrade ctx to read or write it"
    )]
    TooNew {
        location: String,
        found: i64,
        known: i64,
    },
    #[error("the store `{location}` failed: {detail}")]
    Query { location: String, detail: String },
}

impl StoreError {
    /// What to do about it.
    pub fn help(&self, location: &Location) -> String {
        match (self, location) {
            (Self::TooNew { .. }, _) => String::from(
                "install a newer ctx (`cargo install --locked --path .` from a newer checkout)",
            ),
            (_, Location::Sqlite(path)) => format!(
                "if `{}` is damaged, move it aside (`mv {0} {0}.broken`): the next run starts a new store",
                path.display()
            ),
            (_, Location::Postgres(_)) => String::from(
                "check that the server is up and the URL (`[store] url` or `CTX_STORE`) is right; runs keep working and spool their records under `.ctx/spool/`",
            ),
        }
    }
}

enum Backend {
    Sqlite(rusqlite::Connection),
    Postgres(Box<postgres::Client>),
}

/// An open store.
pub struct Store {
    backend: Backend,
    location: Location,
}

/// `?1` placeholders as PostgreSQL's `$1`.
fn for_postgres(sql: &str) -> String {
    sql.replace('?', "$")
}

/// One value of a row, for both backends.
#[derive(Debug, Clone)]
pub enum Value {
    Text(Option<String>),
    Int(Option<i64>),
}

fn sqlite_params(values: &[Value]) -> Vec<Box<dyn rusqlite::ToSql>> {
    values
        .iter()
        .map(|value| -> Box<dyn rusqlite::ToSql> {
            match value {
                Value::Text(text) => Box::new(text.clone()),
                Value::Int(number) => Box::new(*number),
            }
        })
        .collect()
}

fn postgres_params(values: &[Value]) -> Vec<Box<dyn postgres::types::ToSql + Sync>> {
    values
        .iter()
        .map(|value| -> Box<dyn postgres::types::ToSql + Sync> {
            match value {
                Value::Text(text) => Box::new(text.clone()),
                Value::Int(number) => Box::new(*number),
            }
        })
        .collect()
}

fn text(value: impl Into<String>) -> Value {
    Value::Text(Some(value.into()))
}

fn opt_text(value: Option<&str>) -> Value {
    Value::Text(value.map(str::to_owned))
}

fn int(value: i64) -> Value {
    Value::Int(Some(value))
}

/// How long opening a SQLite store waits for other processes opening it too.
const SQLITE_OPEN_PATIENCE: Duration = Duration::from_secs(30);

/// Put a fresh connection in WAL mode (and set its per-connection pragmas). Switching a
/// database to WAL takes an exclusive lock, and SQLite can refuse it at once with "database
/// is locked" rather than wait on the busy timeout — as when many runs open a new store at
/// the same moment (16 concurrent `ctx gates` did, now and then): such a refusal is retried
/// with a short, growing pause, up to [`SQLITE_OPEN_PATIENCE`].
fn settle_sqlite(connection: &rusqlite::Connection) -> rusqlite::Result<()> {
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        match connection.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        ) {
            Err(error)
                if matches!(
                    error.sqlite_error_code(),
                    Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
                ) && started.elapsed() < SQLITE_OPEN_PATIENCE =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            done => return done,
        }
    }
}

impl Store {
    /// Open (and create or migrate) the store.
    pub fn open(location: &Location) -> Result<Self, StoreError> {
        let fail = |detail: String| StoreError::Open {
            location: location.describe(),
            detail,
        };
        let backend = match location {
            Location::Sqlite(path) => {
                if let Some(folder) = path.parent() {
                    std::fs::create_dir_all(folder).map_err(|error| fail(error.to_string()))?;
                }
                if path.exists() && !path.is_file() {
                    return Err(fail(String::from("it is not a regular file")));
                }
                let connection =
                    rusqlite::Connection::open(path).map_err(|error| fail(error.to_string()))?;
                connection
                    .busy_timeout(Duration::from_secs(30))
                    .map_err(|error| fail(error.to_string()))?;
                settle_sqlite(&connection).map_err(|error| fail(error.to_string()))?;
                Backend::Sqlite(connection)
            }
            Location::Postgres(url) => {
                let mut config: postgres::Config = url
                    .parse()
                    .map_err(|error: postgres::Error| fail(error.to_string()))?;
                if config.get_connect_timeout().is_none() {
                    config.connect_timeout(Duration::from_secs(5));
                }
                let client = config
                    .connect(postgres::NoTls)
                    .map_err(|error| fail(error.to_string()))?;
                Backend::Postgres(Box::new(client))
            }
        };
        let mut store = Self {
            backend,
            location: location.clone(),
        };
        schema::migrate(&mut store)?;
        Ok(store)
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Run statements in one transaction (SQLite: `BEGIN IMMEDIATE`, so concurrent
    /// writers queue on the busy timeout instead of failing).
    fn transaction(&mut self, statements: &[(&str, Vec<Value>)]) -> Result<(), StoreError> {
        match &mut self.backend {
            Backend::Sqlite(connection) => {
                let run = |connection: &mut rusqlite::Connection| -> rusqlite::Result<()> {
                    let transaction = connection
                        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                    for (sql, values) in statements {
                        let mut statement = transaction.prepare_cached(sql)?;
                        let params = sqlite_params(values);
                        statement.execute(rusqlite::params_from_iter(params.iter()))?;
                    }
                    transaction.commit()
                };
                run(connection).map_err(|error| StoreError::Query {
                    location: self.location.describe(),
                    detail: error.to_string(),
                })
            }
            Backend::Postgres(client) => {
                let run = |client: &mut postgres::Client| -> Result<(), postgres::Error> {
                    let mut transaction = client.transaction()?;
                    for (sql, values) in statements {
                        let statement = transaction.prepare(&for_postgres(sql))?;
                        let params = postgres_params(values);
                        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
                            params.iter().map(|param| param.as_ref()).collect();
                        transaction.execute(&statement, &refs)?;
                    }
                    transaction.commit()
                };
                run(client).map_err(|error| StoreError::Query {
                    location: self.location.describe(),
                    detail: error.to_string(),
                })
            }
        }
    }

    /// Rows of a query, every column read as text (numbers as their decimal text).
    fn rows(
        &mut self,
        sql: &str,
        values: &[Value],
    ) -> Result<Vec<Vec<Option<String>>>, StoreError> {
        let location = self.location.describe();
        let fail = |detail: String| StoreError::Query {
            location: location.clone(),
            detail,
        };
        match &mut self.backend {
            Backend::Sqlite(connection) => {
                let mut statement = connection
                    .prepare_cached(sql)
                    .map_err(|error| fail(error.to_string()))?;
                let columns = statement.column_count();
                let params = sqlite_params(values);
                let mut rows = statement
                    .query(rusqlite::params_from_iter(params.iter()))
                    .map_err(|error| fail(error.to_string()))?;
                let mut out = Vec::new();
                while let Some(row) = rows.next().map_err(|error| fail(error.to_string()))? {
                    let mut values = Vec::with_capacity(columns);
                    for index in 0..columns {
                        let value: rusqlite::types::Value =
                            row.get(index).map_err(|error| fail(error.to_string()))?;
                        values.push(match value {
                            rusqlite::types::Value::Null => None,
                            rusqlite::types::Value::Integer(number) => Some(number.to_string()),
                            rusqlite::types::Value::Real(number) => Some(number.to_string()),
                            rusqlite::types::Value::Text(text) => Some(text),
                            rusqlite::types::Value::Blob(bytes) => {
                                Some(String::from_utf8_lossy(&bytes).into_owned())
                            }
                        });
                    }
                    out.push(values);
                }
                Ok(out)
            }
            Backend::Postgres(client) => {
                let params = postgres_params(values);
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    params.iter().map(|param| param.as_ref()).collect();
                let rows = client
                    .query(&for_postgres(sql), &refs)
                    .map_err(|error| fail(error.to_string()))?;
                Ok(rows
                    .iter()
                    .map(|row| {
                        (0..row.len())
                            .map(|index| {
                                row.try_get::<_, Option<String>>(index)
                                    .ok()
                                    .flatten()
                                    .or_else(|| {
                                        row.try_get::<_, Option<i64>>(index)
                                            .ok()
                                            .flatten()
                                            .map(|number| number.to_string())
                                    })
                            })
                            .collect()
                    })
                    .collect())
            }
        }
    }

    /// Call `each` with the two text columns of every row of a query (fast path for
    /// large scans: no row is materialised).
    fn for_each_pair(
        &mut self,
        sql: &str,
        values: &[Value],
        mut each: impl FnMut(&str, &str),
    ) -> Result<(), StoreError> {
        if let Backend::Sqlite(connection) = &mut self.backend {
            let location = self.location.describe();
            let fail = |detail: String| StoreError::Query {
                location: location.clone(),
                detail,
            };
            let mut statement = connection
                .prepare_cached(sql)
                .map_err(|error| fail(error.to_string()))?;
            let params = sqlite_params(values);
            let mut rows = statement
                .query(rusqlite::params_from_iter(params.iter()))
                .map_err(|error| fail(error.to_string()))?;
            while let Some(row) = rows.next().map_err(|error| fail(error.to_string()))? {
                let first = row.get_ref(0).map_err(|error| fail(error.to_string()))?;
                let second = row.get_ref(1).map_err(|error| fail(error.to_string()))?;
                if let (Ok(first), Ok(second)) = (first.as_str(), second.as_str()) {
                    each(first, second);
                }
            }
            return Ok(());
        }
        for row in self.rows(sql, values)? {
            if let (Some(Some(first)), Some(Some(second))) = (row.first(), row.get(1)) {
                each(first, second);
            }
        }
        Ok(())
    }

    /// Store one run with its items and gates, all or nothing.
    pub fn record(&mut self, run: &RunRecord) -> Result<(), StoreError> {
        let workspace = run.workspace.as_str();
        let mut statements: Vec<(&str, Vec<Value>)> = vec![(
            "INSERT INTO ctx_runs (workspace, run_id, trace_id, started_ms, finished_ms, git_commit, git_branch, git_dirty, feature, agent, scopes, bundle_digest, tokens_by_layer, verdict) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            vec![
                text(workspace),
                text(&run.run_id),
                text(&run.trace_id),
                int(run.started_ms),
                int(run.finished_ms),
                opt_text(run.commit.as_deref()),
                opt_text(run.branch.as_deref()),
                int(i64::from(run.dirty)),
                opt_text(run.feature.as_deref()),
                opt_text(run.agent.as_deref()),
                text(run.scopes.join(",")),
                opt_text(run.bundle_digest.as_deref()),
                text(serde_json::to_string(&run.tokens_by_layer).unwrap_or_default()),
                text(&run.verdict),
            ],
        )];
        for ItemRecord {
            id,
            status,
            content_hash,
            tokens,
        } in &run.items
        {
            statements.push((
                "INSERT INTO ctx_run_items (workspace, run_id, item_id, status, content_hash, tokens) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                vec![
                    text(workspace),
                    text(&run.run_id),
                    text(id),
                    text(status),
                    text(content_hash),
                    int(*tokens as i64),
                ],
            ));
        }
        for GateRecord {
            id,
            scope,
            command_hash,
            status,
            attempts,
            duration_ms,
            exit_code,
            signal,
        } in &run.gates
        {
            statements.push((
                "INSERT INTO ctx_run_gates (workspace, run_id, gate_id, scope, command_hash, status, attempts, duration_ms, exit_code, signal) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                vec![
                    text(workspace),
                    text(&run.run_id),
                    text(id),
                    text(scope),
                    text(command_hash),
                    text(status),
                    int(i64::from(*attempts)),
                    int(*duration_ms as i64),
                    Value::Int(exit_code.map(i64::from)),
                    opt_text(signal.as_deref()),
                ],
            ));
        }
        self.transaction(&statements)
    }

    /// The id of the workspace's latest run (of `feature`, if given).
    pub fn latest_run(
        &mut self,
        workspace: &str,
        feature: Option<&str>,
    ) -> Result<Option<String>, StoreError> {
        let rows = match feature {
            Some(feature) => self.rows(
                "SELECT run_id FROM ctx_runs WHERE workspace = ?1 AND feature = ?2 ORDER BY started_ms DESC, run_id DESC LIMIT 1",
                &[text(workspace), text(feature)],
            )?,
            None => self.rows(
                "SELECT run_id FROM ctx_runs WHERE workspace = ?1 ORDER BY started_ms DESC, run_id DESC LIMIT 1",
                &[text(workspace)],
            )?,
        };
        Ok(rows
            .into_iter()
            .next()
            .and_then(|row| row.into_iter().next().flatten()))
    }

    /// Record the outcome of the work a run checked; `false` when there is no such run.
    pub fn set_outcome(
        &mut self,
        workspace: &str,
        run_id: &str,
        outcome: &str,
        note: Option<&str>,
    ) -> Result<bool, StoreError> {
        let exists = !self
            .rows(
                "SELECT run_id FROM ctx_runs WHERE workspace = ?1 AND run_id = ?2",
                &[text(workspace), text(run_id)],
            )?
            .is_empty();
        if !exists {
            return Ok(false);
        }
        self.transaction(&[(
            "UPDATE ctx_runs SET outcome = ?1, note = ?2 WHERE workspace = ?3 AND run_id = ?4",
            vec![text(outcome), opt_text(note), text(workspace), text(run_id)],
        )])?;
        Ok(true)
    }

    /// Delete the workspace's runs that started before `before_ms`; returns how many.
    pub fn prune(&mut self, workspace: &str, before_ms: i64) -> Result<usize, StoreError> {
        let old = self.rows(
            "SELECT run_id FROM ctx_runs WHERE workspace = ?1 AND started_ms < ?2",
            &[text(workspace), int(before_ms)],
        )?;
        let mut statements: Vec<(&str, Vec<Value>)> = Vec::new();
        for row in &old {
            let Some(Some(run_id)) = row.first() else {
                continue;
            };
            for sql in [
                "DELETE FROM ctx_run_items WHERE workspace = ?1 AND run_id = ?2",
                "DELETE FROM ctx_run_gates WHERE workspace = ?1 AND run_id = ?2",
                "DELETE FROM ctx_runs WHERE workspace = ?1 AND run_id = ?2",
            ] {
                statements.push((sql, vec![text(workspace), text(run_id)]));
            }
        }
        self.transaction(&statements)?;
        Ok(old.len())
    }
}

/// Deliver a record to the store, or spool it under `.ctx/spool/` (returned as a
/// warning) when the store cannot take it. Spooled records of earlier runs go first.
pub fn deliver(root: &Path, location: &Location, run: &RunRecord) -> Result<usize, String> {
    let spool = crate::state::State::of(root).spool();
    let delivered = match Store::open(location) {
        Ok(mut store) => {
            let sent = deliver_spooled(&mut store, &spool);
            match store.record(run) {
                Ok(()) => return Ok(sent),
                Err(error) => error.to_string(),
            }
        }
        Err(error) => error.to_string(),
    };
    let path = spool.join(format!("{}.json", run.run_id));
    let written = std::fs::create_dir_all(&spool).and_then(|()| {
        crate::output::write_atomic(
            &path,
            serde_json::to_string(run).unwrap_or_default().as_bytes(),
        )
    });
    Err(match written {
        Ok(()) => format!(
            "{delivered}; the run's record is kept in `{}` and sent with the next run (or `ctx store sync`)",
            path.display()
        ),
        Err(error) => format!("{delivered}; and the record could not be spooled: {error}"),
    })
}

/// Send spooled records; returns how many went.
pub fn deliver_spooled(store: &mut Store, spool: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(spool) else {
        return 0;
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    let mut sent = 0;
    for path in files {
        let Some(run) = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| serde_json::from_str::<RunRecord>(&text).ok())
        else {
            continue;
        };
        if store.record(&run).is_ok() || store.has_run(&run.workspace, &run.run_id) {
            let _ = std::fs::remove_file(&path);
            sent += 1;
        }
    }
    sent
}

impl Store {
    fn has_run(&mut self, workspace: &str, run_id: &str) -> bool {
        self.rows(
            "SELECT run_id FROM ctx_runs WHERE workspace = ?1 AND run_id = ?2",
            &[text(workspace), text(run_id)],
        )
        .is_ok_and(|rows| !rows.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store another connection is writing to (a write transaction open: what a crowd
    /// of runs creating a new store at once does) is waited for when this one switches it
    /// to WAL, not refused: SQLite answers that switch with "database is locked" at once,
    /// without its busy timeout (the message CI saw from one of 16 concurrent
    /// `ctx gates`); with no retry this test fails with it.
    #[test]
    fn opening_a_store_waits_for_a_lock_held_elsewhere() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("store.sqlite");
        let holder = rusqlite::Connection::open(&path).unwrap();
        holder
            .execute_batch(
                "CREATE TABLE held (x INTEGER); BEGIN IMMEDIATE; INSERT INTO held VALUES (1);",
            )
            .unwrap();
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            holder.execute_batch("COMMIT").unwrap();
        });
        let store = Store::open(&Location::Sqlite(path.clone()));
        release.join().unwrap();
        assert!(
            store.is_ok(),
            "{:?}",
            store.err().map(|error| error.to_string())
        );
        let connection = rusqlite::Connection::open(&path).unwrap();
        let mode: String = connection
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }
}
