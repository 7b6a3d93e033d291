//! The command line of `starling-bench` (clap derive) and its resolution into a [`Plan`]:
//! which server to load (one this process seeds and starts, or one already running on
//! loopback), how big a network to seed, and which workloads to run for how long.
//!
//! The seeding and load options are `Option`s rather than clap defaults so that `--smoke`
//! can supply a second set of defaults while an explicit flag still wins over either.

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use std::net::{IpAddr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;
use url::{Host, Url};

/// Name of the tokens file inside the data dir when `--tokens` is not given.
pub const DEFAULT_TOKENS_FILE: &str = "bench-tokens.json";

const EXAMPLES: &str = "\
Examples:
  # Full run: 1,000,000 accounts (one of them followed by all 10,000 active ones) and
  # 1,000,000+ posts; seeding takes a while and needs an empty data dir.
  cargo build --release -p starling-server
  cargo run --release -p starling-bench -- \\
      --server-bin target/release/starling --data-dir target/bench-data

  # Smoke run: a 10,000-account network and 2 s per workload, to check the harness.
  cargo run --release -p starling-bench -- \\
      --server-bin target/release/starling --data-dir target/bench-smoke --smoke

  # Re-run the read workloads on the network seeded above, results also as JSON.
  cargo run --release -p starling-bench -- --server-bin target/release/starling \\
      --data-dir target/bench-data --no-seed --workloads instance,home,celebrity \\
      --json target/bench.json

  # Three rounds of the read workloads: each round's rate, and their median.
  cargo run --release -p starling-bench -- --server-bin target/release/starling \\
      --data-dir target/bench-data --no-seed --workloads instance,home --rounds 3

  # Only the delivery to 1,000 streaming clients, on the network seeded above (each
  # client is a socket on both sides: --stream-clients must fit in `ulimit -n`).
  cargo run --release -p starling-bench -- --server-bin target/release/starling \\
      --data-dir target/bench-data --no-seed --workloads stream --stream-clients 1000

  # An already running server (loopback only), with the tokens file of its seeding.
  cargo run --release -p starling-bench -- --target http://127.0.0.1:8080 \\
      --tokens target/bench-data/bench-tokens.json

Exit status: 1 if seeding fails, the server fails to start, or a workload has more than
1% failed requests (its first distinct failures are printed on stderr).

The load generator runs on the same machine as the server and competes with it for the
CPU; the `instance` workload measures that machine's ceiling, and every other throughput
is also given as a ratio to it. The table on stdout is Markdown, ready for README.md.";

const SEED_HEADING: &str = "Seeding (defaults: full run / --smoke)";
const LOAD_HEADING: &str = "Load (defaults: full run / --smoke)";

/// Benchmark harness for Starling: seeds a network with one account followed by every
/// active user, starts the server, drives it over HTTP with several workloads and prints
/// throughput, latency percentiles, delivery delay and the server's peak memory.
#[derive(Debug, Parser)]
#[command(name = "starling-bench", version, after_help = EXAMPLES)]
pub struct Cli {
    /// The `starling` binary, used both to seed (`admin seed`) and as the server under test
    /// (`serve`); build it with `cargo build --release -p starling-server`.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "target/release/starling",
        conflicts_with = "target"
    )]
    pub server_bin: PathBuf,

    /// Data folder of the server under test (its SQLite database, and the tokens file
    /// unless `--tokens` says otherwise); seeding needs a fresh or empty one.
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "target",
        conflicts_with = "target"
    )]
    pub data_dir: Option<PathBuf>,

    /// Database of the server under test (`sqlite://PATH` or `postgres://USER@HOST/DB`),
    /// passed to both seeding and `serve`; by default the SQLite database in the data dir.
    #[arg(long, value_name = "URL", conflicts_with = "target")]
    pub database_url: Option<String>,

    /// Skip seeding and reuse the network (and tokens file) of an earlier run in the same
    /// data dir or database.
    #[arg(long)]
    pub no_seed: bool,

    /// Load an already running server at this URL instead of starting one; its host must
    /// be a loopback address (127.0.0.0/8, ::1 or localhost) and no seeding is done.
    #[arg(long, value_name = "URL", value_parser = parse_target)]
    pub target: Option<Url>,

    /// JSON file with the accounts and tokens written by seeding (needed by every workload
    /// but `instance`) [default: <data dir>/bench-tokens.json].
    #[arg(long, value_name = "FILE")]
    pub tokens: Option<PathBuf>,

    /// Total number of accounts to create [default: 1000000 / 10000].
    #[arg(long, value_name = "N", help_heading = SEED_HEADING)]
    pub accounts: Option<u64>,

    /// Number of active accounts, the ones the workloads act as; each follows the
    /// celebrity account [default: 10000 / 1000].
    #[arg(long, value_name = "N", help_heading = SEED_HEADING)]
    pub active: Option<u64>,

    /// Fewest other active accounts each active account follows [default: 50 / 20].
    #[arg(long, value_name = "N", help_heading = SEED_HEADING)]
    pub follows_min: Option<u64>,

    /// Most other active accounts each active account follows [default: 500 / 100].
    #[arg(long, value_name = "N", help_heading = SEED_HEADING)]
    pub follows_max: Option<u64>,

    /// Posts written by each active account before the run [default: 20 / 5].
    #[arg(long, value_name = "N", help_heading = SEED_HEADING)]
    pub posts_per_active: Option<u64>,

    /// Posts spread over the passive accounts, so the database is as big as a real one
    /// [default: 1000000 / 10000].
    #[arg(long, value_name = "N", help_heading = SEED_HEADING)]
    pub filler_posts: Option<u64>,

    /// Members of the all-company group the celebrity owns; the active accounts are
    /// members first [default: 100000 / 2000].
    #[arg(long, value_name = "N", help_heading = SEED_HEADING)]
    pub group_members: Option<u64>,

    /// Use the small network and short runs meant to check the harness, not to measure.
    #[arg(long, help_heading = LOAD_HEADING)]
    pub smoke: bool,

    /// Which workloads to run, comma-separated, in this order [default: all of
    /// instance,home,post,mixed,celebrity,group,stream].
    #[arg(long, value_name = "LIST", value_delimiter = ',', help_heading = LOAD_HEADING)]
    pub workloads: Vec<Workload>,

    /// Seconds each workload runs (fractions allowed) [default: 10 / 2].
    #[arg(long, value_name = "SECONDS", help_heading = LOAD_HEADING)]
    pub duration: Option<f64>,

    /// Concurrent keep-alive HTTP/1.1 connections, one request in flight on each
    /// [default: 64 / 16].
    #[arg(long, value_name = "N", help_heading = LOAD_HEADING)]
    pub connections: Option<usize>,

    /// Streaming clients the `stream` workload connects, each signed in as a different
    /// active account (from the first again if there are fewer) [default: 1000 / 100].
    #[arg(long, value_name = "N", help_heading = LOAD_HEADING)]
    pub stream_clients: Option<usize>,

    /// Times the whole list of workloads runs, one round after another on the same server.
    /// The main table pools the rounds; a second one gives each round's throughput and
    /// their median, since a machine's speed can drift between minutes.
    #[arg(long, value_name = "N", default_value_t = 1, help_heading = LOAD_HEADING)]
    pub rounds: u32,

    /// Seed of the random choices (users, texts, read/post mix), for repeatable runs
    /// [default: random].
    #[arg(long, value_name = "N", help_heading = LOAD_HEADING)]
    pub rng_seed: Option<u64>,

    /// Seconds to wait for the started server to answer `GET /api/v1/instance`.
    #[arg(long, value_name = "SECONDS", default_value_t = 300, help_heading = LOAD_HEADING)]
    pub startup_timeout: u64,

    /// Also write the results as JSON to this file.
    #[arg(long, value_name = "FILE", help_heading = LOAD_HEADING)]
    pub json: Option<PathBuf>,
}

