//! `starling-bench`: the benchmark harness. It seeds a network with the `starling` binary
//! (`admin seed`), starts that binary's server on a free loopback port (or uses one already
//! running on loopback), runs the chosen workloads one after the other, and prints a
//! Markdown table of throughput, latency percentiles, delivery delay and the server's peak
//! memory (and, for the streaming workload, its memory and CPU use as streams open, carry
//! posts and close). It exits with status 1 if seeding or the server fails, or if a
//! workload has more than 1% failed requests (a post missing from a stream counts as one).
//!
//! Seeding and stopping the server block, so they run outside the async runtime, which
//! only carries the load itself.

mod cli;
mod report;
mod server;
mod workload;

use anyhow::{Context, bail};
use clap::{CommandFactory, Parser};
use cli::{Cli, Mode, Plan, Workload};
use report::{Machine, Network, Report};
use server::ServerProcess;
use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;
use url::Url;
use workload::{Load, Tokens};

/// The share of failed requests above which a workload fails the run.
const MAX_ERROR_RATE: f64 = 0.01;

/// Unmeasured home reads before the first workload.
const WARM_UP: std::time::Duration = std::time::Duration::from_secs(3);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let plan = match cli.plan() {
        Ok(plan) => plan,
        Err(e) => Cli::command()
            .error(clap::error::ErrorKind::ValueValidation, format!("{e:#}"))
            .exit(),
    };
    match run(&plan) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Open files the harness needs besides its streams and connections (a margin).
const SPARE_FILES: u64 = 64;

