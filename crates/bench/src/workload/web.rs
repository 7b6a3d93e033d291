//! The `web` workload: the server-rendered home page as a browser gets it. Active
//! accounts sign in through the web UI's own form, once each (`GET /sign-in` hands out
//! the anti-forgery cookie, `POST /sign-in` sends it back with the same token in the
//! `csrf` field, the seeded password and the username, and answers with the session
//! cookie), then every connection fetches `GET /home` (the whole HTML page: layout,
//! composer and the 20 newest posts) with a random session's cookie until the time is up.
//!
//! Why it is built this way:
//! - Real sign-ins, not sessions written into the database: the harness stays a client of
//!   the server like the other workloads, and the sign-in's own latency (one argon2
//!   check) is reported on a line of its own.
//! - One session per connection (at most one per active account), not one per account:
//!   each sign-in costs an argon2 hash, which would take minutes for 10,000 accounts on
//!   the benchmark's 2 cores (and far longer in the debug build CI's smoke run uses),
//!   while the page's cost does not depend on how many sessions exist (a session is one
//!   indexed lookup).
//! - Redirects are not followed: a sign-in answers `303` with the cookie, and a `/home`
//!   that answered `303` (to `/sign-in`) would mean the session was refused, which must
//!   count as a failure rather than as a fast page.

use super::{Line, Load, Measured, Recorder, Tokens, error_chain, exchange};
use anyhow::{Context, bail};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use reqwest::header::{COOKIE, HeaderMap, SET_COOKIE};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// The web UI's cookie for the anti-forgery token of signed-out forms.
const CSRF_COOKIE: &str = "starling_csrf";
/// The web UI's session cookie.
const SESSION_COOKIE: &str = "starling_session";

/// The value of cookie `name` among a response's `Set-Cookie` headers.
fn set_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next()?.trim().split_once('='))
        .find(|(k, v)| *k == name && !v.is_empty())
        .map(|(_, v)| v.to_owned())
}

impl Load {
    /// The `web` workload (see the module documentation).
    pub(super) async fn web(
        &self,
        tokens: Option<Arc<Tokens>>,
        seed: u64,
    ) -> anyhow::Result<Measured> {
        let tokens = tokens.context("the web workload needs the tokens file")?;
        let password = tokens.base_password.clone().context(
            "the tokens file has no base_password (the seeded accounts' password): re-seed \
             with a current `starling admin seed`",
        )?;
        let mut rng = StdRng::seed_from_u64(seed);
        let mut users = tokens.users.clone();
        users.shuffle(&mut rng);
        users.truncate(self.connections.max(1));

        // Sign in, a few at a time (argon2 is the server's work, on the same 2 cores).
        let started = Instant::now();
        let mut tasks = JoinSet::new();
        let parallel = self.connections.clamp(1, 4);
        let mut signins = Recorder::new()?;
        let mut sessions = Vec::new();
        for chunk in users.chunks(users.len().div_ceil(parallel)) {
            let chunk = chunk.to_vec();
            let load = self.web_client();
            let password = password.clone();
            tasks.spawn(async move {
                let mut recorder = Recorder::new()?;
                let mut found = Vec::new();
                for user in chunk {
                    let (latency, outcome) = load.sign_in(&user.username, &password).await;
                    recorder.record(latency, &outcome);
                    found.extend(outcome.ok());
                }
                anyhow::Ok((recorder, found))
            });
        }
        while let Some(done) = tasks.join_next().await {
            let (recorder, found) = done??;
            signins.merge(recorder)?;
            sessions.extend(found);
        }
        let signin_time = started.elapsed();
        if sessions.is_empty() {
            bail!("web: no sign-in succeeded ({})", signins.samples.join("; "));
        }

        // Then the home page, on every connection, as a random session.
        let sessions = Arc::new(sessions);
        let started = Instant::now();
        let deadline = started + self.duration;
        let mut tasks = JoinSet::new();
        for worker in 0..self.connections {
            let client = self.web_client();
            let sessions = Arc::clone(&sessions);
            let mut rng = StdRng::seed_from_u64(seed.wrapping_add(1 + worker as u64));
            let mut recorder = Recorder::new()?;
            tasks.spawn(async move {
                while Instant::now() < deadline {
                    let session = sessions.choose(&mut rng).map(String::as_str).unwrap_or("");
                    let (latency, outcome) = client.home_page(session).await;
                    recorder.record(latency, &outcome);
                }
                recorder
            });
        }
        let mut pages = Recorder::new()?;
        while let Some(done) = tasks.join_next().await {
            pages.merge(done?)?;
        }
        Ok(Measured {
            lines: vec![
                Line {
                    label: "web: sign-in".to_owned(),
                    elapsed: Some(signin_time),
                    vs_ceiling: false,
                    successes_only: false,
                    recorder: signins,
                },
                Line {
                    label: "web".to_owned(),
                    elapsed: Some(started.elapsed()),
                    vs_ceiling: true,
                    successes_only: false,
                    recorder: pages,
                },
            ],
            memory: Vec::new(),
            cpu: Vec::new(),
        })
    }

