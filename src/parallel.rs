//! Data parallelism for independent per-file and per-document work, on scoped threads
//! (no thread pool dependency). Results always come back in input order, so output is
//! deterministic however the work was scheduled.

/// The number of threads that can run at once (`available_parallelism`, at least 1),
/// asked once per process: the standard library reads the cgroup's CPU quota from
/// `/proc` and `/sys` on every call (about ten system calls), and a bundle maps
/// hundreds of times.
pub fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get))
}

/// `work` applied to every item, on up to [`cores`] threads, results in input order.
pub fn map<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = cores().min(items.len().div_ceil(64).max(1));
    if threads <= 1 {
        return items.iter().map(&work).collect();
    }
    // Each result goes straight to its slot: no per-thread lists to concatenate, and
    // no sort (with its scratch copy) to put them back in order.
    let slots: Vec<std::sync::Mutex<Option<R>>> =
        items.iter().map(|_| std::sync::Mutex::new(None)).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let worker = || {
        while let Some(claimed) = claim(&next, items.len(), threads) {
            for index in claimed {
                let result = work(&items[index]);
                if let Ok(mut slot) = slots[index].lock() {
                    *slot = Some(result);
                }
            }
        }
    };
    std::thread::scope(|scope| {
        // This thread works too; a helper that cannot be started (a process or memory
        // limit) only means fewer hands, never a failure.
        let helpers: Vec<_> = (1..threads)
            .filter_map(|_| std::thread::Builder::new().spawn_scoped(scope, worker).ok())
            .collect();
        worker();
        for helper in helpers {
            helper
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        }
    });
    // Every slot is filled: each index was taken by exactly one worker, which ran to
    // completion (a panic is resumed above). A poisoned lock cannot happen for the
    // same reason.
    slots
        .into_iter()
        .filter_map(|slot| slot.into_inner().ok().flatten())
        .collect()
}

/// The next run of consecutive items for a worker to take (guided scheduling): an
/// eighth of what is left per thread, so that the runs shrink to one item as the work
/// runs out and no thread is left waiting on a long run. A thread working through
/// neighbouring items meets what they share (a package's names and idioms, when they
/// are the files of one directory) while its caches still hold it, where items taken one
/// at a time in turns are spread over every thread.
fn claim(
    next: &std::sync::atomic::AtomicUsize,
    count: usize,
    threads: usize,
) -> Option<std::ops::Range<usize>> {
    use std::sync::atomic::Ordering;
    let mut start = next.load(Ordering::Relaxed);
    loop {
        if start >= count {
            return None;
        }
        let end = start + ((count - start) / (8 * threads)).max(1);
        match next.compare_exchange_weak(start, end, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return Some(start..end),
            Err(now) => start = now,
        }
    }
}

/// Drop `value` on a thread of its own: freeing a large structure (thousands of parsed
/// documents or bundle items) takes measurable time, which a command can spend exiting
/// instead; a library caller still gets the memory back. (If no thread can be started,
/// the closure, and with it `value`, is dropped here.)
pub fn drop_in_background<T: Send + 'static>(value: T) {
    let _ = std::thread::Builder::new().spawn(move || drop(value));
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_keep_input_order() {
        let items: Vec<u64> = (0..5_000).collect();
        let squares = super::map(&items, |value| value * value);
        assert_eq!(
            squares,
            items.iter().map(|value| value * value).collect::<Vec<_>>()
        );
        assert!(super::map(&[] as &[u8], |_| 0).is_empty());
    }

    /// The runs a worker takes cover every item once, in order, start long (an eighth of
    /// what is left per thread) and shrink to single items at the end.
    #[test]
    fn claimed_runs_cover_every_item_once_and_shrink() {
        for (count, threads) in [(0, 2), (1, 2), (7, 2), (16_041, 2), (1_000, 4)] {
            let next = std::sync::atomic::AtomicUsize::new(0);
            let runs: Vec<_> = std::iter::from_fn(|| super::claim(&next, count, threads)).collect();
            let covered: Vec<usize> = runs.iter().cloned().flatten().collect();
            assert_eq!(covered, (0..count).collect::<Vec<_>>());
            if count >= 16 * threads {
                assert_eq!(runs[0].len(), count / (8 * threads));
            }
            assert!(runs.windows(2).all(|pair| pair[1].len() <= pair[0].len()));
            assert!(runs.last().is_none_or(|run| run.len() == 1));
        }
    }
}
