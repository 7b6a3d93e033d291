//! Tuning of glibc's allocator for a long-running server.
//!
//! glibc gives threads up to eight allocation arenas per core, created as threads contend,
//! and every arena keeps the memory freed into it for reuse by that arena only. The server
//! allocates from the Tokio workers, the blocking pool's threads (the hot reads) and the
//! database driver's threads, so under load it ends up with a dozen arenas, each holding
//! its own share of free memory: on the benchmark network the resident size kept rising
//! from workload to workload (80 MiB after the five HTTP workloads). One arena per core
//! gave 54 MiB for the same run at the same throughput (measured with
//! `MALLOC_ARENA_MAX`; see the README's benchmark section).
//!
//! Rejected: re-executing the binary with `MALLOC_ARENA_MAX` set (a second process start
//! for every command, and surprising in `ps`); another global allocator (mimalloc was
//! faster but used three times the memory, decision 6).

/// Limits glibc to one allocation arena per core, unless `MALLOC_ARENA_MAX` is set (glibc
/// has then applied the operator's choice). Call before the async runtime starts threads.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn limit_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let max = libc::c_int::try_from(cores).unwrap_or(libc::c_int::MAX);
    // SAFETY: `mallopt` only sets one of glibc's allocator tunables; it has no memory
    // preconditions and takes the allocator's own lock.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, max);
    }
}

/// Other C libraries have no such per-thread arenas to limit.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn limit_arenas() {}
