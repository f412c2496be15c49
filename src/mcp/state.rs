//! The server's one workspace: a [`Session`] kept across requests and opened again when
//! the configuration changes on disk; the gate runs in flight, so that none outlives the
//! server.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use nix::sys::signal::Signal;

use crate::date::Date;
use crate::error::Error;
use crate::gates::run::Interrupter;
use crate::session::{OpenOptions, Session};

/// What a configuration file looked like: a change to any of them reopens the session.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    path: PathBuf,
    modified: Option<SystemTime>,
    len: u64,
}

#[derive(Default)]
struct Opened {
    session: Option<Session>,
    stamps: Vec<Stamp>,
    today: Option<Date>,
}

/// Shared by every request of one server.
pub struct State {
    root: Option<PathBuf>,
    opened: Mutex<Opened>,
    runs: Mutex<(u64, std::collections::BTreeMap<u64, Interrupter>)>,
}

/// The text form of a feature for prompts: name, description, inputs (key, description).
pub type PromptInfo = (String, Option<String>, Vec<(String, String)>);

impl State {
    pub fn new(root: Option<PathBuf>) -> Self {
        Self {
            root,
            opened: Mutex::new(Opened::default()),
            runs: Mutex::new((0, std::collections::BTreeMap::new())),
        }
    }

    /// The workspace root the server was started with (`-C`), if any.
    pub fn root_path(&self) -> Option<PathBuf> {
        self.root.clone()
    }

    /// Run `work` on the session, first opening it again if the configuration changed
    /// (or the date did: expiry depends on it). A configuration that does not load or
    /// validate is the error, and the next call tries again.
    pub fn with_session<R>(
        &self,
        work: impl FnOnce(&mut Session) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let mut opened = self.opened.lock().unwrap_or_else(PoisonError::into_inner);
        let today = Date::today_utc();
        let stamps = match &opened.session {
            Some(session) => stamps(session),
            None => Vec::new(),
        };
        let stale =
            opened.session.is_none() || opened.today != Some(today) || opened.stamps != stamps;
        if stale {
            opened.session = None;
            let options = OpenOptions {
                today,
                preload_cache: false,
            };
            let session = Session::open(self.root.as_deref(), &options)?;
            opened.stamps = stamps_of(&session);
            opened.today = Some(today);
            opened.session = Some(session);
        }
        match opened.session.as_mut() {
            Some(session) => work(session),
            None => Err(Error::Usage {
                message: String::from("the workspace is not open"),
                help: None,
            }),
        }
    }

