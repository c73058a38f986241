//! The threads a training step splits its products across: the calling thread and helper
//! threads that spin between a layer's products instead of sleeping.
//!
//! A step on `[784, 100, 10]` at mb 100 splits two products about 10 µs apart, and an epoch
//! gathers a batch between steps; rayon's idle workers fall asleep after about 20 µs and take
//! about 25 µs to wake (measured on a 2-vCPU VM), and each join queues and steals a job.
//! The team's helpers spin for [`SPIN`] after each job, so the next one starts in well under a
//! microsecond, and then park. The number of parts is the caller's: the engine asks for one
//! per thread of the current rayon pool (so `--threads`, `n_threads` and
//! `rayon::ThreadPool::install` still set it), and the team starts helpers as they are needed.
//!
//! The trainer splits its gather of a batch across the team too ([`for_each`] and [`parts`]
//! are public for that); nothing else in the public API uses it.
//!
//! A job's parts are claimed, not assigned: the caller claims parts like any helper, so a job
//! finishes even if no helper comes (a helper not yet scheduled, a spawn that failed), and a
//! caller that finds the team busy (another thread's step, or a part that itself splits) runs
//! its parts itself, in order. Which thread runs a part never changes what the part computes:
//! the engine cuts along columns of the batch or rows of `W`, never through a sum, so the bits
//! are the same on any number of threads.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long a helper spins for the next job before it parks: longer than the gaps inside an
/// epoch (a batch's gather, the small layers' products), short enough that an idle team gives
/// the cores back to whatever runs next (an evaluation on rayon, another process).
const SPIN: Duration = Duration::from_micros(500);

/// The most parts a job has (and helpers the team starts, plus one).
pub const MAX_PARTS: usize = 64;

/// How many parts to split `work` into: one per thread of the current rayon pool (the pool a
/// `ThreadPool::install` runs in, or rayon's global pool, one thread per CPU unless
/// `RAYON_NUM_THREADS` says otherwise), at most [`MAX_PARTS`], each worth at least
/// `min_per_part` of it; at least 1.
pub fn parts(work: usize, min_per_part: usize) -> usize {
    rayon::current_num_threads()
        .min(MAX_PARTS)
        .min(work / min_per_part)
        .max(1)
}

/// Runs `f(item)` for every item, each on the calling thread or a helper, and returns when all
/// have run: the team's `for_each`. At most [`MAX_PARTS`] items (more panic). Item 0 runs on
/// the calling thread and item k on helper k unless one of them is late, so that a split
/// repeated step after step (the same rows of `W` each time) keeps each part's data in one
/// core's cache. A panic in `f` is raised on the calling thread once every item has finished.
pub fn for_each<T: Send>(items: impl ExactSizeIterator<Item = T>, f: impl Fn(T) + Sync) {
    let parts = items.len();
    assert!(
        parts <= MAX_PARTS,
        "{parts} parts: the team splits into at most {MAX_PARTS}"
    );
    if parts <= 1 {
        items.for_each(f);
        return;
    }
    let mut slots: [Mutex<Option<T>>; MAX_PARTS] = std::array::from_fn(|_| Mutex::new(None));
    for (slot, item) in slots.iter_mut().zip(items) {
        *slot.get_mut().unwrap_or_else(|e| e.into_inner()) = Some(item);
    }
    let part = |k: usize| {
        let item = slots[k].lock().unwrap_or_else(|e| e.into_inner()).take();
        f(item.expect("each part is claimed once"));
    };
    team().run(parts, &part);
}

/// A job as the helpers see it: a part's index in, the part run.
type Job<'a> = &'a (dyn Fn(usize) + Sync);

struct Team {
    /// Bumped for each job: what the helpers wait for.
    generation: AtomicU64,
    /// Bit k: part k of the current job is taken. The bits of parts the job does not have
    /// are set, so between jobs no bit is free.
    claimed: AtomicU64,
    /// The current job (valid while a part of it is claimed and unfinished).
    job: AtomicPtr<Job<'static>>,
    /// Parts of the current job finished.
    finished: AtomicUsize,
    /// Whether a thread is running a job (a second caller runs its parts itself).
    busy: AtomicBool,
    /// The first panic among the current job's parts.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
    /// Helpers started.
    helpers: Mutex<usize>,
    /// Helpers parked, and where they park.
    parked: AtomicUsize,
    sleep: Mutex<()>,
    wake: Condvar,
}