    fn web_client(&self) -> WebClient {
        WebClient {
            http: self.web_http.clone(),
            sign_in_url: self.sign_in_url.clone(),
            home_page_url: self.home_page_url.clone(),
        }
    }
}

/// What a web worker needs; cheap to clone.
#[derive(Clone)]
struct WebClient {
    /// An HTTP client that does not follow redirects.
    http: reqwest::Client,
    sign_in_url: url::Url,
    home_page_url: url::Url,
}

impl WebClient {
    /// Signs in as `username` through the form: the time of the `POST` and the session
    /// cookie's value.
    async fn sign_in(&self, username: &str, password: &str) -> (Duration, Result<String, String>) {
        let form = match self.http.get(self.sign_in_url.clone()).send().await {
            Ok(r) if r.status().is_success() => r,
            Ok(r) => {
                return (
                    Duration::ZERO,
                    Err(format!("GET /sign-in: HTTP {}", r.status())),
                );
            }
            Err(e) => {
                return (
                    Duration::ZERO,
                    Err(format!("GET /sign-in: {}", error_chain(&e))),
                );
            }
        };
        let Some(csrf) = set_cookie(form.headers(), CSRF_COOKIE) else {
            return (
                Duration::ZERO,
                Err(format!("GET /sign-in set no {CSRF_COOKIE} cookie")),
            );
        };
        // The body is not needed (the field holds the cookie's value), but reading it
        // lets the connection be reused.
        let _ = form.bytes().await;
        let request = self
            .http
            .post(self.sign_in_url.clone())
            .header(COOKIE, format!("{CSRF_COOKIE}={csrf}"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("login", username),
                ("password", password),
            ]);
        let started = Instant::now();
        let outcome = match request.send().await {
            Ok(r) => {
                let status = r.status();
                let session = set_cookie(r.headers(), SESSION_COOKIE);
                let _ = r.bytes().await;
                match session {
                    Some(s) if status.is_redirection() => Ok(s),
                    _ => Err(format!(
                        "POST /sign-in as {username}: HTTP {status} without a session cookie"
                    )),
                }
            }
            Err(e) => Err(format!("POST /sign-in: {}", error_chain(&e))),
        };
        (started.elapsed(), outcome)
    }

    /// `GET /home` with a session cookie: the whole page, which must be HTML.
    async fn home_page(&self, session: &str) -> (Duration, Result<(), String>) {
        let request = self
            .http
            .get(self.home_page_url.clone())
            .header(COOKIE, format!("{SESSION_COOKIE}={session}"));
        exchange("GET /home", request, |body| {
            if body.starts_with(b"<!DOCTYPE html>") || body.starts_with(b"<!doctype html>") {
                Ok(())
            } else {
                Err("the home page is not an HTML document".to_owned())
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn cookies_are_read_from_set_cookie_by_exact_name() {
        let mut h = HeaderMap::new();
        h.append(
            SET_COOKIE,
            HeaderValue::from_static("xstarling_csrf=no; Path=/"),
        );
        h.append(
            SET_COOKIE,
            HeaderValue::from_static("starling_csrf=abc; Path=/; HttpOnly; SameSite=Lax"),
        );
        assert_eq!(set_cookie(&h, CSRF_COOKIE).as_deref(), Some("abc"));
        assert_eq!(set_cookie(&h, SESSION_COOKIE), None);
    }
}