/// One kind of load; see `--help` for what each sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// `GET /api/v1/instance`, anonymous: the machine's HTTP ceiling.
    Instance,
    /// `GET /api/v1/timelines/home?limit=20` as a random active user.
    Home,
    /// `POST /api/v1/statuses` as a random active user.
    Post,
    /// 60 home reads to 1 post, chosen at random per request.
    Mixed,
    /// All connections but one read home timelines while on the last one the celebrity
    /// posts every 200 ms; reports that post's latency and its delivery delay to a random
    /// follower's home timeline (polled every 10 ms, a failure after 5 s).
    Celebrity,
    /// Like `celebrity`, but the celebrity posts in the all-company group (fanned out to
    /// nobody, merged into members' homes on read); delivery is to a random member.
    Group,
    /// The celebrity posts every 200 ms, first with no streaming client, then with
    /// `--stream-clients` Server-Sent Events streams (`/api/v1/streaming/user`) open as
    /// active accounts, which all follow it; reports the post latency both ways, the time
    /// to open a stream, each post's delay from just before its POST to its `update`
    /// event on every stream (missing after 5 s: an error; req/s is events delivered
    /// per second) and the server's RSS as it goes.
    Stream,
    /// The web UI: one connection's worth of active accounts sign in through the form
    /// (`GET` then `POST /sign-in`, anti-forgery cookie and field, the seeded password),
    /// then `GET /home` (the whole HTML page) with a random one's session cookie; reports
    /// the sign-ins (`web: sign-in`) and the page (`web`).
    Web,
}

