//! The `starling` binary: parses the command line, sets up logging to stderr, runs the
//! command, and turns a failure into one `error: …` line on stderr and exit status 1.

use clap::Parser;
use starling_server::cli::{Cli, Command};
use starling_server::commands::{execute, report};
use std::io::IsTerminal;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    // Before the runtime starts its threads, so that none of them gets an extra arena.
    starling_server::allocator::tune();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run())
}

/// Parses the command line and runs the command on the runtime.
async fn run() -> ExitCode {
    let cli = Cli::parse();
    // `serve` narrates start-up and shutdown at `info`; admin commands stay quiet except
    // for warnings, so their stdout is only their result. `RUST_LOG` overrides both. Bulk seeding runs statements over sqlx's slow-query threshold by design, so those warnings are off for admin commands.
    let default_level = match cli.command {
        Command::Serve(_) => "info",
        Command::Admin(_) => "warn,sqlx::query=error",
    };
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not in log files or CI output.
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let mut stdout = std::io::stdout();
    match execute(cli.command, &mut stdout).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", report(&e));
            ExitCode::FAILURE
        }
    }
}
