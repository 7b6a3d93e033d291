//! What each command of the binary does: load the settings, open the application, act,
//! and say what was done. Output goes to the writer passed in (stdout in the binary) so
//! only results reach stdout; logs and errors go to stderr.

use crate::cli::{
    AdminArgs, AdminCommand, Command, ConfigArgs, ServeArgs, TokenCommand, UserCommand,
};
use crate::config::{self, ConfigError, Overrides};
use starling_service::email::DigestOutcome;
use starling_service::{AccountRecord, ServiceError, Settings, Starling};
use std::io::Write;
use std::net::SocketAddr;
use thiserror::Error;

/// Why a command failed; shown to the operator as `error: <message>`.
#[derive(Debug, Error)]
pub enum CommandError {
    /// The settings could not be loaded.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database could not be opened or migrated.
    #[error("cannot open the database {url}")]
    Open {
        /// The database URL, without any password.
        url: String,
        /// Why.
        source: ServiceError,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}")]
    Listen {
        /// The address from the settings.
        addr: SocketAddr,
        /// Why (in use, not permitted, …).
        source: std::io::Error,
    },
    /// The server stopped with an I/O error.
    #[error("server failed")]
    Serve(#[source] std::io::Error),
    /// The e-mail settings cannot be used.
    #[error(transparent)]
    Mail(#[from] starling_service::email::MailConfigError),
    /// The account named on the command line does not exist.
    #[error("no user named {0:?}")]
    NoSuchUser(String),
    /// The use case refused or failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// Writing the result failed (e.g. stdout closed).
    #[error("cannot write output")]
    Output(#[from] std::io::Error),
}

/// The error and its causes on one line, for the operator. The service layer hides
/// internal causes behind "internal error" from API clients; on the operator's own
/// terminal the cause is the useful part, so that placeholder is dropped, as is any cause
/// its parent already quoted.
pub fn report(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        let quoted = parts.last().is_some_and(|prev| prev.contains(&text));
        if !quoted && text != "internal error" {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// Runs a parsed command line.
pub async fn execute(command: Command, out: &mut impl Write) -> Result<(), CommandError> {
    match command {
        Command::Serve(args) => serve(args).await,
        Command::Admin(args) => admin(args, out).await,
    }
}

/// Loads the settings for `args`, warning about `STARLING_*` variables that match none.
fn load_settings(args: &ConfigArgs, listen: Option<SocketAddr>) -> Result<Settings, CommandError> {
    let overrides: Overrides = args.overrides(listen);
    let loaded = config::load(args.config.as_deref(), &overrides)?;
    for var in &loaded.ignored_vars {
        tracing::warn!("ignoring environment variable {var}: no such setting");
    }
    // Checked here rather than at the first mail, so a typo stops the start with a message
    // naming the setting instead of filling the logs with failed deliveries.
    starling_service::email::check_mail_settings(&loaded.settings)?;
    Ok(loaded.settings)
}

async fn open(settings: Settings) -> Result<Starling, CommandError> {
    let url = redacted_database_url(&settings);
    Starling::open(settings)
        .await
        .map_err(|source| CommandError::Open { url, source })
}

/// The database URL with any password removed, fit for logs and error messages.
pub fn redacted_database_url(settings: &Settings) -> String {
    let raw = settings.database_url();
    match url::Url::parse(&raw) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Only fails for URLs that cannot have a password, which this one has.
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => raw,
    }
}

/// Which engine a database URL selects, for the start-up log line.
fn backend_name(settings: &Settings) -> &'static str {
    if settings.database_url().starts_with("sqlite:") {
        "SQLite"
    } else {
        "PostgreSQL"
    }
}

/// `starling serve`: binds, opens the database, serves until SIGINT/SIGTERM.
async fn serve(args: ServeArgs) -> Result<(), CommandError> {
    // First, so that a SIGTERM during start-up (tests and supervisors send one as soon as
    // the port answers) stops the server cleanly instead of killing it mid-migration.
    let signals = crate::ShutdownSignals::install();
    let mut settings = load_settings(&args.config, args.listen)?;
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|source| CommandError::Listen {
            addr: settings.listen,
            source,
        })?;
    // With port 0 the OS picks the port; record the real one so the default base URL
    // (built from `listen`) points at it.
    if let Ok(addr) = listener.local_addr() {
        settings.listen = addr;
    }
    tracing::info!(
        backend = backend_name(&settings),
        database = %redacted_database_url(&settings),
        "opening database"
    );
    let app = open(settings).await?;
    crate::allocator::trim_periodically();
    tracing::info!(
        base_url = %app.settings().base_url(),
        "listening on http://{}",
        app.settings().listen
    );
    crate::run(app, listener, signals.wait())
        .await
        .map_err(CommandError::Serve)?;
    tracing::info!("shut down cleanly");
    Ok(())
}

/// `starling admin …`.
async fn admin(args: AdminArgs, out: &mut impl Write) -> Result<(), CommandError> {
    let settings = load_settings(&args.config, None)?;
    let app = open(settings).await?;
    // On PostgreSQL the serving nodes hear what the command publishes (a deactivation
    // closes the account's streams on every node at once); nothing runs on SQLite.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let relay_sender = tokio::spawn({
        let app = app.clone();
        async move {
            app.run_relay_sender(async {
                let _ = stopped.await;
            })
            .await;
        }
    });
    let result = admin_with(&app, args.command, out).await;
    let _ = stop.send(());
    if let Err(e) = relay_sender.await {
        tracing::error!(error = %e, "the relay sender failed");
    }
    app.close().await;
    result
}