impl Workload {
    /// Every workload, in the default order (the ceiling first).
    pub const ALL: [Workload; 8] = [
        Workload::Instance,
        Workload::Home,
        Workload::Post,
        Workload::Mixed,
        Workload::Celebrity,
        Workload::Group,
        Workload::Web,
        Workload::Stream,
    ];

    /// The name used on the command line and in the results.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Instance => "instance",
            Workload::Home => "home",
            Workload::Post => "post",
            Workload::Mixed => "mixed",
            Workload::Celebrity => "celebrity",
            Workload::Group => "group",
            Workload::Stream => "stream",
            Workload::Web => "web",
        }
    }

    /// Whether it acts as seeded users, so it needs the tokens file.
    pub fn needs_tokens(self) -> bool {
        self != Workload::Instance
    }
}

/// The network `admin seed` creates; field names match its flags.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SeedParams {
    /// `--accounts`.
    pub accounts: u64,
    /// `--active`.
    pub active: u64,
    /// `--follows-min`.
    pub follows_min: u64,
    /// `--follows-max`.
    pub follows_max: u64,
    /// `--posts-per-active`.
    pub posts_per_active: u64,
    /// `--filler-posts`.
    pub filler_posts: u64,
    /// `--group-members`.
    pub group_members: u64,
}

/// Where the load goes.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Start `server_bin serve` on a free loopback port, seeding first when `seed` is set.
    Spawn {
        /// The `starling` binary.
        server_bin: PathBuf,
        /// Its data dir.
        data_dir: PathBuf,
        /// Its database, when not the default SQLite file in `data_dir`.
        database_url: Option<String>,
        /// The network to create first, or `None` with `--no-seed`.
        seed: Option<SeedParams>,
    },
    /// An already running server on loopback.
    Target(Url),
}

/// Everything a run needs, with the `--smoke` or full defaults applied.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Where the load goes.
    pub mode: Mode,
    /// The tokens file (read, or written by seeding).
    pub tokens: PathBuf,
    /// The workloads, in order, without repeats.
    pub workloads: Vec<Workload>,
    /// How long each workload runs.
    pub duration: Duration,
    /// How many times the list of workloads runs.
    pub rounds: u32,
    /// Concurrent connections.
    pub connections: usize,
    /// Streaming clients of the `stream` workload.
    pub stream_clients: usize,
    /// Seed of the random choices; drawn at random when not given, and reported.
    pub rng_seed: u64,
    /// How long to wait for the started server.
    pub startup_timeout: Duration,
    /// Where to write the JSON results.
    pub json: Option<PathBuf>,
}

