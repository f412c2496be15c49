//! `ctx mcp`: the protocol over real pipes (malformed input, reloads, cancellation, end
//! of input), then the official Python and TypeScript SDK clients against the shipped
//! example (`tests/mcp/`). In CI (`CI` set) a missing client SDK fails the test; elsewhere
//! the SDK tests say they are skipped.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{repo_root, wait_for_exit, workspace_of};

/// A `ctx mcp` child spoken to line by line.
struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Server {
    fn start(root: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ctx"))
            .arg("-C")
            .arg(root)
            .arg("mcp")
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut server = Self {
            child,
            stdin,
            stdout,
        };
        let answer = server.request(
            1,
            "initialize",
            json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
        );
        assert_eq!(answer["result"]["serverInfo"]["name"], "ctx", "{answer}");
        server.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string());
        server
    }

    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    fn receive(&mut self) -> Value {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line:?}"))
    }

    fn request(&mut self, id: u64, method: &str, params: Value) -> Value {
        self.send(
            &json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string(),
        );
        loop {
            let answer = self.receive();
            if answer["id"] == id {
                return answer;
            }
        }
    }

    fn call(&mut self, id: u64, tool: &str, arguments: Value) -> Value {
        self.request(
            id,
            "tools/call",
            json!({"name": tool, "arguments": arguments}),
        )["result"]
            .clone()
    }
}

