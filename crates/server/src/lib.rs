//! Wiring for the `starling` binary: serve the API and the web UI on a bound listener until a shutdown
//! future resolves, then close the database.
//!
//! [`run`] takes an already-bound listener and a shutdown future instead of an address and
//! a signal handler, so integration tests bind `127.0.0.1:0`, read the port, and stop the
//! server by firing a channel (as mini-redis's `tests/server.rs` does).

pub mod allocator;
pub mod cli;
pub mod commands;
pub mod config;
pub mod seed;

use axum::ServiceExt;
use axum::body::Body;
use axum::extract::Request;
use axum::http::Response;
use starling_service::Starling;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tower::{Layer as _, ServiceBuilder};
use tower_http::normalize_path::NormalizePathLayer;
use tower_http::trace::{DefaultOnRequest, DefaultOnResponse, TraceLayer};
use tracing::Level;

/// Serves the API for `app` on `listener` until `shutdown` resolves, lets requests in
/// flight finish, then closes the app's database pools.
pub async fn run(
    app: Starling,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The web UI's pages beside the API: the API router keeps the fallback (a JSON 404),
    // the web router has none, so the two merge without overlap.
    let router = starling_api::router(app.clone()).merge(starling_web::router(app.clone()));
    // Trailing slashes are trimmed before routing (Mastodon.py asks for
    // `/api/v1/instance/`). The layer must wrap the router from outside: added with
    // `Router::layer` it would run after the route was already chosen.
    let service = NormalizePathLayer::trim_trailing_slash().layer(router);
    // Request logging at debug level (`RUST_LOG=tower_http=debug`), silent at the default
    // `info`. Outermost, so unmatched paths are logged too, as the client sent them; its
    // response body type is mapped back to axum's, which `axum::serve` requires.
    let service = ServiceBuilder::new()
        .map_response(|response: Response<_>| response.map(Body::new))
        .layer(
            TraceLayer::new_for_http()
                // The span names the path only: a query string may carry `access_token`.
                .make_span_with(|request: &Request| {
                    tracing::debug_span!("request", method = %request.method(), path = %request.uri().path())
                })
                .on_request(DefaultOnRequest::new().level(Level::DEBUG))
                .on_response(DefaultOnResponse::new().level(Level::DEBUG)),
        )
        .service(service);
    // Background work (the fan-out, push, relay and mail workers) stops with the server,
    // after the last request.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut stop_rx = stop_rx.clone();
        async move {
            let _ = stop_rx.wait_for(|stop| *stop).await;
        }
    };
    let worker = tokio::spawn({
        let app = app.clone();
        let stopped = stopped.clone();
        async move { app.run_fan_out_worker(stopped()).await }
    });
    // Web Push deliveries go out from their own worker: a slow push service never holds
    // up fan-out, and neither ever holds up a request.
    let push_worker = tokio::spawn({
        let app = app.clone();
        let stopped = stopped.clone();
        async move { app.run_push_worker(stopped()).await }
    });
    // On PostgreSQL, the events this node publishes go to the other nodes from their own
    // worker (docs/decisions/0011-node-relay.md); it returns at once on SQLite. Stopped
    // after the last request, it still sends what the last requests published.
    let relay_sender = tokio::spawn({
        let app = app.clone();
        let stopped = stopped.clone();
        async move { app.run_relay_sender(stopped()).await }
    });
    // E-mail goes out from a third worker, only when an SMTP server is configured: a slow
    // SMTP server holds up neither pushes nor requests.
    let mail_worker = app.email_enabled().then(|| {
        tokio::spawn({
            let app = app.clone();
            async move { app.run_mail_worker(stopped()).await }
        })
    });
    // Streaming connections never end by themselves: close them when shutdown begins,
    // or the graceful shutdown would wait for them forever.
    let shutdown = {
        let app = app.clone();
        async move {
            shutdown.await;
            app.close_streams();
        }
    };
    let result = axum::serve(listener, ServiceExt::<Request>::into_make_service(service))
        .with_graceful_shutdown(shutdown)
        .await;
    let _ = stop_tx.send(true);
    if let Err(e) = worker.await {
        tracing::error!(error = %e, "the fan-out worker failed");
    }
    if let Err(e) = push_worker.await {
        tracing::error!(error = %e, "the push worker failed");
    }
    if let Some(mail_worker) = mail_worker
        && let Err(e) = mail_worker.await
    {
        tracing::error!(error = %e, "the mail worker failed");
    }
    if let Err(e) = relay_sender.await {
        tracing::error!(error = %e, "the relay sender failed");
    }
    app.close().await;
    result
}

/// Resolves when the process receives SIGINT (Ctrl-C) or SIGTERM (from `kill`, systemd or
/// a container runtime).
///
/// The handlers are installed when this is first polled; until then the signals keep
/// their default action (ending the process at once). Call [`ShutdownSignals::install`]
/// early instead where that gap matters.
pub async fn shutdown_signal() {
    ShutdownSignals::install().wait().await;
}

/// SIGINT and SIGTERM handlers, installed up front so a signal that arrives while the
/// server is still starting (opening the database, running migrations) is not fatal but
/// stops the server as soon as it runs.
#[derive(Debug)]
pub struct ShutdownSignals {
    terminate: Option<Signal>,
    interrupt: Option<Signal>,
}

impl ShutdownSignals {
    /// Installs the handlers now.
    pub fn install() -> Self {
        let install = |kind: SignalKind, name: &str| match signal(kind) {
            Ok(stream) => Some(stream),
            Err(e) => {
                // Still stoppable by the other signal or SIGKILL; not worth refusing to
                // start over.
                tracing::warn!("cannot handle {name}: {e}");
                None
            }
        };
        Self {
            terminate: install(SignalKind::terminate(), "SIGTERM"),
            interrupt: install(SignalKind::interrupt(), "SIGINT"),
        }
    }

    /// Resolves at the first SIGINT or SIGTERM since [`install`](Self::install).
    pub async fn wait(mut self) {
        tokio::select! {
            () = recv(self.terminate.as_mut()) => tracing::info!("received SIGTERM, shutting down"),
            () = recv(self.interrupt.as_mut()) => tracing::info!("received SIGINT, shutting down"),
        }
    }
}

/// The next signal on `stream`, or never if it could not be installed.
async fn recv(stream: Option<&mut Signal>) {
    match stream {
        Some(stream) => {
            stream.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}
