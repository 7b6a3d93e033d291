//! The server under test as a child process: seeding it (`starling admin seed`), starting
//! it (`starling serve`) on a free loopback port, waiting until it answers, reading its
//! memory from `/proc/<pid>/status`, and stopping it with SIGTERM.
//!
//! Signals go through `kill -TERM <pid>` rather than `libc::kill`, because the workspace
//! forbids `unsafe` and SIGTERM (not `Child::kill`'s SIGKILL) lets the server shut down
//! gracefully, the way an operator would stop it.

use crate::cli::SeedParams;
use anyhow::{Context, bail};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use url::Url;

/// How long a SIGTERMed server may take to drain before it gets SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(30);

/// Runs `<server_bin> admin seed …`, with stderr inherited so its progress bar shows.
///
/// Blocking: call it before the async runtime starts, or from `spawn_blocking`.
pub fn seed(
    server_bin: &Path,
    data_dir: &Path,
    database_url: Option<&str>,
    params: &SeedParams,
    tokens_out: &Path,
) -> anyhow::Result<()> {
    let mut cmd = Command::new(server_bin);
    cmd.args(["admin", "seed", "--data-dir"]).arg(data_dir);
    if let Some(url) = database_url {
        cmd.args(["--database-url", url]);
    }
    for (flag, value) in [
        ("--accounts", params.accounts),
        ("--active", params.active),
        ("--follows-min", params.follows_min),
        ("--follows-max", params.follows_max),
        ("--posts-per-active", params.posts_per_active),
        ("--filler-posts", params.filler_posts),
        ("--group-members", params.group_members),
    ] {
        cmd.arg(flag).arg(value.to_string());
    }
    cmd.arg("--tokens-out").arg(tokens_out);
    // Our stdout carries only the results table, so the child's goes to our stderr.
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(std::io::stderr()))
        .stderr(Stdio::inherit());
    let status = cmd
        .status()
        .with_context(|| format!("cannot run {}", server_bin.display()))?;
    if !status.success() {
        bail!(
            "seeding failed ({status}); it needs an empty database: delete {} (or drop the \
             database), or pass --no-seed to reuse an earlier run's network",
            data_dir.display()
        );
    }
    Ok(())
}

/// A free TCP port on 127.0.0.1, found by binding port 0 and releasing it.
///
/// Another process could take it before the server binds it; the server then fails to
/// start and the run stops with that error, which is rare enough not to retry.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("cannot bind a port")?;
    Ok(listener.local_addr()?.port())
}

/// The server's memory, from `/proc/<pid>/status`, in kibibytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Memory {
    /// `VmHWM`: the peak resident set size since the process started.
    pub peak_rss_kib: Option<u64>,
    /// `VmRSS`: the resident set size now.
    pub rss_kib: Option<u64>,
}

/// Extracts `VmHWM` and `VmRSS` from the text of `/proc/<pid>/status`.
pub fn parse_proc_status(text: &str) -> Memory {
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
    };
    Memory {
        peak_rss_kib: field("VmHWM"),
        rss_kib: field("VmRSS"),
    }
}

/// Reads the memory of process `pid` from `/proc/<pid>/status`.
pub fn memory_of(pid: u32) -> anyhow::Result<Memory> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    Ok(parse_proc_status(&text))
}

/// The kernel's clock ticks per second in `/proc/<pid>/stat` (`USER_HZ`, part of Linux's
/// ABI: 100 on every architecture Rust's standard library supports).
const USER_HZ: u64 = 100;

/// The CPU time (user and system, all threads, exited ones included) process `pid` has
/// used so far, from `/proc/<pid>/stat`.
pub fn cpu_time_of(pid: u32) -> anyhow::Result<Duration> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    parse_cpu_time(&text).with_context(|| format!("{path} has no CPU times"))
}

/// `utime + stime` of a `/proc/<pid>/stat` text.
fn parse_cpu_time(stat: &str) -> Option<Duration> {
    // The command name (field 2) is in parentheses and may contain spaces; utime and
    // stime are fields 14 and 15, the 12th and 13th after it.
    let mut fields = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 1000 / USER_HZ))
}

/// How many files (sockets included) process `pid` has open, from `/proc/<pid>/fd`: the
/// way to see that the server really let go of connections the harness closed.
pub fn open_files_of(pid: u32) -> anyhow::Result<usize> {
    let path = format!("/proc/{pid}/fd");
    let entries = std::fs::read_dir(&path).with_context(|| format!("cannot list {path}"))?;
    Ok(entries.count())
}

