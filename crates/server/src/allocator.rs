//! Tuning of glibc's allocator for a long-running server.
//!
//! glibc gives threads up to eight allocation arenas per core, created as threads contend,
//! and every arena keeps the memory freed into it for reuse by that arena only. The server
//! allocated from the Tokio workers, the blocking pool's threads (where the hot reads ran
//! then) and the database driver's threads, so under load it ended up with a dozen arenas, each holding
//! its own share of free memory: on the benchmark network the resident size kept rising
//! from workload to workload (80 MiB after the five HTTP workloads). One arena per core
//! gave 54 MiB for the same run at the same throughput (measured with
//! `MALLOC_ARENA_MAX`; see the README's benchmark section).
//!
//! glibc also raises its threshold for serving a large block by `mmap` each time such a
//! block is freed, so after the first password hash (argon2 takes a 19 MiB block) every
//! later one was carved from an arena and stayed there: a burst of 64 sign-ins took the
//! resident size to 233 MiB, 98 MiB after. A fixed 4 MiB threshold keeps large blocks
//! mapped and returned on free: 77 MiB at the peak of the same burst, 44 MiB after.
//!
//! Rejected: re-executing the binary with `MALLOC_ARENA_MAX` set (a second process start
//! for every command, and surprising in `ps`); another global allocator (mimalloc was
//! faster but used three times the memory, decision 6).

/// Blocks at least this large are always mapped on their own and returned when freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 4 << 20;

/// Limits glibc to one allocation arena per core and fixes its mmap and trim thresholds,
/// each unless set by the operator (`MALLOC_ARENA_MAX`, `MALLOC_MMAP_THRESHOLD_`,
/// `MALLOC_TRIM_THRESHOLD_`: glibc has then applied their choice). Call before the async runtime starts threads.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn tune() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        mallopt(
            libc::M_ARENA_MAX,
            libc::c_int::try_from(cores).unwrap_or(libc::c_int::MAX),
        );
    }
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
        mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
    // Fixing the mmap threshold also stops glibc raising its trim threshold with it;
    // left at its 128 KiB default, the heap was shrunk and grown again on every burst of
    // frees (home reads cost 0.96 ms of CPU each instead of 0.59). Twice the mmap
    // threshold is what glibc's own adjustment would have set.
    if std::env::var_os("MALLOC_TRIM_THRESHOLD_").is_none() {
        mallopt(libc::M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD);
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn mallopt(param: libc::c_int, value: libc::c_int) {
    // SAFETY: `mallopt` only sets one of glibc's allocator tunables; it has no memory
    // preconditions and takes the allocator's own lock.
    unsafe {
        libc::mallopt(param, value);
    }
}

/// Other C libraries have no such arenas or thresholds to set.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn tune() {}

/// How often the server hands the allocator's free memory back to the OS.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Starts a thread that hands glibc's free memory back to the OS every [`TRIM_EVERY`]
/// (`malloc_trim`), for a long-running server.
///
/// Why: glibc returns memory on its own only from the top of a heap. After 1,000
/// streaming clients disconnected, the ~20 MiB their connections had used stayed resident,
/// free but between chunks still in use, so the server's resident size never came back
/// down from a burst (and a later burst of sign-ins, 19 MiB each for argon2, stacked on
/// it). `malloc_trim` releases every whole free page inside the heaps; it walks them under
/// each arena's lock, which takes well under a millisecond at this size.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn trim_periodically() {
    let spawned = std::thread::Builder::new()
        .name("malloc-trim".into())
        .spawn(|| {
            loop {
                std::thread::sleep(TRIM_EVERY);
                trim();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the allocator's trim thread");
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn trim() {
    // SAFETY: `malloc_trim` only returns free pages of glibc's heaps to the OS, under the
    // allocator's own locks; it has no memory preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Other C libraries return memory their own way.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn trim_periodically() {}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    #![allow(clippy::unwrap_used)] // Tests fail by panicking.

    /// This process's resident anonymous memory, in KiB.
    fn rss_anon_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("RssAnon:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// Memory freed between blocks still in use (what closed connections leave) goes back
    /// to the OS once trimmed; glibc alone keeps it.
    #[test]
    fn trimming_returns_memory_freed_inside_the_heap() {
        // 64 MiB of 1 KiB blocks, touched so that they are resident, and a block after
        // them that stays: the heap cannot shrink from its top.
        let mut blocks: Vec<Vec<u8>> = (0..65_536).map(|_| vec![1u8; 1024]).collect();
        let fence = vec![1u8; 1024];
        blocks.clear();
        blocks.shrink_to_fit();
        let freed = rss_anon_kib();
        super::trim();
        let trimmed = rss_anon_kib();
        assert!(
            freed.saturating_sub(trimmed) > 32 * 1024,
            "RssAnon {freed} KiB before the trim, {trimmed} KiB after"
        );
        drop(fence);
    }
}
