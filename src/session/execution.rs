//! The execution layer of a bundle: what it is handed at build time. For `--changed`, the
//! diff of each file changed since a base; for a hand-off (`--from-run RUN|latest`,
//! `--from BUNDLE.json`), the parent bundle's digest and tokens, the run's failed gates
//! with their output tails, and the diff since the base.

use std::path::{Path, PathBuf};

use super::BundleRequest;
use crate::bundle::build::Execution;
use crate::bundle::generated::{Made, Text};
use crate::bundle::model::{ChangesJson, OriginJson, ParentJson};
use crate::changes::{self, Changes};
use crate::config::workspace::LayerKind;
use crate::error::Error;
use crate::ids::{LayerId, RunId};
use crate::state::{self, State};

/// The changes since the request's base, as a usage error when they cannot be had.
pub(super) fn changes_of(root: &Path, request: &BundleRequest) -> Result<Changes, Error> {
    changes::since(root, request.base.as_deref()).map_err(|error| Error::Usage {
        message: format!("`--changed`: {error}"),
        help: Some(String::from(
            "run inside a git repository with the history the base needs (in GitHub Actions: `actions/checkout` with `fetch-depth: 0`; elsewhere `git fetch origin main`), or name a base with `--base REF`",
        )),
    })
}

/// The diff of each changed file, as items of layer `layer`.
fn diff_items(root: &Path, changes: &Changes, layer: &LayerId) -> Result<Vec<Made>, Error> {
    let diffs = changes::diffs(root, changes).map_err(|error| Error::Usage {
        message: format!("cannot read the diff: {error}"),
        help: None,
    })?;
    let origin = origin_of_diff(changes);
    Ok(diffs
        .into_iter()
        .map(|(file, diff)| Made {
            layer: layer.clone(),
            key: String::from("changes"),
            label: format!("the diff of {file}"),
            subject: Some(file),
            origin: origin.clone(),
            why: None,
            language: "diff",
            topics: Vec::new(),
            text: Text::Made(diff),
        })
        .collect())
}

fn origin_of_diff(changes: &Changes) -> OriginJson {
    OriginJson {
        file: format!(
            "git diff {}",
            &changes.merge_base[..changes.merge_base.len().min(12)]
        )
        .into(),
        line: 1,
    }
}

/// `3 files changed since `main``.
fn changed_since(changes: &Changes) -> String {
    let count = changes.files.len();
    format!(
        "{count} file{} changed since `{}`",
        if count == 1 { "" } else { "s" },
        changes.base
    )
}

fn changes_json(changes: &Changes) -> ChangesJson {
    ChangesJson {
        base: changes.base.clone(),
        merge_base: changes.merge_base.clone(),
        files: changes.files.clone(),
    }
}

/// The execution layer of a `--changed` bundle: one diff item per changed file.
pub(super) fn of_changes(root: &Path, changes: &Changes) -> Result<Execution, Error> {
    let layer = LayerId::new(LayerKind::Execution, "changes");
    Ok(Execution {
        name: layer.name.to_string(),
        description: None,
        origin: origin_of_diff(changes),
        why: changed_since(changes),
        made: diff_items(root, changes, &layer)?,
        parent: None,
        changes: Some(changes_json(changes)),
    })
}