/// Runs the whole benchmark; `Ok(false)` when it ran but a workload failed too often.
fn run(plan: &Plan) -> anyhow::Result<bool> {
    // Each stream is a socket here and one in the server, which inherits this limit; the
    // default limit is often 1,024, so this fails in a second rather than mid-run.
    if plan.workloads.contains(&Workload::Stream)
        && let Some(limit) = server::open_files_limit()
    {
        let needed = (plan.stream_clients + plan.connections) as u64 + SPARE_FILES;
        if needed > limit {
            bail!(
                "--stream-clients {} needs about {needed} open files, more than the limit of \
                 {limit}; raise it (`ulimit -n {needed}`) or open fewer streams",
                plan.stream_clients
            );
        }
    }
    if let Mode::Spawn {
        server_bin,
        data_dir,
        database_url,
        seed,
    } = &plan.mode
    {
        if !server_bin.is_file() {
            bail!(
                "no server binary at {} (build it with `cargo build --release -p starling-server`, or pass --server-bin)",
                server_bin.display()
            );
        }
        if let Some(params) = seed {
            std::fs::create_dir_all(data_dir)
                .with_context(|| format!("cannot create {}", data_dir.display()))?;
            eprintln!(
                "seeding {} accounts ({} active) into {}…",
                params.accounts,
                params.active,
                data_dir.display()
            );
            server::seed(
                server_bin,
                data_dir,
                database_url.as_deref(),
                params,
                &plan.tokens,
            )?;
        }
    }
    // Read before the server starts, so a missing file fails the run in a second.
    let tokens = if plan.workloads.iter().any(|w| w.needs_tokens()) {
        Some(Tokens::load(&plan.tokens)?)
    } else {
        None
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let client = reqwest::Client::builder()
        // A proxy from the environment would take the load off loopback.
        .no_proxy()
        .pool_max_idle_per_host(plan.connections)
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .build()?;

    let mut server = None;
    let base = match &plan.mode {
        Mode::Spawn {
            server_bin,
            data_dir,
            database_url,
            ..
        } => {
            let mut process = ServerProcess::spawn(server_bin, data_dir, database_url.as_deref())?;
            eprintln!("starting the server on {}…", process.base_url);
            runtime.block_on(process.wait_ready(&client, plan.startup_timeout))?;
            let base = process.base_url.clone();
            server = Some(process);
            base
        }
        Mode::Target(url) => url.clone(),
    };
    let network = runtime.block_on(network_size(&client, &base))?;

    let load = Load::new(
        client,
        &base,
        tokens,
        plan,
        server.as_ref().and_then(ServerProcess::pid),
    )?;
    let mut memory_samples = Vec::new();
    let mut server_cpu = Vec::new();
    if plan.workloads.iter().any(|w| w.needs_tokens()) {
        eprintln!(
            "warming up: {:.1} s of home reads, not measured…",
            WARM_UP.as_secs_f64()
        );
        runtime.block_on(load.warm_up(WARM_UP))?;
    }
    let mut rounds = Vec::new();
    for round in 0..plan.rounds {
        if plan.rounds > 1 {
            eprintln!("round {} of {}", round + 1, plan.rounds);
        }
        let mut lines = Vec::new();
        for workload in &plan.workloads {
            if *workload == Workload::Stream {
                eprintln!(
                    "stream: {} streaming clients, twice {:.1} s of posts…",
                    plan.stream_clients,
                    plan.duration.as_secs_f64()
                );
            } else {
                eprintln!(
                    "{}: {:.1} s, {} connections…",
                    workload.name(),
                    plan.duration.as_secs_f64(),
                    plan.connections
                );
            }
            let measured = runtime.block_on(load.run(*workload, round))?;
            for line in &measured.lines {
                eprintln!(
                    "  {}: {} requests, {} errors",
                    line.label, line.recorder.requests, line.recorder.errors
                );
            }
            lines.extend(measured.lines);
            // Samples of later rounds say which round they come from.
            let when = |what: String| match plan.rounds {
                1 => what,
                _ => format!("{what} (round {})", round + 1),
            };
            memory_samples.extend(measured.memory.into_iter().map(|mut m| {
                m.when = when(m.when);
                m
            }));
            server_cpu.extend(measured.cpu.into_iter().map(|mut c| {
                c.during = when(c.during);
                c
            }));
        }
        rounds.push(lines);
    }
    let per_round = report::round_rates(&rounds);
    let lines = workload::pool(rounds)?;

    // VmHWM is a high-water mark, so one reading at the end gives the peak of the run.
    let server_memory = match &server {
        Some(process) => match process.memory() {
            Ok(memory) => Some(memory),
            Err(e) => {
                eprintln!("warning: cannot read the server's memory: {e:#}");
                None
            }
        },
        None => None,
    };
    if let Some(process) = server.take() {
        let status = process.stop()?;
        if !status.success() {
            eprintln!("warning: the server exited with {status}");
        }
    }

    let seeded = match &plan.mode {
        Mode::Spawn { seed, .. } => seed.clone(),
        Mode::Target(_) => None,
    };
    let args: Vec<String> = std::env::args().collect();
    let report = Report {
        rows: report::rows(&lines),
        rounds: per_round,
        server_memory,
        memory_samples,
        server_cpu,
        network: Some(network),
        seeded,
        duration_secs: plan.duration.as_secs_f64(),
        connections: plan.connections,
        stream_clients: plan
            .workloads
            .contains(&Workload::Stream)
            .then_some(plan.stream_clients),
        rng_seed: plan.rng_seed,
        command: report::shell_join(&args),
        machine: Machine::this(),
    };
    // Not `print!`, which panics when stdout is a closed pipe (`| head`).
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(report::markdown(&report).as_bytes())
        .and_then(|()| stdout.flush())
        .context("cannot write the results to stdout")?;
    if let Some(path) = &plan.json {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }

    let mut passed = true;
    for (line, row) in lines.iter().zip(&report.rows) {
        if row.errors == 0 {
            continue;
        }
        eprintln!(
            "{}: {} of {} failed ({:.2}%), first distinct failures:",
            row.workload,
            row.errors,
            row.requests,
            row.error_rate() * 100.0
        );
        for sample in &line.recorder.samples {
            eprintln!("  {sample}");
        }
        if row.error_rate() > MAX_ERROR_RATE {
            passed = false;
        }
    }
    if !passed {
        eprintln!(
            "error: more than {}% of a workload's requests failed",
            MAX_ERROR_RATE * 100.0
        );
    }
    Ok(passed)
}

/// The network's size from `GET /api/v1/instance`; also checks that a `--target` answers.
async fn network_size(client: &reqwest::Client, base: &Url) -> anyhow::Result<Network> {
    #[derive(serde::Deserialize)]
    struct Instance {
        stats: Stats,
    }
    #[derive(serde::Deserialize)]
    struct Stats {
        user_count: u64,
        status_count: u64,
    }
    let url = base.join("api/v1/instance")?;
    let instance: Instance = client
        .get(url.clone())
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .with_context(|| format!("GET {url} failed"))?
        .json()
        .await
        .with_context(|| format!("GET {url} did not return instance stats"))?;
    Ok(Network {
        accounts: instance.stats.user_count,
        posts: instance.stats.status_count,
    })
}
