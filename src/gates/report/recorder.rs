//! Records each gate's pass in the gate cache (gates with `inputs` only; failures are
//! never recorded).

use std::collections::BTreeMap;

use crate::gates::cache::{GateCache, KeyParts};
use crate::gates::events::{GateEvent, Reporter};
use crate::gates::plan::GateStatus;

/// The cache's reporter.
pub struct CacheRecorder {
    cache: GateCache,
    parts: BTreeMap<String, KeyParts>,
    run_id: String,
}

impl CacheRecorder {
    pub fn new(cache: GateCache) -> Self {
        Self {
            cache,
            parts: BTreeMap::new(),
            run_id: String::new(),
        }
    }
}

impl Reporter for CacheRecorder {
    fn report(&mut self, event: &GateEvent<'_>) {
        match event {
            GateEvent::RunStarted { plan } => {
                self.run_id = plan.run_id.to_string();
                for (gate, cached) in plan.gates.iter().zip(&plan.cache) {
                    if let Some(cached) = cached {
                        self.parts.insert(gate.id.to_string(), cached.parts.clone());
                    }
                }
            }
            GateEvent::GateFinished { result, .. } if result.status == GateStatus::Pass => {
                if let Some(parts) = self.parts.get(&result.gate.id.to_string()) {
                    self.cache.store(
                        &result.gate.id,
                        parts,
                        result.duration.as_millis() as u64,
                        &self.run_id,
                    );
                }
            }
            _ => {}
        }
    }
}
