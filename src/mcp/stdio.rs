//! The stdio transport with JSON-RPC's own errors for lines the SDK would drop: a line
//! that is not JSON is answered with a parse error (-32700), and JSON that is not a
//! JSON-RPC message with an invalid-request error (-32600), as the specification names
//! them. Everything else passes through to the SDK unchanged, and one writer task owns
//! stdout, so answers never interleave.

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream};
use tokio::sync::mpsc;

/// The largest line accepted (a request bigger than this is a parse error).
const MAX_LINE: usize = 16 << 20;

/// Start the tasks; returns the reader and writer the SDK serves on.
pub fn transport() -> (DuplexStream, DuplexStream) {
    let (sdk_in, mut feed) = tokio::io::duplex(1 << 20);
    let (sdk_out, from_sdk) = tokio::io::duplex(1 << 20);
    let (lines, mut to_stdout) = mpsc::unbounded_channel::<String>();
    let errors = lines.clone();
    tokio::spawn(async move {
        let mut stdin = BufReader::new(tokio::io::stdin());
        let mut line = String::new();
        loop {
            line.clear();
            match stdin.read_line(&mut line).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let text = line.trim_end_matches(['\n', '\r']);
            if text.trim().is_empty() {
                continue;
            }
            match check(text) {
                Ok(()) => {
                    if feed.write_all(text.as_bytes()).await.is_err()
                        || feed.write_all(b"\n").await.is_err()
                    {
                        break;
                    }
                }
                Err(answer) => {
                    let _ = errors.send(answer);
                }
            }
        }
        // End of input: the SDK sees its reader close and ends the session.
        let _ = feed.shutdown().await;
    });
    tokio::spawn(async move {
        let mut from_sdk = BufReader::new(from_sdk).lines();
        while let Ok(Some(line)) = from_sdk.next_line().await {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        let mut stdout = tokio::io::stdout();
        while let Some(line) = to_stdout.recv().await {
            if stdout.write_all(line.as_bytes()).await.is_err()
                || stdout.write_all(b"\n").await.is_err()
                || stdout.flush().await.is_err()
            {
                break;
            }
        }
    });
    (sdk_in, sdk_out)
}

/// `Ok` for a line the SDK should see; otherwise the error response to send.
fn check(line: &str) -> Result<(), String> {
    if line.len() > MAX_LINE {
        return Err(error(
            Value::Null,
            -32700,
            "Parse error: the message is too large",
        ));
    }
    let value: Value = match serde_json::from_str(line) {
        Ok(value) => value,
        Err(problem) => {
            return Err(error(
                Value::Null,
                -32700,
                &format!("Parse error: {problem}"),
            ));
        }
    };
    let messages: Vec<&Value> = match &value {
        Value::Array(batch) if !batch.is_empty() => batch.iter().collect(),
        other => vec![other],
    };
    for message in messages {
        let id = message.get("id").cloned().unwrap_or(Value::Null);
        let valid = message.get("jsonrpc").and_then(Value::as_str) == Some("2.0")
            && (message.get("method").is_some_and(Value::is_string)
                || message.get("result").is_some()
                || message.get("error").is_some());
        if !valid {
            return Err(error(
                id,
                -32600,
                "Invalid Request: expected a JSON-RPC 2.0 request, notification or response",
            ));
        }
    }
    Ok(())
}

fn error(id: Value, code: i64, message: &str) -> String {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_lines_get_the_errors_the_specification_names() {
        assert!(check(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#).is_ok());
        assert!(check(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).is_ok());
        let parse = check("garbage").unwrap_err();
        assert!(
            parse.contains("-32700") && parse.contains(r#""id":null"#),
            "{parse}"
        );
        let invalid = check(r#"{"id":7,"method":"ping"}"#).unwrap_err();
        assert!(
            invalid.contains("-32600") && invalid.contains(r#""id":7"#),
            "{invalid}"
        );
    }
}
