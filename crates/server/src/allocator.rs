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
