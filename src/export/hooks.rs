//! `ctx export --hooks` and `--mcp`: entries merged into the assistants' JSON settings,
//! keeping every key the user has, and idempotent (a second run changes nothing).

use std::path::Path;

use serde_json::{Map, Value, json};

use super::Target;
use crate::error::Error;

/// The command of the Stop hook: the gates of what changed; a failure blocks the stop
/// and its output (stderr) goes back to the assistant.
pub const STOP_COMMAND: &str = "ctx gates --all --changed --github off || exit 2";
/// The command of the SessionStart hook: a short index of the context.
pub const SESSION_COMMAND: &str = "ctx export --session-context";

fn read(path: &Path) -> Result<Map<String, Value>, Error> {
    match std::fs::read_to_string(path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Map::new()),
        Err(source) => Err(Error::Output {
            what: format!("`{}`", path.display()),
            source,
        }),
        Ok(text) if text.trim().is_empty() => Ok(Map::new()),
        Ok(text) => match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) | Err(_) => Err(Error::Usage {
                message: format!(
                    "`{}` is not a JSON object; ctx will not rewrite it",
                    path.display()
                ),
                help: Some(String::from(
                    "fix or remove the file, then run `ctx export` again",
                )),
            }),
        },
    }
}

fn write(path: &Path, map: Map<String, Value>) -> Result<bool, Error> {
    let text = format!(
        "{}\n",
        serde_json::to_string_pretty(&Value::Object(map)).unwrap_or_default()
    );
    if std::fs::read_to_string(path).is_ok_and(|current| current == text) {
        return Ok(false);
    }
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder).map_err(|source| Error::Output {
            what: format!("`{}`", folder.display()),
            source,
        })?;
    }
    crate::output::write_atomic(path, text.as_bytes()).map_err(|source| Error::Output {
        what: format!("`{}`", path.display()),
        source,
    })?;
    Ok(true)
}

/// Put one hook entry for `event` running `command` (replacing ctx's earlier one).
fn put_hook(hooks: &mut Map<String, Value>, event: &str, command: &str, timeout: u64) {
    let entry = json!({"hooks": [{"type": "command", "command": command, "timeout": timeout}]});
    let list = hooks
        .entry(event.to_owned())
        .or_insert_with(|| Value::Array(Vec::new()));
    if !list.is_array() {
        *list = Value::Array(Vec::new());
    }
    let Value::Array(entries) = list else {
        return;
    };
    let ours = |value: &Value| {
        value["hooks"].as_array().is_some_and(|inner| {
            inner.iter().any(|hook| {
                hook["command"].as_str().is_some_and(|text| {
                    text.starts_with("ctx gates --all --changed") || text == SESSION_COMMAND
                })
            })
        })
    };
    match entries.iter_mut().find(|value| ours(value)) {
        Some(existing) => *existing = entry,
        None => entries.push(entry),
    }
}

/// Merge the Stop and SessionStart hooks into `.claude/settings.json`; `true` when the
/// file changed.
pub fn claude_hooks(root: &Path) -> Result<bool, Error> {
    let path = root.join(".claude/settings.json");
    let mut settings = read(&path)?;
    let hooks = settings
        .entry(String::from("hooks"))
        .or_insert_with(|| Value::Object(Map::new()));
    if !hooks.is_object() {
        return Err(Error::Usage {
            message: format!("`hooks` in `{}` is not an object", path.display()),
            help: Some(String::from(
                "fix it, then run `ctx export claude --hooks` again",
            )),
        });
    }
    if let Value::Object(hooks) = hooks {
        put_hook(hooks, "Stop", STOP_COMMAND, 900);
        put_hook(hooks, "SessionStart", SESSION_COMMAND, 30);
    }
    write(&path, settings)
}

/// Register `ctx mcp` in each target's MCP file (and the project's `.mcp.json`);
/// returns the files that changed.
pub fn register_mcp(root: &Path, targets: &[Target]) -> Result<Vec<String>, Error> {
    let mut files: Vec<(&str, &str, Value)> = vec![(
        ".mcp.json",
        "mcpServers",
        json!({"command": "ctx", "args": ["mcp"]}),
    )];
    for target in targets {
        match target {
            Target::Cursor => files.push((
                ".cursor/mcp.json",
                "mcpServers",
                json!({"command": "ctx", "args": ["mcp"]}),
            )),
            Target::Copilot => files.push((
                ".vscode/mcp.json",
                "servers",
                json!({"type": "stdio", "command": "ctx", "args": ["mcp"]}),
            )),
            Target::Kiro => files.push((
                ".kiro/settings/mcp.json",
                "mcpServers",
                json!({"command": "ctx", "args": ["mcp"]}),
            )),
            _ => {}
        }
    }
    let mut changed = Vec::new();
    for (file, key, server) in files {
        let path = root.join(file);
        let mut settings = read(&path)?;
        let servers = settings
            .entry(key.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(servers) = servers else {
            return Err(Error::Usage {
                message: format!("`{key}` in `{file}` is not an object"),
                help: Some(String::from("fix it, then run `ctx export --mcp` again")),
            });
        };
        servers.insert(String::from("ctx"), server);
        if write(&path, settings)? {
            changed.push(file.to_owned());
        }
    }
    Ok(changed)
}
