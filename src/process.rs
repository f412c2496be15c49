//! The only place that starts processes (clippy's `disallowed-methods` bans
//! `Command::new` everywhere else).
//!
//! Gates run as `sh -c <run>` in a process group of their own (so a timeout or Ctrl-C
//! can signal the gate and everything it started), with stdin from `/dev/null` and
//! stdout/stderr piped. `git` is run for `ctx gates --changed`.

use std::io;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// Start a gate command.
pub fn spawn_gate(run: &str, cwd: &Path, env: &[(String, String)]) -> io::Result<Child> {
    use std::os::unix::process::CommandExt;
    #[expect(
        clippy::disallowed_methods,
        reason = "this module is where processes are spawned"
    )]
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(run)
        .current_dir(cwd)
        .envs(env.iter().map(|(key, value)| (key, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    command.spawn()
}

/// Send `signal` to process group `group`. Returns false when the group is gone.
pub fn signal_group(group: u32, signal: Signal) -> bool {
    let Ok(raw) = i32::try_from(group) else {
        return false;
    };
    !matches!(killpg(Pid::from_raw(raw), signal), Err(Errno::ESRCH))
}

/// Whether any process of group `group` is still alive.
pub fn group_alive(group: u32) -> bool {
    let Ok(raw) = i32::try_from(group) else {
        return false;
    };
    !matches!(killpg(Pid::from_raw(raw), None), Err(Errno::ESRCH))
}

/// Run `git` with `args` in `cwd` and collect its output.
pub fn git(cwd: &Path, args: &[&str]) -> io::Result<Output> {
    #[expect(
        clippy::disallowed_methods,
        reason = "this module is where processes are spawned"
    )]
    let mut command = Command::new("git");
    command
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
}

/// The name of a signal number, e.g. `9` → `SIGKILL`.
pub fn signal_name(number: i32) -> String {
    Signal::try_from(number).map_or_else(
        |_| format!("signal {number}"),
        |signal| signal.as_str().to_owned(),
    )
}

/// `length` hex digits that differ per call (trace and span ids; not for secrets).
pub fn random_hex(length: usize, salt: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = blake3::Hasher::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    hasher.update(&now.as_nanos().to_le_bytes());
    hasher.update(&std::process::id().to_le_bytes());
    hasher.update(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    hasher.update(salt.as_bytes());
    hasher.finalize().to_hex()[..length].to_owned()
}

/// How a handler ended.
#[derive(Debug)]
pub enum HandlerEnd {
    Exited(i32),
    Signalled(String),
    TimedOut,
}

/// `sh -c <command>` in a process group of its own, from `cwd` with `env` set, `input`
/// fed to its stdin on a thread (a command that does not read it must not block; with
/// no thread to spare it gets no input), its stdout and stderr piped or discarded.
fn spawn_fed(
    command: &str,
    cwd: &Path,
    env: &[(String, String)],
    input: &[u8],
    capture: bool,
) -> io::Result<Child> {
    use std::io::Write as _;
    use std::os::unix::process::CommandExt;
    let output = || match capture {
        true => Stdio::piped(),
        false => Stdio::null(),
    };
    #[expect(
        clippy::disallowed_methods,
        reason = "this module is where processes are spawned"
    )]
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(cwd)
        .envs(env.iter().map(|(key, value)| (key, value)))
        .stdin(Stdio::piped())
        .stdout(output())
        .stderr(output())
        .process_group(0)
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        let input = input.to_vec();
        let _ = std::thread::Builder::new().spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    Ok(child)
}

