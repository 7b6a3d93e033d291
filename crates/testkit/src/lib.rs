//! Shared helpers for integration tests: a real Starling server on `127.0.0.1:<free port>`
//! with a fresh database, and typed request helpers that speak the Mastodon client API.
//!
//! The backend comes from `STARLING_TEST_DATABASE`: `sqlite` (the default) gives each
//! [`TestApp`] its own file in a temporary folder; `postgres` creates a fresh database
//! `test_<random hex>` through the admin URL in `STARLING_TEST_POSTGRES_URL` (e.g.
//! `postgres://postgres@127.0.0.1:5432/postgres`), so the same suites run on both.
//!
//! The helpers panic with the response body when something unexpected happens instead of
//! returning `Result`s: they only run inside tests, where a panic with context is the
//! clearest failure, and callers stay one line long.
//!
//! ```no_run
//! # async fn demo() {
//! let app = starling_testkit::spawn_app().await;
//! let token = app.sign_up("ana").await;
//! let me = app.get("/api/v1/accounts/verify_credentials", Some(&token)).await;
//! assert_eq!(me.status(), 200);
//! # }
//! ```

pub mod browser;
pub mod live;

use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};
use starling_service::{Settings, Starling};
use std::net::SocketAddr;
use std::time::Duration;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Scopes the helpers ask for: everything a Mastodon client usually requests.
pub const ALL_SCOPES: &str = "read write follow push";

/// The out-of-band redirect URI, for apps that never redirect a browser.
pub const OOB_REDIRECT: &str = "urn:ietf:wg:oauth:2.0:oob";

/// A running server and a client for it. Dropping it stops the server.
#[derive(Debug)]
pub struct TestApp {
    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub base_url: String,
    /// The application behind the server, for setting up state through the service
    /// layer (e.g. `app.create_user(…)`) or checking it afterwards.
    pub app: Starling,
    /// An HTTP client that does not follow redirects (OAuth tests look at them) and gives
    /// up after 30 s, so a hung server fails the test instead of stalling the suite.
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    /// Holds the SQLite file (and any uploads) until the test ends; deleted on drop.
    _data_dir: TempDir,
}

/// Starts a server on a fresh database with default settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts a server on a fresh database after `tweak` has adjusted the settings (e.g.
/// `|s| s.registrations_open = false`). `listen` is always the bound test address and
/// `database_url` the fresh database unless `tweak` replaces it.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_on(None, tweak).await
}

/// Whether the tests run on PostgreSQL (`STARLING_TEST_DATABASE=postgres`), for tests
/// that only apply there (several nodes on one database).
pub fn on_postgres() -> bool {
    matches!(
        std::env::var("STARLING_TEST_DATABASE").as_deref(),
        Ok("postgres" | "postgresql")
    )
}

/// Starts a server on `database_url`, or on a fresh database when `None`.
async fn spawn_on(database_url: Option<String>, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let data_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("cannot create temp dir: {e}"));
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:0: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("bound listener has no address: {e}"));
    let base_url = format!("http://{addr}");

    let mut settings = Settings {
        listen: addr,
        base_url: Some(base_url.clone()),
        data_dir: data_dir.path().to_owned(),
        database_url: Some(match database_url {
            Some(url) => url,
            None => fresh_database(&data_dir).await,
        }),
        ..Settings::default()
    };
    tweak(&mut settings);
    settings.listen = addr;
    let base_url = settings.base_url().into_owned();

    let app = Starling::open(settings)
        .await
        .unwrap_or_else(|e| panic!("cannot open Starling: {e} ({e:?})"));
    let (tx, rx) = oneshot::channel::<()>();
    let shutdown = async move {
        // Fired by `TestApp::drop`; an error means the sender was dropped, which also
        // means the test is over.
        let _ = rx.await;
    };
    let server = tokio::spawn(starling_server::run(app.clone(), listener, shutdown));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_else(|e| panic!("cannot build HTTP client: {e}"));

    TestApp {
        base_url,
        app,
        client,
        shutdown: Some(tx),
        server: Some(server),
        _data_dir: data_dir,
    }
}

/// The database URL for a new, empty database on the backend `STARLING_TEST_DATABASE`
/// selects.
async fn fresh_database(data_dir: &TempDir) -> String {
    let backend = std::env::var("STARLING_TEST_DATABASE").unwrap_or_else(|_| "sqlite".into());
    match backend.as_str() {
        "" | "sqlite" => format!("sqlite://{}", data_dir.path().join("starling.db").display()),
        "postgres" | "postgresql" => fresh_postgres_database().await,
        other => panic!("STARLING_TEST_DATABASE must be sqlite or postgres, not {other:?}"),
    }
}

/// Creates `test_<random hex>` on the server in `STARLING_TEST_POSTGRES_URL` and returns
/// its URL.
///
/// The database is not dropped when the test ends: `Drop` cannot await, and dropping it
/// would race the server's pool closing. The test script runs PostgreSQL in a throwaway
/// cluster that it deletes afterwards, which removes these databases with it.
async fn fresh_postgres_database() -> String {
    use sqlx::{Connection, Executor, PgConnection};

    let admin_url = std::env::var("STARLING_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "STARLING_TEST_DATABASE=postgres needs STARLING_TEST_POSTGRES_URL, \
             e.g. postgres://postgres@127.0.0.1:5432/postgres"
        )
    });
    let name = format!("test_{:016x}", rand::random::<u64>());
    let mut conn = PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {admin_url}: {e}"));
    // The name is ours (hex digits), so formatting it into the statement is safe;
    // `CREATE DATABASE` takes no bind parameters.
    conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
        .await
        .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
    let _ = conn.close().await;

    let mut url = url::Url::parse(&admin_url)
        .unwrap_or_else(|e| panic!("STARLING_TEST_POSTGRES_URL is not a URL: {e}"));
    url.set_path(&format!("/{name}"));
    url.to_string()
}

