//! Versioned schema migrations. Each step is idempotent (`IF NOT EXISTS`, a version row
//! inserted once), so two runs that open a new store at once both succeed. A store whose
//! version is newer than this ctx knows is refused with a clear message.

use super::{Store, StoreError, Value};

/// The schema version this ctx writes.
pub const VERSION: i64 = 1;

/// The steps, in order: step `n` brings the store to version `n + 1`.
const STEPS: [&[&str]; 1] = [&[
    "CREATE TABLE IF NOT EXISTS ctx_runs (
        workspace TEXT NOT NULL,
        run_id TEXT NOT NULL,
        trace_id TEXT NOT NULL,
        started_ms BIGINT NOT NULL,
        finished_ms BIGINT NOT NULL,
        git_commit TEXT,
        git_branch TEXT,
        git_dirty BIGINT NOT NULL,
        feature TEXT,
        agent TEXT,
        scopes TEXT NOT NULL,
        bundle_digest TEXT,
        tokens_by_layer TEXT NOT NULL,
        verdict TEXT NOT NULL,
        outcome TEXT,
        note TEXT,
        PRIMARY KEY (workspace, run_id)
    )",
    "CREATE TABLE IF NOT EXISTS ctx_run_items (
        workspace TEXT NOT NULL,
        run_id TEXT NOT NULL,
        item_id TEXT NOT NULL,
        status TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        tokens BIGINT NOT NULL,
        PRIMARY KEY (workspace, run_id, item_id)
    )",
    "CREATE TABLE IF NOT EXISTS ctx_run_gates (
        workspace TEXT NOT NULL,
        run_id TEXT NOT NULL,
        gate_id TEXT NOT NULL,
        scope TEXT NOT NULL,
        command_hash TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts BIGINT NOT NULL,
        duration_ms BIGINT NOT NULL,
        exit_code BIGINT,
        signal TEXT,
        PRIMARY KEY (workspace, run_id, gate_id)
    )",
    "CREATE INDEX IF NOT EXISTS ctx_runs_by_time ON ctx_runs (workspace, started_ms)",
]];

fn version(store: &mut Store) -> Result<i64, StoreError> {
    let rows = store.rows("SELECT MAX(version) FROM ctx_schema", &[])?;
    Ok(rows
        .first()
        .and_then(|row| row.first().cloned().flatten())
        .and_then(|text| text.parse().ok())
        .unwrap_or(0))
}

/// Bring the store to [`VERSION`].
pub fn migrate(store: &mut Store) -> Result<(), StoreError> {
    let create = [(
        "CREATE TABLE IF NOT EXISTS ctx_schema (version BIGINT NOT NULL)",
        Vec::new(),
    )];
    // Two processes creating the same tables at once: the loser retries once.
    if store.transaction(&create).is_err() {
        store.transaction(&create)?;
    }
    let found = version(store)?;
    if found > VERSION {
        return Err(StoreError::TooNew {
            location: store.location.describe(),
            found,
            known: VERSION,
        });
    }
    for (step, statements) in STEPS
        .iter()
        .enumerate()
        .skip(usize::try_from(found).unwrap_or(0))
    {
        let next = step as i64 + 1;
        let mut batch: Vec<(&str, Vec<Value>)> =
            statements.iter().map(|sql| (*sql, Vec::new())).collect();
        batch.push((
            "INSERT INTO ctx_schema (version) SELECT ?1 WHERE NOT EXISTS (SELECT 1 FROM ctx_schema WHERE version = ?1)",
            vec![Value::Int(Some(next))],
        ));
        if store.transaction(&batch).is_err() {
            store.transaction(&batch)?;
        }
    }
    Ok(())
}