/// Wait for `child` until `timeout`, then kill its group; either way its group is killed
/// when it ends (nothing it started outlives it).
fn wait_or_kill(child: &mut Child, timeout: std::time::Duration) -> io::Result<HandlerEnd> {
    use std::os::unix::process::ExitStatusExt;
    let deadline = std::time::Instant::now() + timeout;
    let end = loop {
        if let Some(status) = child.try_wait()? {
            break match (status.code(), status.signal()) {
                (Some(code), _) => HandlerEnd::Exited(code),
                (None, Some(number)) => HandlerEnd::Signalled(signal_name(number)),
                (None, None) => HandlerEnd::Exited(-1),
            };
        }
        if std::time::Instant::now() >= deadline {
            signal_group(child.id(), Signal::SIGKILL);
            let _ = child.wait();
            break HandlerEnd::TimedOut;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    signal_group(child.id(), Signal::SIGKILL);
    Ok(end)
}

/// Run an event handler: `sh -c <command>` in a process group of its own, `input` on
/// its stdin, its output discarded, killed (with its group) at `timeout`.
pub fn run_handler(
    command: &str,
    cwd: &Path,
    env: &[(String, String)],
    input: &[u8],
    timeout: std::time::Duration,
) -> io::Result<HandlerEnd> {
    let mut child = spawn_fed(command, cwd, env, input, false)?;
    wait_or_kill(&mut child, timeout)
}

/// What a command run to completion printed, and how it ended.
#[derive(Debug)]
pub struct Captured {
    pub end: HandlerEnd,
    /// Its stdout, at most `max_bytes` of it.
    pub stdout: Vec<u8>,
    /// Whether it printed more than `max_bytes` on stdout (the rest was read and dropped).
    pub truncated: bool,
    /// The end of its stderr (the last 4 KiB).
    pub stderr_tail: Vec<u8>,
}

/// Run `sh -c <command>` like a gate (its own process group, `input` on stdin, `env`
/// set), capturing stdout (up to `max_bytes`) and the tail of stderr; the group is killed
/// at `timeout`, and when the command ends, and so is what it detached into sessions of
/// its own (nothing it started outlives it).
pub fn run_captured(
    command: &str,
    cwd: &Path,
    env: &[(String, String)],
    input: &[u8],
    timeout: std::time::Duration,
    max_bytes: u64,
) -> io::Result<Captured> {
    use std::io::Read as _;
    // Like a gate run: what the command detaches (`setsid`) is reparented here when its
    // parent ends, and killed below.
    become_subreaper();
    let mut child = spawn_fed(command, cwd, env, input, true)?;
    let (sender, receiver) = std::sync::mpsc::channel::<(bool, Vec<u8>, bool)>();
    let limit = usize::try_from(max_bytes).unwrap_or(usize::MAX);
    let streams: [(bool, Option<Box<dyn std::io::Read + Send>>); 2] = [
        (true, child.stdout.take().map(|out| Box::new(out) as _)),
        (false, child.stderr.take().map(|err| Box::new(err) as _)),
    ];
    for (is_stdout, stream) in streams {
        let Some(mut stream) = stream else { continue };
        let sender = sender.clone();
        // No thread to spare: the stream is dropped (the command may then be stopped by a
        // full pipe, and is killed at its timeout).
        let _ = std::thread::Builder::new().spawn(move || {
            let mut kept = Vec::new();
            let mut over = false;
            let mut buffer = [0u8; 8192];
            while let Ok(read) = stream.read(&mut buffer) {
                if read == 0 {
                    break;
                }
                if is_stdout {
                    let room = limit.saturating_sub(kept.len());
                    over |= read > room;
                    kept.extend_from_slice(&buffer[..read.min(room)]);
                } else {
                    kept.extend_from_slice(&buffer[..read]);
                    if kept.len() > 8192 {
                        kept.drain(..kept.len() - 4096);
                    }
                }
            }
            let _ = sender.send((is_stdout, kept, over));
        });
    }
    drop(sender);
    let end = wait_or_kill(&mut child, timeout)?;
    kill_escaped();
    let mut captured = Captured {
        end,
        stdout: Vec::new(),
        truncated: false,
        stderr_tail: Vec::new(),
    };
    // A descendant that left the group may hold a pipe open: wait a little, not forever.
    let patience = std::time::Instant::now() + std::time::Duration::from_secs(1);
    for _ in 0..2 {
        let left = patience.saturating_duration_since(std::time::Instant::now());
        let Ok((is_stdout, bytes, over)) = receiver.recv_timeout(left) else {
            break;
        };
        if is_stdout {
            captured.stdout = bytes;
            captured.truncated = over;
        } else {
            let start = bytes.len().saturating_sub(4096);
            captured.stderr_tail = bytes[start..].to_vec();
        }
    }
    Ok(captured)
}

/// Make this process the reaper of its orphaned descendants, so that a process that
/// leaves a gate's group (`setsid cmd &`) is reparented here when its parent exits, and
/// can be found and killed ([`kill_escaped`]). Process-wide and idempotent.
pub fn become_subreaper() {
    let _ = nix::sys::prctl::set_child_subreaper(true);
}

/// Kill (and reap) the processes reparented to this one that started sessions of their
/// own: descendants of gates that escaped their process group. Handlers and `git` stay
/// in ctx's session and are never touched. Returns how many were killed.
pub fn kill_escaped() -> usize {
    let me = std::process::id();
    let Ok(own) = nix::unistd::getsid(None) else {
        return 0;
    };
    // This process's children, from each thread's `children` list (cheap: no scan of
    // every process).
    let mut children: Vec<i32> = Vec::new();
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            if let Ok(list) = std::fs::read_to_string(task.path().join("children")) {
                children.extend(
                    list.split_whitespace()
                        .filter_map(|pid| pid.parse::<i32>().ok()),
                );
            }
        }
    }
    children.sort_unstable();
    children.dedup();
    let mut killed = 0;
    for pid in children {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid pgrp session …`: comm may hold spaces and parentheses.
        let Some(after) = stat.rfind(')').map(|end| &stat[end + 1..]) else {
            continue;
        };
        let fields: Vec<&str> = after.split_whitespace().collect();
        let (Some(state), Some(ppid), Some(group), Some(session)) = (
            fields.first(),
            fields.get(1).and_then(|field| field.parse::<u32>().ok()),
            fields.get(2).and_then(|field| field.parse::<i32>().ok()),
            fields.get(3).and_then(|field| field.parse::<i32>().ok()),
        ) else {
            continue;
        };
        // A dead member of a gate's group, reparented here: reap it (a group leader is a
        // gate's or a handler's, which their own waits reap; ctx's own group has `git`).
        if ppid == me && *state == "Z" && pid != group && group != nix::unistd::getpgrp().as_raw() {
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
            continue;
        }
        if ppid == me && session != own.as_raw() {
            let target = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::killpg(target, Signal::SIGKILL);
            let _ = nix::sys::signal::kill(target, Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(target, None);
            killed += 1;
        }
    }
    killed
}

/// A watchdog of a gate run: a second ctx process (`ctx gates-watchdog`, in a process
/// group of its own) told every gate's group as it starts and ends; if ctx dies without
/// a word (even `kill -9`), its end of the pipe closes and the watchdog kills the groups
/// still running. (ctx forbids `unsafe`, so a parent-death signal set in the child
/// before `exec` is not an option.)
pub struct Watchdog {
    child: Child,
    stdin: Option<std::process::ChildStdin>,
}

impl Watchdog {
    /// Start one; `None` if it cannot be (the run goes on without it).
    pub fn start() -> Option<Self> {
        use std::os::unix::process::CommandExt;
        let exe = std::env::current_exe().ok()?;
        #[expect(
            clippy::disallowed_methods,
            reason = "this module is where processes are spawned"
        )]
        let mut child = Command::new(exe)
            .arg("gates-watchdog")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .ok()?;
        let stdin = child.stdin.take();
        Some(Self { child, stdin })
    }

    fn tell(&mut self, line: String) {
        use std::io::Write as _;
        if let Some(stdin) = &mut self.stdin
            && stdin.write_all(line.as_bytes()).is_err()
        {
            self.stdin = None;
        }
    }

    /// A gate's group started.
    pub fn started(&mut self, group: u32) {
        self.tell(format!("+{group}\n"));
    }

    /// A gate's group is over.
    pub fn ended(&mut self, group: u32) {
        self.tell(format!("-{group}\n"));
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stdin = None;
        let _ = self.child.wait();
    }
}

/// The watchdog's side: read `+GROUP` / `-GROUP` lines until the run's end of the pipe
/// closes, then kill every group still listed.
pub fn watch(input: impl std::io::BufRead) {
    let mut groups: Vec<u32> = Vec::new();
    for line in input.lines() {
        let Ok(line) = line else {
            break;
        };
        if let Some(group) = line.strip_prefix('+').and_then(|group| group.parse().ok()) {
            groups.push(group);
        } else if let Some(group) = line
            .strip_prefix('-')
            .and_then(|group| group.parse::<u32>().ok())
        {
            groups.retain(|known| *known != group);
        }
    }
    for group in groups {
        signal_group(group, Signal::SIGKILL);
    }
}