/// The execution layer of a hand-off: the parent (from `--from`, else the run's
/// bundle), the failed gates of `--from-run`, and the diff since the base.
pub(super) fn of_parent(root: &Path, request: &BundleRequest) -> Result<Execution, Error> {
    let layer = LayerId::new(LayerKind::Execution, "parent");
    let run = match request.from_run.as_deref() {
        Some(wanted) => Some(run_folder(root, wanted)?),
        None => None,
    };
    let mut parent = match &request.from_bundle {
        Some(path) => Some(parent_of(path, path.display().to_string())?),
        None => None,
    };
    let mut made = Vec::new();
    let mut why = Vec::new();
    if let Some((run_id, folder)) = &run {
        if parent.is_none() {
            let bundle = state::run_bundle(folder);
            if bundle.is_file() {
                parent = Some(parent_of(&bundle, format!("run {run_id}"))?);
            }
        }
        let failed = failed_gates(folder, run_id, &layer)?;
        why.push(format!(
            "run {run_id}: {} failed gate{}",
            failed.len(),
            if failed.len() == 1 { "" } else { "s" }
        ));
        made.extend(failed);
    }
    if let Some(parent) = &parent {
        why.push(format!("handed from {}", parent.from));
    }
    // The diff: required when a base is named; otherwise only where there is one.
    let changes = match changes::since(root, request.base.as_deref()) {
        Ok(changes) => {
            made.extend(diff_items(root, &changes, &layer)?);
            why.push(changed_since(&changes));
            Some(changes_json(&changes))
        }
        Err(error) if request.base.is_some() => {
            return Err(Error::Usage {
                message: format!("`--base`: {error}"),
                help: None,
            });
        }
        Err(error) => {
            why.push(format!("no diff: {error}"));
            None
        }
    };
    let origin = match (&request.from_bundle, &run) {
        (Some(path), _) => OriginJson {
            file: path.display().to_string().into(),
            line: 1,
        },
        (None, Some((_, folder))) => OriginJson {
            file: relative(root, &state::run_record(folder)).into(),
            line: 1,
        },
        (None, None) => OriginJson {
            file: "-".into(),
            line: 1,
        },
    };
    Ok(Execution {
        name: layer.name.to_string(),
        description: None,
        origin,
        why: why.join("; "),
        made,
        parent,
        changes,
    })
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The folder of run `wanted` (`latest`: the newest with a record).
fn run_folder(root: &Path, wanted: &str) -> Result<(RunId, PathBuf), Error> {
    let state = State::of(root);
    let folder = if wanted == "latest" {
        state.latest_run().ok_or_else(|| Error::Usage {
            message: String::from("`--from-run latest`: no recorded gate run in `.ctx/runs/`"),
            help: Some(String::from(
                "run the gates first (`ctx gates <feature>`), or hand a bundle over with `--from BUNDLE.json`",
            )),
        })?
    } else {
        let id: RunId = wanted.parse().map_err(|error| Error::Usage {
            message: format!("`--from-run`: {error}"),
            help: Some(String::from(
                "name a run id as `ctx gates` prints it (`20261121T012700Z-3fa9c1`), or `latest`",
            )),
        })?;
        state.run_dir(&id)
    };
    if !state::run_record(&folder).is_file() {
        return Err(Error::Usage {
            message: format!(
                "`--from-run {wanted}`: no record of that run (`{}`)",
                relative(root, &state::run_record(&folder))
            ),
            help: Some(String::from(
                "runs are kept for `gates.keep_runs` runs; `--from-run latest` takes the newest",
            )),
        });
    }
    let id = folder
        .file_name()
        .and_then(|name| name.to_string_lossy().parse::<RunId>().ok())
        .ok_or_else(|| Error::Usage {
            message: format!("`--from-run {wanted}`: not a run folder"),
            help: None,
        })?;
    Ok((id, folder))
}

/// Read a JSON file a hand-off depends on; its problems say which file and what to do.
fn read_json(path: &Path, what: &str) -> Result<serde_json::Value, Error> {
    let text = std::fs::read_to_string(path).map_err(|error| Error::Usage {
        message: format!("cannot read {what} `{}`: {error}", path.display()),
        help: None,
    })?;
    serde_json::from_str(&text).map_err(|error| Error::Usage {
        message: format!(
            "{what} `{}` is not valid JSON: {error} (at {}:{}:{})",
            path.display(),
            path.display(),
            error.line(),
            error.column()
        ),
        help: Some(String::from(
            "hand over a bundle written with `ctx bundle … --format json -o FILE`",
        )),
    })
}

/// The parent recorded by a `ctx.bundle/v1` file.
fn parent_of(path: &Path, from: String) -> Result<ParentJson, Error> {
    let bundle = read_json(path, "the parent bundle")?;
    let wrong = |what: &str| Error::Usage {
        message: format!(
            "the parent bundle `{}` has no {what}: not a `ctx.bundle/v1` document",
            path.display()
        ),
        help: Some(String::from(
            "hand over a bundle written with `ctx bundle … --format json -o FILE`",
        )),
    };
    if bundle["schema"] != "ctx.bundle/v1" {
        return Err(wrong("`schema: ctx.bundle/v1`"));
    }
    let digest = bundle["digest"]
        .as_str()
        .ok_or_else(|| wrong("`digest`"))?
        .to_owned();
    let tokens = bundle["tokens"]["total"]
        .as_u64()
        .ok_or_else(|| wrong("`tokens.total`"))?;
    let tokens = usize::try_from(tokens).unwrap_or(usize::MAX);
    let cumulative = bundle["tokens"]["cumulative"]
        .as_u64()
        .map_or(tokens, |value| usize::try_from(value).unwrap_or(usize::MAX));
    Ok(ParentJson {
        digest,
        tokens,
        cumulative,
        from,
    })
}

/// The failed gates of a run's record, each with its output's tail.
fn failed_gates(folder: &Path, run_id: &RunId, layer: &LayerId) -> Result<Vec<Made>, Error> {
    let record = state::run_record(folder);
    let report = read_json(&record, "the run record")?;
    let gates = report["gates"].as_array().cloned().unwrap_or_default();
    Ok(gates
        .iter()
        .filter(|gate| matches!(gate["status"].as_str(), Some("fail" | "timeout" | "error")))
        .map(|gate| {
            let id = gate["id"].as_str().unwrap_or("?").to_owned();
            let status = gate["status"].as_str().unwrap_or("fail");
            let exit = gate["exit_code"]
                .as_i64()
                .map(|code| format!(", exit {code}"))
                .unwrap_or_default();
            let message = gate["message"].as_str().unwrap_or_default();
            let command = gate["command"].as_str().unwrap_or_default();
            let tail = gate["output_tail"].as_str().unwrap_or_default();
            Made {
                layer: layer.clone(),
                key: String::from("failed"),
                label: format!("the output of gate {id}"),
                subject: Some(id.clone()),
                origin: OriginJson {
                    file: format!("run {run_id}").into(),
                    line: 1,
                },
                why: Some(format!(
                    "gate `{id}` ({}) ran `{command}`; the end of its output:",
                    if message.is_empty() {
                        format!("{status}{exit}")
                    } else {
                        format!("{status}: {message}")
                    }
                )),
                language: "text",
                topics: Vec::new(),
                text: Text::Made(if tail.is_empty() {
                    String::from("(no output)\n")
                } else {
                    tail.to_owned()
                }),
            }
        })
        .collect())
}
