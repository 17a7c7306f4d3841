//! What keeps one client from starving the others: a memory budget shared by every request
//! body in flight, a bounded scoring pool separate from the HTTP workers for large requests
//! (so `/healthz`, `/readyz` and `/metrics` answer within milliseconds under any scoring
//! load), and the connection cap derived from the descriptor limit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Bytes of request bodies held in memory across all connections, against a fixed budget.
/// A body reserves its bytes before they are read (its declared length up front, or chunk by
/// chunk); a reservation that would pass the budget is refused, and the request is answered
/// 503 without reading more. Bodies over [`SMALL_BODY`] may fill only three quarters of the
/// budget, so a flood of large uploads cannot lock out ordinary small requests.
#[derive(Debug)]
pub struct BodyBudget {
    limit: usize,
    used: AtomicUsize,
    /// The most held at once since freed memory was last given back (see the `Drop` of
    /// [`Reservation`]).
    peak: AtomicUsize,
}

/// Bodies up to this size may use the whole [`BodyBudget`]; larger ones three quarters.
pub const SMALL_BODY: usize = 64 << 10;

/// Bytes reserved from a [`BodyBudget`]; given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<BodyBudget>,
    bytes: usize,
}

impl BodyBudget {
    pub fn new(limit: usize) -> Arc<BodyBudget> {
        Arc::new(BodyBudget {
            limit,
            used: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        })
    }

    /// An empty reservation, to grow with [`Reservation::grow`].
    pub fn empty(self: &Arc<Self>) -> Reservation {
        Reservation {
            budget: self.clone(),
            bytes: 0,
        }
    }

    /// Bytes held now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// The budget.
    pub fn limit(&self) -> usize {
        self.limit
    }

    fn try_add(&self, n: usize, large: bool) -> bool {
        let limit = if large {
            self.limit - self.limit / 4
        } else {
            self.limit
        };
        let mut cur = self.used.load(Ordering::Relaxed);
        loop {
            let Some(next) = cur.checked_add(n).filter(|v| *v <= limit) else {
                return false;
            };
            match self
                .used
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    self.peak.fetch_max(next, Ordering::Relaxed);
                    return true;
                }
                Err(actual) => cur = actual,
            }
        }
    }
}

impl Reservation {
    /// Reserves `n` more bytes; false (and nothing reserved) when the budget is spent.
    pub fn grow(&mut self, n: usize) -> bool {
        if self.budget.try_add(n, self.bytes + n > SMALL_BODY) {
            self.bytes += n;
            true
        } else {
            false
        }
    }

    /// Makes sure at least `total` bytes are reserved.
    pub fn ensure(&mut self, total: usize) -> bool {
        total <= self.bytes || self.grow(total - self.bytes)
    }

    /// Bytes reserved.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// When the last body of a burst that held at least this much is dropped, freed memory is
/// given back to the operating system.
const TRIM_AFTER_PEAK: usize = 8 << 20;

impl Drop for Reservation {
    fn drop(&mut self) {
        let before = self.budget.used.fetch_sub(self.bytes, Ordering::AcqRel);
        let b = &self.budget;
        if self.bytes > 0
            && before == self.bytes
            && b.peak.load(Ordering::Relaxed) >= TRIM_AFTER_PEAK
            && b.peak.swap(0, Ordering::Relaxed) >= TRIM_AFTER_PEAK
        {
            release_free_memory();
        }
    }
}

/// Gives freed heap memory back to the operating system (glibc keeps freed chunks of its
/// arenas otherwise, so RSS stayed at the peak of an upload burst long after it ended).
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Bodies up to this size are scored on the HTTP worker that read them (about 130 customers
/// by features; `benches/http_load.sh` scores 100 of them in about 5 ms at 32 connections);
/// larger ones go to the [`ScoringPool`].
pub const INLINE_BODY: usize = 32 << 10;

/// Why the scoring pool refused a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolRefusal {
    /// Every thread is busy and the queue is full.
    Full,
    /// The pool has shut down (the server is stopping).
    Closed,
    /// The job panicked (a bug); the pool keeps running.
    Panicked,
}

/// Threads that run scoring jobs (JSON parsing, features, distances, the response body), so
/// the HTTP workers only move bytes and answer health checks. At most `threads + queue` jobs
/// are admitted at once; the next is refused at once rather than waiting.
pub struct ScoringPool {
    pool: rayon::ThreadPool,
    admitted: Arc<AtomicUsize>,
    limit: usize,
}

/// Returns a job's admission slot when it ends, however it ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl ScoringPool {
    /// A pool of `threads` threads (0 = one per core) admitting `queue` waiting jobs.
    pub fn new(threads: usize, queue: usize) -> std::io::Result<ScoringPool> {
        let threads = if threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            threads
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("custseg-score-{i}"))
            .build()
            .map_err(std::io::Error::other)?;
        Ok(ScoringPool {
            pool,
            admitted: Arc::new(AtomicUsize::new(0)),
            limit: threads + queue,
        })
    }

    /// Jobs running or waiting now.
    pub fn admitted(&self) -> usize {
        self.admitted.load(Ordering::Relaxed)
    }

    /// Threads plus queue places.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Runs `job` on the pool and waits for it without blocking the caller's thread.
    pub async fn run<T, F>(&self, job: F) -> Result<T, PoolRefusal>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let prev = self.admitted.fetch_add(1, Ordering::AcqRel);
        let slot = Slot(self.admitted.clone());
        if prev >= self.limit {
            return Err(PoolRefusal::Full);
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.pool.spawn(move || {
            // A panicking job must not take the pool down (rayon aborts on a panic).
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            // The slot is free once the work is done, before the caller hears of it.
            drop(slot);
            let _ = tx.send(result.map_err(|_| PoolRefusal::Panicked));
        });
        rx.await.map_err(|_| PoolRefusal::Closed)?
    }
}