impl Cli {
    /// Applies the defaults and checks the options that clap cannot check alone.
    pub fn plan(&self) -> anyhow::Result<Plan> {
        let pick = |given: Option<u64>, full: u64, smoke: u64| {
            given.unwrap_or(if self.smoke { smoke } else { full })
        };
        let seed = SeedParams {
            accounts: pick(self.accounts, 1_000_000, 10_000),
            active: pick(self.active, 10_000, 1_000),
            follows_min: pick(self.follows_min, 50, 20),
            follows_max: pick(self.follows_max, 500, 100),
            posts_per_active: pick(self.posts_per_active, 20, 5),
            filler_posts: pick(self.filler_posts, 1_000_000, 10_000),
            group_members: pick(self.group_members, 100_000, 2_000),
        };
        if seed.follows_min > seed.follows_max {
            bail!(
                "--follows-min ({}) is more than --follows-max ({})",
                seed.follows_min,
                seed.follows_max
            );
        }
        if seed.active == 0 || seed.active >= seed.accounts {
            bail!(
                "--active ({}) must be at least 1 and less than --accounts ({}), which also counts the celebrity",
                seed.active,
                seed.accounts
            );
        }
        let duration_secs = self.duration.unwrap_or(if self.smoke { 2.0 } else { 10.0 });
        let duration = Duration::try_from_secs_f64(duration_secs)
            .ok()
            .filter(|d| !d.is_zero())
            .with_context(|| {
                format!("--duration {duration_secs} is not a positive number of seconds")
            })?;
        if self.rounds == 0 {
            bail!("--rounds must be at least 1");
        }
        let connections = self.connections.unwrap_or(if self.smoke { 16 } else { 64 });
        if connections == 0 {
            bail!("--connections must be at least 1");
        }
        let stream_clients = self
            .stream_clients
            .unwrap_or(if self.smoke { 100 } else { 1000 });
        if stream_clients == 0 {
            bail!("--stream-clients must be at least 1");
        }

        let mut workloads = Vec::new();
        let chosen: &[Workload] = if self.workloads.is_empty() {
            &Workload::ALL
        } else {
            &self.workloads
        };
        for w in chosen {
            if !workloads.contains(w) {
                workloads.push(*w);
            }
        }

        let (mode, default_tokens) = match (&self.target, &self.data_dir) {
            (Some(url), _) => (Mode::Target(url.clone()), None),
            (None, Some(dir)) => (
                Mode::Spawn {
                    server_bin: self.server_bin.clone(),
                    data_dir: dir.clone(),
                    database_url: self.database_url.clone(),
                    seed: (!self.no_seed).then_some(seed),
                },
                Some(dir.join(DEFAULT_TOKENS_FILE)),
            ),
            // clap enforces `--data-dir` unless `--target`; kept as an error, not a panic.
            (None, None) => bail!("give --data-dir (to start a server) or --target"),
        };
        let tokens = match (&self.tokens, default_tokens) {
            (Some(file), _) => file.clone(),
            (None, Some(file)) => file,
            (None, None) => {
                if workloads.iter().any(|w| w.needs_tokens()) {
                    bail!(
                        "--target needs --tokens FILE (written by `starling admin seed --tokens-out`) for any workload but `instance`"
                    );
                }
                PathBuf::new()
            }
        };

        Ok(Plan {
            mode,
            tokens,
            workloads,
            duration,
            rounds: self.rounds,
            connections,
            stream_clients,
            // 32 bits are plenty of variety and keep the reported `--rng-seed` short.
            rng_seed: self
                .rng_seed
                .unwrap_or_else(|| u64::from(rand::random::<u32>())),
            startup_timeout: Duration::from_secs(self.startup_timeout),
            json: self.json.clone(),
        })
    }
}

