//! The library API every front end uses, exercised without the CLI: typed requests,
//! typed results, events in order, runs stopped by the caller rather than by signals.

use std::time::{Duration, Instant};

use ctx::date::Date;
use ctx::gates::events::{GateEvent, Reporter, Trace};
use ctx::gates::plan::RunVerdict;
use ctx::gates::run::Control;
use ctx::session::{BundleRequest, GatesRequest, OpenOptions, RunOptions, Session};

fn open(files: &[(&str, &str)]) -> (tempfile::TempDir, Session) {
    let dir = crate::workspace_of(files);
    let options = OpenOptions {
        today: Date::parse("2026-12-01").unwrap(),
        preload_cache: false,
    };
    let session = Session::open(Some(dir.path()), &options).unwrap();
    (dir, session)
}

#[test]
fn a_session_answers_bundle_and_explain_requests_with_typed_results() {
    let (_dir, mut session) = open(&[(
        "domains/d.yaml",
        "kind: domain\nname: d\nconstraints:\n  rule: Always test\n",
    )]);
    let request = BundleRequest {
        domains: vec![String::from("d")],
        use_cache: false,
        ..BundleRequest::default()
    };
    let bundle = session.bundle(&request).unwrap();
    assert_eq!(bundle.items.len(), 1);
    assert_eq!(bundle.items[0].id.to_string(), "domain:d/constraints/rule");
    let explanation = session.explain(&request).unwrap();
    assert_eq!(explanation.digest, bundle.digest);
    let unknown = BundleRequest {
        agent: Some(String::from("nobody")),
        ..request
    };
    let error = session.bundle(&unknown).unwrap_err().to_string();
    assert!(error.contains("no agent named `nobody`"), "{error}");
}

#[test]
fn a_gate_run_is_an_ordered_event_stream_with_a_verdict() {
    let (_dir, mut session) = open(&[(
        "domains/d.yaml",
        "kind: domain\nname: d\nquality_gates:\n  ok: \"true\"\n  bad: \"exit 3\"\n",
    )]);
    let plan = session
        .gates_plan(&GatesRequest {
            domains: vec![String::from("d")],
            ..GatesRequest::default()
        })
        .unwrap();
    let options = RunOptions {
        jobs: Some(1),
        ..RunOptions::default()
    };
    let prepared = session.prepare_run(plan.gates, &options).unwrap();
    let mut trace = Trace::default();
    let outcome = session.run_gates(&prepared.plan, Control::new(), &mut trace);
    assert_eq!(outcome.verdict(), RunVerdict::Failed);
    assert_eq!(
        trace.kinds,
        [
            "run-started",
            "gate-started domain:d/ok",
            "gate-output domain:d/ok",
            "gate-finished domain:d/ok pass",
            "gate-started domain:d/bad",
            "gate-output domain:d/bad",
            "gate-finished domain:d/bad fail",
            "run-finished Failed",
        ]
    );
}

/// Interrupts the run as soon as its gate has started, from another thread.
struct InterruptOnStart(Option<ctx::gates::run::Interrupter>);

impl Reporter for InterruptOnStart {
    fn report(&mut self, event: &GateEvent<'_>) {
        if let GateEvent::GateStarted { .. } = event
            && let Some(interrupter) = self.0.take()
        {
            std::thread::spawn(move || {
                interrupter.interrupt(nix::sys::signal::Signal::SIGTERM);
            });
        }
    }
}

#[test]
fn a_caller_stops_a_run_through_its_interrupter_without_any_signal() {
    let (_dir, mut session) = open(&[(
        "domains/d.yaml",
        "kind: domain\nname: d\nquality_gates:\n  slow: sleep 30\n  never: \"true\"\n",
    )]);
    let plan = session
        .gates_plan(&GatesRequest {
            domains: vec![String::from("d")],
            ..GatesRequest::default()
        })
        .unwrap();
    let options = RunOptions {
        jobs: Some(1),
        ..RunOptions::default()
    };
    let prepared = session.prepare_run(plan.gates, &options).unwrap();
    let control = Control::new();
    let mut reporter = InterruptOnStart(Some(control.interrupter()));
    let started = Instant::now();
    let outcome = session.run_gates(&prepared.plan, control, &mut reporter);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(
        outcome.verdict(),
        RunVerdict::Interrupted(nix::sys::signal::Signal::SIGTERM)
    );
    assert_eq!(outcome.skipped.len(), 1, "the second gate never starts");
}