fn team() -> &'static Team {
    static TEAM: OnceLock<Team> = OnceLock::new();
    TEAM.get_or_init(|| Team {
        generation: AtomicU64::new(0),
        claimed: AtomicU64::new(u64::MAX),
        job: AtomicPtr::new(std::ptr::null_mut()),
        finished: AtomicUsize::new(0),
        busy: AtomicBool::new(false),
        panic: Mutex::new(None),
        helpers: Mutex::new(0),
        parked: AtomicUsize::new(0),
        sleep: Mutex::new(()),
        wake: Condvar::new(),
    })
}

impl Team {
    /// Runs `job(k)` for `k in 0..parts`, on this thread and the helpers.
    fn run(&'static self, parts: usize, job: Job<'_>) {
        if self.busy.compare_exchange(false, true, Acquire, Relaxed).is_err() {
            // Busy: this thread runs every part, the panics kept as the team keeps them.
            let mut panic = None;
            for k in 0..parts {
                if let Err(payload) = catch_unwind(AssertUnwindSafe(|| job(k))) {
                    panic.get_or_insert(payload);
                }
            }
            if let Some(payload) = panic {
                resume_unwind(payload);
            }
            return;
        }
        self.start_helpers(parts - 1);
        // SAFETY (of the helpers' use of this pointer): this function returns only once every
        // part of the job has finished, and a part can be claimed only from the moment the
        // `claimed` store below frees the job's bits.
        let job_ptr = &job as *const Job<'_> as *mut Job<'static>;
        self.job.store(job_ptr, Relaxed);
        self.finished.store(0, Relaxed);
        let free = if parts == 64 { u64::MAX } else { (1 << parts) - 1 };
        self.claimed.store(!free, Release);
        self.generation.fetch_add(1, SeqCst);
        if self.parked.load(SeqCst) > 0 {
            let _sleep = self.sleep.lock().unwrap_or_else(|e| e.into_inner());
            self.wake.notify_all();
        }
        self.claim_from(0);
        let mut spins = 0u32;
        while self.finished.load(Acquire) < parts {
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(1024) {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
        self.job.store(std::ptr::null_mut(), Relaxed);
        let panic = self.panic.lock().unwrap_or_else(|e| e.into_inner()).take();
        self.busy.store(false, Release);
        if let Some(payload) = panic {
            resume_unwind(payload);
        }
    }

    /// Runs part `mine` if it is still free, then any other part still free, until none is.
    fn claim_from(&self, mine: usize) {
        if mine < MAX_PARTS {
            self.try_run(mine);
        }
        loop {
            let claimed = self.claimed.load(Acquire);
            if claimed == u64::MAX {
                return;
            }
            self.try_run((!claimed).trailing_zeros() as usize);
        }
    }

    /// Claims part `k` of the current job and runs it, unless it is taken. A panic in the
    /// part is kept for the job's caller (the first one only), and the part counts as
    /// finished.
    fn try_run(&self, k: usize) {
        let bit = 1u64 << k;
        if self.claimed.fetch_or(bit, AcqRel) & bit != 0 {
            return;
        }
        // SAFETY: part k is claimed and not finished, so the job is current and its caller
        // is waiting in `run` (see there).
        let job = unsafe { *self.job.load(Acquire) };
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| job(k))) {
            // Kept before the part counts as finished, for the caller to find.
            self.panic
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert(payload);
        }
        self.finished.fetch_add(1, Release);
    }

    /// Starts helpers until there are `wanted` (at most `MAX_PARTS - 1`); a helper that
    /// cannot be started is left out, its parts run by the others.
    fn start_helpers(&'static self, wanted: usize) {
        let wanted = wanted.min(MAX_PARTS - 1);
        let mut started = self.helpers.lock().unwrap_or_else(|e| e.into_inner());
        while *started < wanted {
            let part = *started + 1;
            let spawned = std::thread::Builder::new()
                .name(format!("batchprop-team-{part}"))
                .spawn(move || self.help(part));
            if spawned.is_err() {
                break;
            }
            *started += 1;
        }
    }