/// The soft limit on this process's open files (`ulimit -n`), from `/proc/self/limits`;
/// `None` when unknown or unlimited.
pub fn open_files_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_open_files_limit(&text)
}

/// The soft `Max open files` of a `/proc/<pid>/limits` text.
fn parse_open_files_limit(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix("Max open files"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// A running `starling serve`; dropping it stops the server, so an early error never
/// leaves it behind.
pub struct ServerProcess {
    child: Option<Child>,
    /// Where it listens, e.g. `http://127.0.0.1:40123/`.
    pub base_url: Url,
}

impl ServerProcess {
    /// Starts `<server_bin> serve` on a free loopback port, logging only warnings and with
    /// the sign-in rate limit off (the harness signs in nobody, but must not be throttled).
    pub fn spawn(
        server_bin: &Path,
        data_dir: &Path,
        database_url: Option<&str>,
    ) -> anyhow::Result<Self> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()?));
        let mut cmd = Command::new(server_bin);
        cmd.arg("serve")
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--data-dir")
            .arg(data_dir);
        if let Some(url) = database_url {
            cmd.args(["--database-url", url]);
        }
        cmd.env("RUST_LOG", "warn")
            .env("STARLING_SIGN_IN_ATTEMPTS_PER_MINUTE", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::from(std::io::stderr()))
            .stderr(Stdio::inherit());
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", server_bin.display()))?;
        let base_url = Url::parse(&format!("http://{addr}/"))?;
        Ok(Self {
            child: Some(child),
            base_url,
        })
    }

    /// The server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Waits until `GET /api/v1/instance` answers 200, failing early if the server exits.
    pub async fn wait_ready(
        &mut self,
        client: &reqwest::Client,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let url = self.base_url.join("api/v1/instance")?;
        let started = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                self.child = None;
                bail!("the server exited during start-up ({status}); see its log above");
            }
            let answer = client
                .get(url.clone())
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if let Ok(response) = answer
                && response.status().is_success()
            {
                return Ok(());
            }
            if started.elapsed() > timeout {
                bail!(
                    "the server did not answer GET {url} within {} s",
                    timeout.as_secs()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Reads the server's current and peak memory.
    pub fn memory(&self) -> anyhow::Result<Memory> {
        memory_of(self.pid().context("the server is not running")?)
    }

    /// Sends SIGTERM and waits for the server to exit (SIGKILL after [`STOP_GRACE`]).
    ///
    /// Blocking: call it after the load has finished.
    pub fn stop(mut self) -> anyhow::Result<ExitStatus> {
        let child = self.child.take().context("the server is not running")?;
        terminate(child)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(child) = self.child.take()
            && let Err(e) = terminate(child)
        {
            eprintln!("warning: stopping the server: {e:#}");
        }
    }
}

fn terminate(mut child: Child) -> anyhow::Result<ExitStatus> {
    if let Some(status) = child.try_wait()? {
        return Ok(status);
    }
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    if !matches!(sent, Ok(s) if s.success()) {
        eprintln!(
            "warning: `kill -TERM {}` failed; sending SIGKILL",
            child.id()
        );
        child.kill()?;
        return Ok(child.wait()?);
    }
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if started.elapsed() > STOP_GRACE {
            eprintln!(
                "warning: the server ignored SIGTERM for {} s; sending SIGKILL",
                STOP_GRACE.as_secs()
            );
            child.kill()?;
            return Ok(child.wait()?);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_peak_and_current_rss() {
        let status =
            "Name:\tstarling\nVmPeak:\t  999 kB\nVmHWM:\t   51234 kB\nVmRSS:\t   40960 kB\n";
        assert_eq!(
            parse_proc_status(status),
            Memory {
                peak_rss_kib: Some(51234),
                rss_kib: Some(40960)
            }
        );
        assert_eq!(parse_proc_status("Name: x\n"), Memory::default());
    }

    #[test]
    fn reads_cpu_times() {
        let stat = "4242 (star ling) S 1 4242 4242 0 -1 4194560 5000 0 0 0 250 125 0 0 20 0 9 0";
        assert_eq!(parse_cpu_time(stat), Some(Duration::from_millis(3750)));
        assert_eq!(parse_cpu_time("4242 (x) S 1"), None);
        assert!(cpu_time_of(std::process::id()).is_ok());
    }

    #[test]
    fn reads_the_soft_open_files_limit() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max processes             63324                63324                processes \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(parse_open_files_limit(limits), Some(1024));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(parse_open_files_limit(unlimited), None);
        assert!(open_files_limit().is_some_and(|n| n > 0));
        let me = std::process::id();
        assert!(open_files_of(me).is_ok_and(|n| n > 0));
    }
}
