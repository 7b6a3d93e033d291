//! The command line of the `starling` binary (clap derive): `serve`, and `admin` commands
//! that act directly on the database a `serve` with the same options would use.
//!
//! Every option's doc comment is its `--help` text. The options that locate the database
//! (`--config`, `--data-dir`, `--database-url`) are shared by all commands and also read
//! from `STARLING_*` variables through clap, so a flag wins over the variable, which wins
//! over the configuration file (see [`crate::config`]).

use crate::config::Overrides;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Scopes granted by `admin token create` when `--scopes` is not given.
pub const DEFAULT_TOKEN_SCOPES: &str = "read write follow push";

/// The `serve --help` epilogue: examples, then every setting with its variable and default.
fn serve_help() -> String {
    format!(
        "\
Examples:
  # Embedded SQLite in ./starling-data, on http://127.0.0.1:8080
  starling serve

  # All interfaces, data under /var/lib/starling
  starling serve --listen 0.0.0.0:8080 --data-dir /var/lib/starling

  # PostgreSQL, other settings from a file
  starling serve --config /etc/starling.toml --database-url postgres://starling@db/starling

  # Request logging
  RUST_LOG=info,tower_http=debug starling serve

Settings, in a TOML configuration file (`key = value`) or as environment variables.
Flags win over environment variables, which win over the file; lists are
comma-separated in the environment (STARLING_ALLOWED_EMAIL_DOMAINS=acme.example,acme.test).
{}",
        crate::config::settings_table()
    )
}

const ADMIN_EXAMPLES: &str = "\
Examples:
  starling admin user create --username ana --email ana@example.com \\
      --password 'a long secret' --role admin
  starling admin user list
  starling admin user deactivate --username bob
  TOKEN=$(starling admin token create --username ana)
  starling admin seed --data-dir target/bench-data --tokens-out target/bench-data/tokens.json
  STARLING_SMTP_URL=smtp://127.0.0.1:25 starling admin send-digests";

/// Starling: a self-hosted microsharing server for one organisation, speaking the Mastodon
/// client API.
#[derive(Debug, Parser)]
#[command(name = "starling", version, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server until SIGINT or SIGTERM.
    #[command(after_help = serve_help())]
    Serve(ServeArgs),
    /// Administer accounts and tokens directly in the database (the server may be running).
    #[command(after_help = ADMIN_EXAMPLES)]
    Admin(AdminArgs),
}

/// Help section of the options shared by every command.
const CONFIG_HEADING: &str = "Configuration";

/// Where the settings and the database are; shared by every command.
#[derive(Debug, Clone, Default, Args)]
pub struct ConfigArgs {
    /// TOML configuration file with any of the settings listed by `starling serve --help`;
    /// it must exist when given.
    #[arg(long, value_name = "FILE", env = "STARLING_CONFIG", global = true, help_heading = CONFIG_HEADING)]
    pub config: Option<PathBuf>,
    /// Folder for the embedded SQLite database and uploaded files [default: starling-data].
    #[arg(long, value_name = "DIR", env = "STARLING_DATA_DIR", global = true, help_heading = CONFIG_HEADING)]
    pub data_dir: Option<PathBuf>,
    /// Database to use: `sqlite://PATH` or `postgres://USER@HOST/DB`
    /// [default: sqlite://<data dir>/starling.db].
    #[arg(long, value_name = "URL", env = "STARLING_DATABASE_URL", global = true, help_heading = CONFIG_HEADING)]
    pub database_url: Option<String>,
}

impl ConfigArgs {
    /// The command-line layer of the settings.
    pub fn overrides(&self, listen: Option<SocketAddr>) -> Overrides {
        Overrides {
            listen,
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
        }
    }
}

/// Options of `starling serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on, e.g. `0.0.0.0:8080` [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR", env = "STARLING_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Settings and database location.
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// Options of `starling admin`.
#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    /// Settings and database location.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// What to administer.
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// The things `starling admin` manages.
#[derive(Debug, Clone, Subcommand)]
pub enum AdminCommand {
    /// Create, list, deactivate and reactivate accounts, and change their role.
    #[command(subcommand)]
    User(UserCommand),
    /// Issue access tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Fill an empty database with a large synthetic network for benchmarks: a celebrity
    /// followed by every account, a power-law follow graph among active accounts, an
    /// all-company group, posts spread over 30 days, home feeds and tokens (written to
    /// --tokens-out).
    Seed(SeedArgs),
    /// Send the daily e-mail digest now to everyone who opted in (whenever their last one
    /// went out; the next scheduled one follows a day later), printing a line per account.
    /// Needs `smtp_url`. Digests that fail for now stay queued for the servers to retry.
    SendDigests,
}