/// Descriptors kept free of connections: model files, the store's lock, logs, the listener.
pub const RESERVED_DESCRIPTORS: u64 = 64;

/// Connections the health listener accepts (they come out of the main listener's share).
pub const HEALTH_CONNECTIONS: usize = 32;

/// The default connection cap: the soft `RLIMIT_NOFILE` less [`RESERVED_DESCRIPTORS`], at
/// least 16 (`None` when the limit cannot be read).
pub fn connections_from_rlimit() -> Option<usize> {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct it is given and nothing else.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
            return None;
        }
        #[allow(clippy::useless_conversion)] // rlim_t is not u64 on every unix
        let soft = u64::try_from(lim.rlim_cur).unwrap_or(u64::MAX);
        Some(cap_for_descriptors(soft))
    }
    #[cfg(not(unix))]
    None
}

/// The connection cap for a descriptor limit.
pub fn cap_for_descriptors(limit: u64) -> usize {
    let cap = limit.saturating_sub(RESERVED_DESCRIPTORS).max(16);
    usize::try_from(cap).unwrap_or(usize::MAX).min(1 << 20)
}

/// Per-worker connection limit for a total cap (actix counts connections per worker).
pub fn per_worker(cap: usize, workers: usize) -> usize {
    cap.div_ceil(workers.max(1)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_refuses_past_its_limit_and_frees_on_drop() {
        let b = BodyBudget::new(100);
        let mut r1 = b.empty();
        assert!(r1.grow(60));
        let mut r2 = b.empty();
        assert!(!r2.grow(41), "60 + 41 passes a budget of 100");
        assert_eq!(r2.bytes(), 0, "a refused reservation holds nothing");
        assert!(r2.grow(40));
        assert_eq!(b.used(), 100);
        drop(r1);
        assert_eq!(b.used(), 40);
        assert!(r2.ensure(30), "already holds 40");
        assert!(r2.ensure(90));
        assert_eq!(b.used(), 90);
        drop(r2);
        assert_eq!(b.used(), 0);
        assert_eq!(b.peak.load(Ordering::Relaxed), 100, "the most held at once");
    }

    #[test]
    fn large_bodies_leave_a_quarter_of_the_budget_to_small_ones() {
        let b = BodyBudget::new(4 * SMALL_BODY);
        let mut large = b.empty();
        assert!(large.grow(3 * SMALL_BODY), "three quarters");
        let mut more = b.empty();
        assert!(
            !more.grow(SMALL_BODY + 1),
            "a large body may not take the last quarter"
        );
        assert!(more.grow(SMALL_BODY), "a small one may");
        assert_eq!(b.used(), 4 * SMALL_BODY);
    }

    #[test]
    fn connection_cap_leaves_descriptors_free() {
        assert_eq!(cap_for_descriptors(1024), 960);
        assert_eq!(cap_for_descriptors(40), 16, "never below 16");
        assert_eq!(cap_for_descriptors(u64::MAX), 1 << 20);
        assert_eq!(per_worker(960, 2), 480);
        assert_eq!(per_worker(961, 2), 481);
        assert_eq!(per_worker(5, 0), 5);
        assert!(connections_from_rlimit().is_some_and(|c| c >= 16));
    }

    #[test]
    fn pool_refuses_beyond_threads_plus_queue() {
        let pool = ScoringPool::new(1, 1).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let go_rx = Arc::new(std::sync::Mutex::new(go_rx));
        rt.block_on(async {
            let wait = |rx: Arc<std::sync::Mutex<std::sync::mpsc::Receiver<()>>>| {
                move || {
                    let _ = rx.lock().unwrap().recv();
                    7
                }
            };
            let a = pool.run(wait(go_rx.clone()));
            let b = pool.run(wait(go_rx.clone()));
            let c = pool.run(|| 9);
            // Poll all three: a runs, b waits in the queue, c is refused at once.
            let (ra, rb, rc) = futures_util::future::join3(a, b, async {
                let r = c.await;
                go_tx.send(()).unwrap();
                go_tx.send(()).unwrap();
                r
            })
            .await;
            assert_eq!(rc, Err(PoolRefusal::Full));
            assert_eq!((ra, rb), (Ok(7), Ok(7)));
            let boom = pool.run(|| -> i32 { panic!("a bug") }).await;
            assert_eq!(boom, Err(PoolRefusal::Panicked));
        });
        assert_eq!(pool.admitted(), 0, "every slot is given back");
        let r = rt.block_on(pool.run(|| 5));
        assert_eq!(r, Ok(5));
    }
}