/// Parses `--target`: an `http://` URL whose host is a loopback address, so the load
/// this tool generates can never be pointed at someone else's machine.
pub fn parse_target(raw: &str) -> anyhow::Result<Url> {
    let url = Url::parse(raw).with_context(|| format!("{raw:?} is not a URL"))?;
    if url.scheme() != "http" {
        bail!("{raw:?}: only http:// targets are supported");
    }
    if !is_loopback(&url) {
        bail!(
            "{raw:?}: refusing to send load to a non-loopback host; use 127.0.0.1, ::1 or localhost"
        );
    }
    Ok(url)
}

/// Whether a URL's host is 127.0.0.0/8, `::1` (or `::ffff:127.x.y.z`) or `localhost`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => is_loopback_ip(IpAddr::V6(ip)),
        Some(Host::Domain(name)) => {
            let name = name.strip_suffix('.').unwrap_or(name);
            name.eq_ignore_ascii_case("localhost")
        }
        None => false,
    }
}

fn is_loopback_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6 == Ipv6Addr::LOCALHOST || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn loopback_targets_are_accepted() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.1.2.3/",
            "http://[::1]:3000",
            "http://[::ffff:127.0.0.1]:80",
            "http://localhost:8080",
            "http://LOCALHOST./",
        ] {
            assert!(parse_target(ok).is_ok(), "{ok} should be accepted");
        }
    }

    #[test]
    fn other_targets_are_refused() {
        for bad in [
            "http://10.0.0.1:8080",
            "http://192.168.1.2",
            "http://[::2]:80",
            "http://example.com",
            "http://localhost.example.com",
            "http://127.0.0.1.nip.io",
            "https://127.0.0.1",
            "not a url",
        ] {
            assert!(parse_target(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn smoke_defaults_apply_and_flags_win() -> anyhow::Result<()> {
        let cli = Cli::try_parse_from([
            "starling-bench",
            "--data-dir",
            "d",
            "--smoke",
            "--connections",
            "3",
            "--workloads",
            "home,instance,home",
        ])?;
        let plan = cli.plan()?;
        assert_eq!(plan.connections, 3);
        assert_eq!(plan.stream_clients, 100);
        assert_eq!(plan.duration, Duration::from_secs(2));
        assert_eq!(plan.workloads, vec![Workload::Home, Workload::Instance]);
        assert_eq!(plan.rounds, 1);
        assert_eq!(plan.tokens, PathBuf::from("d").join(DEFAULT_TOKENS_FILE));
        match plan.mode {
            Mode::Spawn {
                seed: Some(seed), ..
            } => {
                assert_eq!(seed.accounts, 10_000);
                assert_eq!(seed.follows_max, 100);
            }
            other => panic!("unexpected mode {other:?}"),
        }
        Ok(())
    }

    #[test]
    fn target_without_tokens_only_allows_instance() -> anyhow::Result<()> {
        let only_instance = Cli::try_parse_from([
            "starling-bench",
            "--target",
            "http://127.0.0.1:1",
            "--workloads",
            "instance",
        ])?;
        assert!(only_instance.plan().is_ok());
        let all = Cli::try_parse_from(["starling-bench", "--target", "http://127.0.0.1:1"])?;
        assert!(all.plan().is_err());
        Ok(())
    }

    #[test]
    fn rounds_are_counted_from_one() -> anyhow::Result<()> {
        let parse = |rounds: &str| {
            Cli::try_parse_from(["starling-bench", "--data-dir", "d", "--rounds", rounds])
        };
        assert_eq!(parse("3")?.plan()?.rounds, 3);
        let none = parse("0")?.plan().map(|_| ()).unwrap_err();
        assert!(none.to_string().contains("--rounds"), "{none}");
        Ok(())
    }
}