impl TestApp {
    /// Starts another node of this server: a second server, with its own address and data
    /// folder, on the same database, as when several stateless Starling nodes share one
    /// PostgreSQL database. Only for PostgreSQL (see [`on_postgres`]): two processes on
    /// one SQLite file is not a supported set-up.
    pub async fn spawn_node(&self) -> TestApp {
        assert!(
            on_postgres(),
            "several nodes need PostgreSQL (STARLING_TEST_DATABASE=postgres)"
        );
        let url = self.app.settings().database_url();
        spawn_on(Some(url), |_| {}).await
    }

    /// `base_url` + `path` (a path starting with `/`; a full URL is used as is).
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base_url)
        }
    }

    /// A request to `path`, with `Authorization: Bearer <token>` when a token is given.
    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let builder = self.client.request(method, self.url(path));
        match token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        send(self.request(Method::GET, path, token)).await
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        send(self.request(Method::POST, path, token).json(&body)).await
    }

    /// `POST path` with a form body (`application/x-www-form-urlencoded`), as most
    /// Mastodon clients send.
    pub async fn post_form(
        &self,
        path: &str,
        token: Option<&str>,
        form: &[(&str, &str)],
    ) -> Response {
        send(self.request(Method::POST, path, token).form(form)).await
    }

    /// `PUT path` with a JSON body.
    pub async fn put_json(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        send(self.request(Method::PUT, path, token).json(&body)).await
    }

    /// `PATCH path` with a JSON body.
    pub async fn patch_json(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        send(self.request(Method::PATCH, path, token).json(&body)).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str, token: Option<&str>) -> Response {
        send(self.request(Method::DELETE, path, token)).await
    }

    /// `POST /api/v1/apps`: registers a client application with [`ALL_SCOPES`] and the
    /// out-of-band redirect URI; returns `(client_id, client_secret)`.
    pub async fn register_app(&self) -> (String, String) {
        let response = self
            .post_form(
                "/api/v1/apps",
                None,
                &[
                    ("client_name", "starling-tests"),
                    ("redirect_uris", OOB_REDIRECT),
                    ("scopes", ALL_SCOPES),
                    ("website", "https://example.com"),
                ],
            )
            .await;
        let app = expect_json(response, "POST /api/v1/apps").await;
        (
            string_field(&app, "client_id"),
            string_field(&app, "client_secret"),
        )
    }

    /// `POST /oauth/token` with `grant_type=client_credentials`: an app-level token (no
    /// user), as sign-up needs.
    pub async fn app_token(&self, client_id: &str, client_secret: &str) -> String {
        let response = self
            .post_form(
                "/oauth/token",
                None,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id),
                    ("client_secret", client_secret),
                    ("redirect_uri", OOB_REDIRECT),
                    ("scope", ALL_SCOPES),
                ],
            )
            .await;
        let token = expect_json(response, "POST /oauth/token").await;
        string_field(&token, "access_token")
    }

    /// Signs up `username` the way a Mastodon app does (register an app, get an app
    /// token, `POST /api/v1/accounts`) with e-mail `{username}@example.com` and password
    /// `password-{username}`; returns the new account's access token.
    pub async fn sign_up(&self, username: &str) -> String {
        let (client_id, client_secret) = self.register_app().await;
        self.sign_up_in_app(&client_id, &client_secret, username)
            .await
    }

    /// As [`TestApp::sign_up`], through an app the caller registered (to revoke the
    /// token later, say); returns the new account's access token.
    pub async fn sign_up_in_app(
        &self,
        client_id: &str,
        client_secret: &str,
        username: &str,
    ) -> String {
        let app_token = self.app_token(client_id, client_secret).await;
        let response = self
            .post_json(
                "/api/v1/accounts",
                Some(&app_token),
                json!({
                    "username": username,
                    "email": format!("{username}@example.com"),
                    "password": format!("password-{username}"),
                    "agreement": true,
                    "locale": "en",
                }),
            )
            .await;
        let token = expect_json(response, "POST /api/v1/accounts").await;
        string_field(&token, "access_token")
    }

    /// Stops the server and waits until it has finished (requests drained, database
    /// closed). Dropping the `TestApp` stops it too, without waiting.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            match server.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => panic!("server failed: {e}"),
                Err(e) => panic!("server task failed: {e}"),
            }
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            // The server may already be gone with its runtime; nothing to do then.
            let _ = tx.send(());
        }
    }
}

async fn send(builder: RequestBuilder) -> Response {
    let description = builder
        .try_clone()
        .and_then(|b| b.build().ok())
        .map(|r| format!("{} {}", r.method(), r.url()))
        .unwrap_or_else(|| "request".to_owned());
    builder
        .send()
        .await
        .unwrap_or_else(|e| panic!("{description} failed to send: {e}"))
}

/// The JSON body of a successful response; panics with the status and body otherwise.
pub async fn expect_json(response: Response, what: &str) -> Value {
    let status = response.status();
    let text = response
        .text()
        .await
        .unwrap_or_else(|e| panic!("{what}: cannot read the body: {e}"));
    assert!(status.is_success(), "{what}: status {status}, body {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: body is not JSON ({e}): {text}"))
}

/// The JSON body of any response (for checking error bodies too); panics if it is not
/// JSON.
pub async fn json_body(response: Response) -> Value {
    let status = response.status();
    let text = response
        .text()
        .await
        .unwrap_or_else(|e| panic!("cannot read the body: {e}"));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("status {status}: body is not JSON ({e}): {text}"))
}

fn string_field(value: &Value, field: &str) -> String {
    value
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string {field:?} in {value}"))
        .to_owned()
}
