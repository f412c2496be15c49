//! Running extensions for a bundle: each is `sh -c <run>` from the workspace root with the
//! process model of gates (a process group of its own, killed at a hard timeout and when
//! it ends), the request as JSON on stdin (`ctx.extension/v1`), `CTX_*` and `TRACEPARENT`
//! in its environment. Its stdout is the output; a failure says why, with the end of
//! its stderr.

use std::path::PathBuf;

use crate::bundle::generated::{Call, Ran, Runner};
use crate::process::{self, HandlerEnd};

/// The runner of a workspace's extensions.
pub fn runner(root: PathBuf) -> Runner {
    std::sync::Arc::new(move |call: &Call<'_>| run(&root, call))
}

fn run(root: &std::path::Path, call: &Call<'_>) -> Ran {
    let extension = call.extension;
    let key = extension.meta.key.key();
    let request = serde_json::json!({
        "schema": "ctx.extension/v1",
        "bundle": call.bundle,
        "kind": call.kind,
        "layer": call.layer.to_string(),
        "extension": key,
        "scope": { "domains": call.domains, "services": call.services },
        "agent": call.agent,
        "inputs": call.inputs,
    });
    let traceparent = format!(
        "00-{}-{}-01",
        process::random_hex(32, key),
        process::random_hex(16, key)
    );
    let mut env = vec![
        (String::from("CTX_ROOT"), root.display().to_string()),
        (String::from("CTX_FEATURE"), call.bundle.to_owned()),
        (String::from("CTX_LAYER"), call.layer.to_string()),
        (String::from("CTX_EXTENSION"), key.to_owned()),
        (String::from("TRACEPARENT"), traceparent),
    ];
    env.extend(
        call.inputs
            .iter()
            .map(|(name, value)| (crate::config::convert::input_variable(name), value.clone())),
    );
    let input = serde_json::to_vec(&request).unwrap_or_default();
    let captured = match process::run_captured(
        &extension.run,
        root,
        &env,
        &input,
        extension.timeout,
        call.max_bytes,
    ) {
        Ok(captured) => captured,
        Err(error) => return Ran::Failed(format!("could not start `sh`: {error}")),
    };
    let stderr = String::from_utf8_lossy(&captured.stderr_tail);
    let last = stderr.trim().lines().last().unwrap_or_default();
    let said = if last.is_empty() {
        String::new()
    } else {
        format!("; its stderr ends: {}", crate::secrets::scrub(last).0)
    };
    match captured.end {
        HandlerEnd::Exited(0) if captured.truncated => Ran::Failed(format!(
            "printed more than `max_file_bytes` ({} bytes)",
            call.max_bytes
        )),
        HandlerEnd::Exited(0) => Ran::Printed(captured.stdout),
        HandlerEnd::Exited(code) => Ran::Failed(format!("exited with status {code}{said}")),
        HandlerEnd::Signalled(signal) => Ran::Failed(format!("killed by {signal}{said}")),
        HandlerEnd::TimedOut => Ran::Failed(format!(
            "timed out after {} (killed with its process group); raise its `timeout`",
            humantime::format_duration(extension.timeout)
        )),
    }
}