fn text(result: &Value) -> String {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

#[test]
fn malformed_lines_and_unknown_methods_get_json_rpc_errors_and_the_server_lives_on() {
    let mut server = Server::start(&repo_root(), &[]);
    server.send("this is not json");
    assert_eq!(server.receive()["error"]["code"], -32700);
    server.send(r#"{"id": 4, "method": "tools/list"}"#);
    let invalid = server.receive();
    assert_eq!(
        (invalid["id"].clone(), invalid["error"]["code"].clone()),
        (json!(4), json!(-32600))
    );
    let unknown = server.request(5, "no/such/method", json!({}));
    assert_eq!(unknown["error"]["code"], -32601);
    let bad = server.request(
        6,
        "tools/call",
        json!({"name": "ctx_bundle", "arguments": {"feature": 3}}),
    );
    assert_eq!(bad["error"]["code"], -32602, "{bad}");
    let listed = server.call(7, "ctx_list", json!({}));
    assert_eq!(listed["isError"], false);
    // Closing stdin ends the server with exit 0.
    server.stdin = None;
    let status = wait_for_exit(
        &mut server.child,
        Duration::from_secs(10),
        "ctx mcp did not exit at end of input",
    );
    assert!(status.success(), "{status:?}");
}

#[test]
fn config_edits_are_picked_up_and_a_broken_config_is_a_tool_error_not_a_dead_server() {
    let dir = workspace_of(&[(
        "domains/d.yaml",
        "kind: domain\nname: d\nconstraints:\n  rule: First version\n",
    )]);
    let mut server = Server::start(dir.path(), &[]);
    let first = server.call(2, "ctx_bundle", json!({"domains": ["d"]}));
    assert!(text(&first).contains("First version"), "{first}");
    // Same length, so only the modification time can tell (make sure it moves).
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(
        dir.path().join("domains/d.yaml"),
        "kind: domain\nname: d\nconstraints:\n  rule: Later version\n",
    )
    .unwrap();
    let second = server.call(3, "ctx_bundle", json!({"domains": ["d"]}));
    assert!(text(&second).contains("Later version"), "{second}");
    std::fs::write(
        dir.path().join("domains/d.yaml"),
        "kind: domain\nname: d\nconstraints: [\n",
    )
    .unwrap();
    let broken = server.call(4, "ctx_bundle", json!({"domains": ["d"]}));
    assert_eq!(broken["isError"], true);
    assert!(
        text(&broken).contains("domains/d.yaml:"),
        "the diagnostics, located: {broken}"
    );
    std::fs::write(
        dir.path().join("domains/d.yaml"),
        "kind: domain\nname: d\nconstraints:\n  rule: Fixed\n",
    )
    .unwrap();
    let fixed = server.call(5, "ctx_bundle", json!({"domains": ["d"]}));
    assert!(text(&fixed).contains("Fixed"), "{fixed}");
}

/// #21 over MCP: `ctx_bundle` takes `changed` (the change in progress, with its diffs)
/// and `from_run` (a hand-off), like the command line.
#[test]
fn ctx_bundle_bundles_the_change_in_progress_and_hand_offs() {
    let dir = crate::synthesis::changed_repository();
    let mut server = Server::start(dir.path(), &[]);
    let changed = server.call(2, "ctx_bundle", json!({"changed": true, "base": "main"}));
    let body = text(&changed);
    assert!(
        body.contains("- **Changes**: 4 files changed since `main`"),
        "{changed}"
    );
    assert!(
        body.contains("#### changes: `src/pay/flow.py`"),
        "{changed}"
    );
    let both = server.call(3, "ctx_bundle", json!({"changed": true, "feature": "x"}));
    assert_eq!(both["isError"], true);
    assert!(text(&both).contains("cannot be combined"), "{both}");
    let none = server.call(
        4,
        "ctx_bundle",
        json!({"domains": ["pay"], "from_run": "latest"}),
    );
    assert_eq!(none["isError"], true);
    assert!(text(&none).contains("no recorded gate run"), "{none}");
}

fn pid_alive(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

fn read_pid(path: &Path, within: Duration) -> i32 {
    let deadline = Instant::now() + within;
    loop {
        if let Some(pid) = std::fs::read_to_string(path)
            .ok()
            .and_then(|text| text.trim().parse().ok())
        {
            return pid;
        }
        assert!(Instant::now() < deadline, "the gate never wrote its pid");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn gates_run_only_when_allowed_and_a_cancelled_run_kills_its_gates() {
    let dir = workspace_of(&[(
        "domains/d.yaml",
        "kind: domain\nname: d\nquality_gates:\n  slow: echo $$ > pid; exec sleep 60\n",
    )]);
    let mut locked = Server::start(dir.path(), &[]);
    let refused = locked.request(
        2,
        "tools/call",
        json!({"name": "ctx_gates_run", "arguments": {"domains": ["d"]}}),
    );
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--allow-gates"),
        "{refused}"
    );

    let mut server = Server::start(dir.path(), &["--allow-gates"]);
    server.send(&json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "ctx_gates_run", "arguments": {"domains": ["d"]}}}).to_string());
    let pid = read_pid(&dir.path().join("pid"), Duration::from_secs(20));
    assert!(pid_alive(pid));
    server.send(
        &json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 9}})
            .to_string(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while pid_alive(pid) {
        assert!(Instant::now() < deadline, "the cancelled gate still runs");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The client going away also kills what runs.
    std::fs::remove_file(dir.path().join("pid")).unwrap();
    server.send(&json!({"jsonrpc": "2.0", "id": 10, "method": "tools/call", "params": {"name": "ctx_gates_run", "arguments": {"domains": ["d"]}}}).to_string());
    let pid = read_pid(&dir.path().join("pid"), Duration::from_secs(20));
    server.stdin = None;
    let status = wait_for_exit(
        &mut server.child,
        Duration::from_secs(20),
        "ctx mcp did not exit",
    );
    assert!(status.success(), "{status:?}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while pid_alive(pid) {
        assert!(Instant::now() < deadline, "a gate outlived the server");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether a real-client test can run here; in CI a missing SDK is a failure.
fn available(what: &str, found: bool) -> bool {
    if found {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} is not installed, and CI must run this test (.ci/run installs it)"
    );
    #[expect(clippy::print_stderr, reason = "a skipped test says so")]
    {
        eprintln!("skipped: {what} is not installed (`.ci/run` installs it; see tests/mcp/)");
    }
    false
}

fn client_dir() -> PathBuf {
    repo_root().join("tests/mcp")
}

#[test]
fn the_official_python_sdk_client_gets_what_the_cli_prints() {
    let python = std::env::var("CTX_MCP_PYTHON").unwrap_or_else(|_| String::from("python3"));
    let has_sdk = Command::new(&python)
        .args(["-c", "import mcp"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !available(
        "the Python MCP SDK (`pip install -r tests/mcp/requirements.txt`)",
        has_sdk,
    ) {
        return;
    }
    let output = Command::new(&python)
        .arg(client_dir().join("client.py"))
        .arg(env!("CARGO_BIN_EXE_ctx"))
        .arg(repo_root())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for line in [
        "python legacy: ok",
        "python 2026-07-28: ok",
        "python legacy gates: ok",
    ] {
        assert!(stdout.contains(line), "{stdout}");
    }
}

#[test]
fn the_official_typescript_sdk_client_gets_what_the_cli_prints() {
    let has_sdk = client_dir()
        .join("node_modules/@modelcontextprotocol/sdk/package.json")
        .is_file();
    if !available(
        "the TypeScript MCP SDK (`npm ci --prefix tests/mcp`)",
        has_sdk,
    ) {
        return;
    }
    let output = Command::new("node")
        .arg(client_dir().join("client.mjs"))
        .arg(env!("CARGO_BIN_EXE_ctx"))
        .arg(repo_root())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("typescript: ok") && stdout.contains("typescript gates: ok"),
        "{stdout}"
    );
}