/// Options of `starling admin seed`; the defaults build the benchmark's full network.
#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    /// Accounts to create in all, the celebrity included.
    #[arg(long, default_value_t = 1_000_000)]
    pub accounts: usize,
    /// Active accounts: they post, follow each other and get tokens.
    #[arg(long, default_value_t = 10_000)]
    pub active: usize,
    /// Fewest other active accounts each active account follows.
    #[arg(long, default_value_t = 50)]
    pub follows_min: usize,
    /// Most other active accounts each active account follows.
    #[arg(long, default_value_t = 500)]
    pub follows_max: usize,
    /// Posts by each active account.
    #[arg(long, default_value_t = 20)]
    pub posts_per_active: usize,
    /// Posts by the celebrity.
    #[arg(long, default_value_t = 100)]
    pub celebrity_posts: usize,
    /// Posts by passive accounts, to make the database as large as a real one.
    #[arg(long, default_value_t = 1_000_000)]
    pub filler_posts: usize,
    /// Members of the public all-company group the celebrity owns (the active accounts
    /// first; at most --accounts); 0 for no group.
    #[arg(long, default_value_t = 100_000)]
    pub group_members: usize,
    /// Posts in the all-company group, by its active members.
    #[arg(long, default_value_t = 1_000)]
    pub group_posts: usize,
    /// Seed of the random generator: the same plan and seed give the same network.
    #[arg(long, default_value_t = 1)]
    pub rng_seed: u64,
    /// Where to write the JSON file with the celebrity's and the active accounts' tokens.
    #[arg(long, value_name = "FILE")]
    pub tokens_out: PathBuf,
}

/// `starling admin user …`.
#[derive(Debug, Clone, Subcommand)]
pub enum UserCommand {
    /// Create an account, whether or not sign-up is open and whatever its e-mail domain.
    Create {
        /// Username: letters, digits and underscores, at most 30 characters.
        #[arg(long)]
        username: String,
        /// E-mail address of the account.
        #[arg(long)]
        email: String,
        /// Password for signing in (it is visible to other local users in the process
        /// list while the command runs; change it after first sign-in).
        #[arg(long)]
        password: String,
        /// Role of the new account [default: member].
        #[arg(long, value_parser = ["admin", "member"])]
        role: Option<String>,
    },
    /// List every account, oldest first: id, username, e-mail, role, status, creation time.
    List,
    /// Deactivate an account: it can no longer sign in, its tokens stop working and its
    /// posts are hidden.
    Deactivate {
        /// Username of the account.
        #[arg(long)]
        username: String,
    },
    /// Reactivate a deactivated account.
    Reactivate {
        /// Username of the account.
        #[arg(long)]
        username: String,
    },
    /// Change an account's role.
    SetRole {
        /// Username of the account.
        #[arg(long)]
        username: String,
        /// The new role.
        #[arg(long, value_parser = ["admin", "member"])]
        role: String,
    },
}

/// `starling admin token …`.
#[derive(Debug, Clone, Subcommand)]
pub enum TokenCommand {
    /// Issue a bearer token for an account and print only the token, so scripts can
    /// capture it.
    Create {
        /// Username of the account the token acts as.
        #[arg(long)]
        username: String,
        /// Space-separated OAuth scopes to grant.
        #[arg(long, default_value = DEFAULT_TOKEN_SCOPES)]
        scopes: String,
    },
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
    fn database_options_are_accepted_after_the_admin_subcommand() {
        let cli =
            Cli::try_parse_from(["starling", "admin", "user", "list", "--data-dir", "/tmp/x"])
                .unwrap();
        let Command::Admin(admin) = cli.command else {
            panic!("not admin")
        };
        assert_eq!(admin.config.data_dir, Some(PathBuf::from("/tmp/x")));
    }
}