    /// Helper `part`'s life: wait for a job (spinning for [`SPIN`], then parked), run its part
    /// of it and any part still free.
    fn help(&self, part: usize) {
        let mut seen = self.generation.load(Acquire);
        loop {
            let since = Instant::now();
            let mut spins = 0u32;
            loop {
                let generation = self.generation.load(Acquire);
                if generation != seen {
                    seen = generation;
                    break;
                }
                spins = spins.wrapping_add(1);
                if !spins.is_multiple_of(64) {
                    std::hint::spin_loop();
                } else if since.elapsed() > SPIN {
                    self.park(seen);
                } else {
                    // Every few microseconds: a core shared with other work (more threads
                    // than cores) goes to them rather than to this wait.
                    std::thread::yield_now();
                }
            }
            self.claim_from(part);
        }
    }

    /// Sleeps until a job newer than `seen` is posted.
    fn park(&self, seen: u64) {
        let mut sleep = self.sleep.lock().unwrap_or_else(|e| e.into_inner());
        self.parked.fetch_add(1, SeqCst);
        while self.generation.load(SeqCst) == seen {
            sleep = self.wake.wait(sleep).unwrap_or_else(|e| e.into_inner());
        }
        self.parked.fetch_sub(1, SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_runs_once_on_any_number_of_parts() {
        for parts in [0, 1, 2, 3, 7, MAX_PARTS] {
            for _ in 0..50 {
                let counts: Vec<AtomicUsize> = (0..parts).map(|_| AtomicUsize::new(0)).collect();
                for_each(0..parts, |k| {
                    counts[k].fetch_add(1, Relaxed);
                });
                assert!(counts.iter().all(|c| c.load(Relaxed) == 1), "{parts} parts");
            }
        }
    }

    /// `for_each` returns only after every part has finished: the caller's part waits (up to
    /// a second) until the other part has started on a helper, which then takes its time.
    #[test]
    fn for_each_waits_for_the_helpers_part() {
        for _ in 0..5 {
            let (started, finished) = (AtomicUsize::new(0), AtomicUsize::new(0));
            for_each(0..2, |k| {
                if k == 0 {
                    let since = Instant::now();
                    while started.load(Acquire) == 0 && since.elapsed() < Duration::from_secs(1) {
                        std::hint::spin_loop();
                    }
                } else {
                    started.fetch_add(1, Release);
                    std::thread::sleep(Duration::from_millis(20));
                }
                finished.fetch_add(1, Relaxed);
            });
            assert_eq!(finished.load(Relaxed), 2);
        }
    }

    #[test]
    fn parts_write_their_own_slices() {
        let mut out = vec![0u64; 1000];
        for _ in 0..20 {
            for_each(out.chunks_mut(250).enumerate(), |(k, chunk)| {
                chunk
                    .iter_mut()
                    .enumerate()
                    .for_each(|(i, v)| *v += (k * 250 + i) as u64);
            });
        }
        assert!(out.iter().enumerate().all(|(i, &v)| v == 20 * i as u64));
    }

    /// Callers on several threads at once, and a part that splits again (the team is busy: it
    /// runs its parts itself): every part still runs once.
    #[test]
    fn concurrent_and_nested_callers_finish() {
        let total = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..200 {
                        for_each(0..3, |_| {
                            for_each(0..2, |_| {
                                total.fetch_add(1, Relaxed);
                            });
                        });
                    }
                });
            }
        });
        assert_eq!(total.load(Relaxed), 4 * 200 * 3 * 2);
    }

    /// A panic in a part reaches the caller, after the other parts have finished, and leaves
    /// the team usable.
    #[test]
    fn a_panicking_part_panics_the_caller_and_the_team_goes_on() {
        for bad in [0, 1] {
            let finished = AtomicUsize::new(0);
            let caught = catch_unwind(AssertUnwindSafe(|| {
                for_each(0..2, |k| {
                    if k == bad {
                        panic!("part {k} fails");
                    }
                    std::thread::sleep(Duration::from_millis(5));
                    finished.fetch_add(1, Relaxed);
                })
            }));
            assert!(caught.is_err());
            assert_eq!(finished.load(Relaxed), 1, "the other part finished first");
        }
        let runs = AtomicUsize::new(0);
        for_each(0..2, |_| {
            runs.fetch_add(1, Relaxed);
        });
        assert_eq!(runs.load(Relaxed), 2);
    }

    /// After the helpers have parked, a job wakes them (and runs whether or not they wake).
    #[test]
    fn a_job_after_the_helpers_parked_runs() {
        for_each(0..2, |_| {});
        std::thread::sleep(SPIN * 4);
        let runs = AtomicUsize::new(0);
        for_each(0..2, |_| {
            runs.fetch_add(1, Relaxed);
        });
        assert_eq!(runs.load(Relaxed), 2);
    }
}