async fn admin_with(
    app: &Starling,
    command: AdminCommand,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    match command {
        AdminCommand::User(UserCommand::Create {
            username,
            email,
            password,
            role,
        }) => {
            let account = app
                .create_user(&username, &email, &password, role.as_deref())
                .await?;
            writeln!(
                out,
                "created user {} (id {}, role {})",
                account.username, account.id, account.role
            )?;
        }
        AdminCommand::User(UserCommand::List) => {
            let accounts = all_users(app).await?;
            write_user_table(&accounts, out)?;
        }
        AdminCommand::User(UserCommand::Deactivate { username }) => {
            let account = app
                .deactivate(&username)
                .await
                .map_err(user_error(&username))?;
            writeln!(
                out,
                "deactivated user {} (id {})",
                account.username, account.id
            )?;
        }
        AdminCommand::User(UserCommand::Reactivate { username }) => {
            let account = app
                .reactivate(&username)
                .await
                .map_err(user_error(&username))?;
            writeln!(
                out,
                "reactivated user {} (id {})",
                account.username, account.id
            )?;
        }
        AdminCommand::User(UserCommand::SetRole { username, role }) => {
            let account = app
                .set_role(&username, &role)
                .await
                .map_err(user_error(&username))?;
            writeln!(
                out,
                "set role of user {} (id {}) to {}",
                account.username, account.id, account.role
            )?;
        }
        AdminCommand::Token(TokenCommand::Create { username, scopes }) => {
            let token = app
                .admin_token(&username, &scopes)
                .await
                .map_err(user_error(&username))?;
            // Only the token on stdout, so `TOKEN=$(starling admin token create …)` works.
            writeln!(out, "{}", token.access_token)?;
        }
        AdminCommand::Seed(args) => crate::seed::run(app, &args, out).await?,
        AdminCommand::SendDigests => send_digests(app, out).await?,
    }
    Ok(())
}

/// `starling admin send-digests`: one line per account as its digest is dealt with, then
/// a summary.
async fn send_digests(app: &Starling, out: &mut impl Write) -> Result<(), CommandError> {
    let mut written: std::io::Result<()> = Ok(());
    let mut done = 0_usize;
    let reports = app
        .send_digests_now(|r| {
            done += 1;
            let what = match &r.outcome {
                DigestOutcome::Sent => "sent".to_owned(),
                DigestOutcome::NotSent(why) => format!("not sent: {why}"),
                DigestOutcome::Failed { cause, retry: true } => {
                    format!("failed, will be retried: {cause}")
                }
                DigestOutcome::Failed {
                    cause,
                    retry: false,
                } => format!("failed: {cause}"),
            };
            if written.is_ok() {
                written = writeln!(out, "[{done}] {} (id {}): {what}", r.username, r.account_id);
            }
        })
        .await?;
    written?;
    let sent = reports
        .iter()
        .filter(|r| r.outcome == DigestOutcome::Sent)
        .count();
    let failed = reports
        .iter()
        .filter(|r| matches!(r.outcome, DigestOutcome::Failed { .. }))
        .count();
    writeln!(
        out,
        "{} digests: {sent} sent, {failed} failed, {} with nothing to send",
        reports.len(),
        reports.len() - sent - failed
    )?;
    Ok(())
}

/// Turns the service's generic "not found" into one that names the user.
fn user_error(username: &str) -> impl FnOnce(ServiceError) -> CommandError + '_ {
    move |e| match e {
        ServiceError::NotFound => CommandError::NoSuchUser(username.to_owned()),
        other => CommandError::Service(other),
    }
}

async fn all_users(app: &Starling) -> Result<Vec<AccountRecord>, CommandError> {
    const PAGE: i64 = 500;
    let mut all = Vec::new();
    loop {
        let offset = i64::try_from(all.len()).unwrap_or(i64::MAX);
        let page = app.list_users(offset, PAGE).await?;
        let done = (page.len() as i64) < PAGE;
        all.extend(page);
        if done {
            return Ok(all);
        }
    }
}

/// Writes accounts as an aligned table with a header row.
fn write_user_table(accounts: &[AccountRecord], out: &mut impl Write) -> std::io::Result<()> {
    let header = ["id", "username", "email", "role", "status", "created"].map(str::to_owned);
    let rows: Vec<[String; 6]> = accounts
        .iter()
        .map(|a| {
            [
                a.id.to_string(),
                a.username.clone(),
                a.email.clone(),
                a.role.clone(),
                if a.deactivated_at.is_some() {
                    "deactivated".to_owned()
                } else {
                    "active".to_owned()
                },
                format_millis(a.created_at),
            ]
        })
        .collect();
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        writeln!(out, "{}", line.join("  ").trim_end())?;
    }
    if rows.is_empty() {
        writeln!(out, "(no users)")?;
    }
    Ok(())
}

/// Milliseconds since the Unix epoch as `2026-11-27 14:03:05Z` (UTC).
fn format_millis(millis: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| millis.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_drops_placeholders_and_repeats() {
        #[derive(Debug, Error)]
        #[error("database error: disk full")]
        struct Inner;
        let err = CommandError::Open {
            url: "sqlite://x".into(),
            source: ServiceError::Internal(Box::new(Inner)),
        };
        assert_eq!(
            report(&err),
            "cannot open the database sqlite://x: database error: disk full"
        );
    }

    #[test]
    fn passwords_are_redacted() {
        let settings = Settings {
            database_url: Some("postgres://u:secret@db:5432/s".into()),
            ..Settings::default()
        };
        let shown = redacted_database_url(&settings);
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("db:5432/s"), "{shown}");
    }

    #[test]
    fn times_are_readable() {
        assert_eq!(format_millis(0), "1970-01-01 00:00:00Z");
    }
}