    /// Like [`State::with_session`], on a blocking thread.
    pub async fn blocking<R: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&mut Session) -> Result<R, Error> + Send + 'static,
    ) -> Result<R, Error> {
        let state = Arc::clone(self);
        tokio::task::spawn_blocking(move || state.with_session(work))
            .await
            .unwrap_or_else(|error| {
                Err(Error::Usage {
                    message: format!("the request failed: {error}"),
                    help: None,
                })
            })
    }

    /// The declared features with their descriptions (empty when the configuration does
    /// not validate).
    pub async fn features(self: &Arc<Self>) -> Vec<(String, Option<String>)> {
        self.blocking(|session| {
            Ok(session
                .workspace()
                .features
                .iter()
                .map(|feature| (feature.name.to_string(), feature.description.clone()))
                .collect())
        })
        .await
        .unwrap_or_default()
    }

    /// The features as prompts: name, description, inputs.
    pub async fn prompts(self: &Arc<Self>) -> Vec<PromptInfo> {
        self.blocking(|session| {
            Ok(session
                .workspace()
                .features
                .iter()
                .map(|feature| {
                    let inputs = feature
                        .inputs
                        .iter()
                        .map(|input| (input.key.clone(), input.description.clone()))
                        .collect();
                    (
                        feature.name.to_string(),
                        feature.description.clone(),
                        inputs,
                    )
                })
                .collect())
        })
        .await
        .unwrap_or_default()
    }

    /// A resource's text and MIME type: a feature's bundle (Markdown, inputs not
    /// required, within the default tool-result size) or its explanation.
    pub async fn resource(
        self: &Arc<Self>,
        feature: String,
        explain: bool,
    ) -> Result<(String, &'static str), String> {
        self.blocking(move |session| {
            let arguments = super::sizing::BundleArguments {
                feature: Some(feature),
                ..super::sizing::BundleArguments::default()
            };
            let sized = super::sizing::sized_bundle(session, &arguments, false)?;
            if explain {
                let mut request = super::sizing::bundle_request(&arguments, false);
                request.budget = Some(sized.budget);
                Ok((session.explain(&request)?.to_text(), "text/plain"))
            } else {
                Ok((sized.text, "text/markdown"))
            }
        })
        .await
        .map_err(|error| error.to_plain())
    }

    /// A feature's bundle as a prompt's message, with the prompt's arguments as inputs.
    pub async fn prompt(
        self: &Arc<Self>,
        feature: String,
        inputs: Vec<(String, String)>,
    ) -> Result<String, String> {
        self.blocking(move |session| {
            let arguments = super::sizing::BundleArguments {
                feature: Some(feature),
                set: inputs.into_iter().collect(),
                ..super::sizing::BundleArguments::default()
            };
            Ok(super::sizing::sized_bundle(session, &arguments, true)?.text)
        })
        .await
        .map_err(|error| error.to_plain())
    }

    /// Remember a run in flight until [`State::forget_run`].
    pub fn track_run(&self, interrupter: Interrupter) -> u64 {
        let mut runs = self.runs();
        runs.0 += 1;
        let id = runs.0;
        runs.1.insert(id, interrupter);
        id
    }

    pub fn forget_run(&self, id: u64) {
        self.runs().1.remove(&id);
    }

    /// Kill every gate still running (the client went away): SIGTERM to their groups,
    /// then at once SIGKILL (a second interrupt).
    pub fn stop_all_runs(&self) {
        let runs = std::mem::take(&mut self.runs().1);
        for run in runs.values() {
            run.interrupt(Signal::SIGTERM);
            run.interrupt(Signal::SIGTERM);
        }
    }

    fn runs(&self) -> MutexGuard<'_, (u64, std::collections::BTreeMap<u64, Interrupter>)> {
        self.runs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The stamps of the files a session was opened from, as they are now.
fn stamps(session: &Session) -> Vec<Stamp> {
    stamps_of(session)
}

/// `ctx.toml` and every YAML file of the configuration, with their metadata.
fn stamps_of(session: &Session) -> Vec<Stamp> {
    let workspace = session.workspace();
    let root = &workspace.root;
    let mut files = vec![root.join("ctx.toml")];
    for entry in &workspace.settings.config {
        let path = root.join(entry);
        if path.is_dir() {
            files.extend(
                crate::paths::walk_files(&path)
                    .into_iter()
                    .map(|(file, _)| file)
                    .filter(|file| {
                        file.extension()
                            .is_some_and(|ext| ext == "yaml" || ext == "yml")
                    }),
            );
        } else {
            files.push(path);
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let metadata = std::fs::metadata(&path).ok();
            Stamp {
                modified: metadata.as_ref().and_then(|data| data.modified().ok()),
                len: metadata.map_or(0, |data| data.len()),
                path,
            }
        })
        .collect()
}

/// SIGINT and SIGTERM end the server cleanly.
pub struct Signals {
    interrupt: Option<tokio::signal::unix::Signal>,
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    pub fn listen() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        Self {
            interrupt: signal(SignalKind::interrupt()).ok(),
            terminate: signal(SignalKind::terminate()).ok(),
        }
    }

    pub async fn received(&mut self) {
        async fn next(signal: &mut Option<tokio::signal::unix::Signal>) {
            match signal {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        tokio::select! {
            () = next(&mut self.interrupt) => {}
            () = next(&mut self.terminate) => {}
        }
    }
}
