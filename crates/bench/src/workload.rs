//! The workloads: `connections` tasks, each with one request in flight on a shared
//! keep-alive client, sending until the duration is up, each recording latencies in its own
//! histogram (merged at the end, so no lock sits on the hot path).
//!
//! `celebrity` and `group` have a second kind of task: while the others read home
//! timelines, one makes the celebrity post every 200 ms (to its followers, or in the
//! all-company group), and each acknowledged post gets a tracker that polls a random
//! follower's (member's) home timeline until the post shows up: the delivery delay a
//! Mastodon client would see, without streaming.
//!
//! `stream` (in [`stream`]) measures the same delay with streaming clients instead, and
//! `web` (in [`web`]) the web UI's home page as signed-in browsers get it.

mod stream;
mod web;

use crate::cli::{Plan, Workload};
use crate::report::{CpuSample, MemorySample};
use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;
use url::Url;

/// Home reads per post in the `mixed` workload.
const MIXED_READS_PER_POST: u32 = 60;
/// How often the celebrity posts in the `celebrity` workload.
const CELEBRITY_POST_EVERY: Duration = Duration::from_millis(200);
/// How often a delivery tracker polls the follower's home timeline.
const DELIVERY_POLL_EVERY: Duration = Duration::from_millis(10);
/// When a delivery tracker gives up and counts the post as not delivered.
const DELIVERY_GIVE_UP: Duration = Duration::from_secs(5);
/// Distinct failure descriptions kept per line to show on stderr.
const ERROR_SAMPLES: usize = 5;
/// Highest latency the histograms track (60 s, in microseconds); longer ones saturate.
const MAX_TRACKED_MICROS: u64 = 60_000_000;

/// One seeded account and its bearer token (its `id` is in the file too, but unused).
#[derive(Debug, Clone, Deserialize)]
pub struct Account {
    /// Its username.
    pub username: String,
    /// A token with the `read write follow` scopes.
    pub token: String,
}

/// The tokens file written by `starling admin seed --tokens-out`.
#[derive(Debug, Clone, Deserialize)]
pub struct Tokens {
    /// The account every active account follows.
    pub celebrity: Account,
    /// The all-company group the celebrity owns and the active accounts belong to.
    #[serde(default)]
    pub group_id: Option<String>,
    /// The active accounts.
    pub users: Vec<Account>,
    /// The password every seeded account shares (for signing in to the web UI).
    #[serde(default)]
    pub base_password: Option<String>,
}

impl Tokens {
    /// Reads and checks a tokens file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read the tokens file {} (seed first, or pass --tokens)",
                path.display()
            )
        })?;
        let tokens: Tokens = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a seeding tokens file", path.display()))?;
        if tokens.users.is_empty() {
            bail!("{} lists no active users", path.display());
        }
        Ok(tokens)
    }
}

/// Requests, failures and a latency histogram in microseconds.
#[derive(Debug, Clone)]
pub struct Recorder {
    /// Latencies of every request, successful or not, in microseconds.
    pub histogram: Histogram<u64>,
    /// Requests sent (or, for delivery, posts tracked).
    pub requests: u64,
    /// Requests that failed: transport errors and non-2xx answers.
    pub errors: u64,
    /// The first few distinct failures, for diagnosis.
    pub samples: Vec<String>,
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self {
            histogram: Histogram::new_with_bounds(1, MAX_TRACKED_MICROS, 3)?,
            requests: 0,
            errors: 0,
            samples: Vec::new(),
        })
    }

    /// Counts one request and its latency; `Err` carries a description of the failure.
    pub fn record<T>(&mut self, latency: Duration, outcome: &Result<T, String>) {
        self.requests += 1;
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.histogram.saturating_record(micros.max(1));
        if let Err(e) = outcome {
            self.fail(e);
        }
    }

    /// Counts a failure without a latency (an undelivered post); the caller counts the
    /// request.
    pub fn fail(&mut self, description: &str) {
        self.errors += 1;
        // Distinct only: a failing workload usually repeats one error thousands of times.
        if self.samples.len() < ERROR_SAMPLES && !self.samples.iter().any(|s| s == description) {
            self.samples.push(description.to_owned());
        }
    }

    /// Adds another worker's counts to these.
    pub fn merge(&mut self, other: Recorder) -> anyhow::Result<()> {
        self.histogram.add(&other.histogram)?;
        self.requests += other.requests;
        self.errors += other.errors;
        for sample in other.samples {
            if self.samples.len() < ERROR_SAMPLES && !self.samples.contains(&sample) {
                self.samples.push(sample);
            }
        }
        Ok(())
    }
}

/// The lines of several rounds pooled by label, in the order they first appear: their
/// requests, failures and latencies added up, and their times too, so a pooled rate is
/// the rounds' mean.
pub fn pool(rounds: Vec<Vec<Line>>) -> anyhow::Result<Vec<Line>> {
    let mut pooled: Vec<Line> = Vec::new();
    for line in rounds.into_iter().flatten() {
        match pooled.iter_mut().find(|p| p.label == line.label) {
            Some(p) => {
                p.elapsed = match (p.elapsed, line.elapsed) {
                    (Some(a), Some(b)) => Some(a + b),
                    (a, b) => a.or(b),
                };
                p.recorder.merge(line.recorder)?;
            }
            None => pooled.push(line),
        }
    }
    Ok(pooled)
}

/// Latencies of a closed loop's requests by what they were: the `mixed` workload reports
/// its reads and its posts apart too.
struct Kinds {
    home: Recorder,
    post: Recorder,
    /// Everything else (the `instance` ceiling): not reported apart.
    other: Recorder,
}

impl Kinds {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            home: Recorder::new()?,
            post: Recorder::new()?,
            other: Recorder::new()?,
        })
    }

    /// The recorder of requests of `op` (as sent, never `Op::Mixed`).
    fn of(&mut self, op: Op) -> &mut Recorder {
        match op {
            Op::Home => &mut self.home,
            Op::Post => &mut self.post,
            Op::Instance | Op::Mixed => &mut self.other,
        }
    }

    fn merge(&mut self, other: Kinds) -> anyhow::Result<()> {
        self.home.merge(other.home)?;
        self.post.merge(other.post)?;
        self.other.merge(other.other)
    }
}

/// One line of results.
#[derive(Debug, Clone)]
pub struct Line {
    /// `home`, `celebrity: post`, …
    pub label: String,
    /// How long it ran, for the throughput; `None` where a rate means nothing (delivery).
    pub elapsed: Option<Duration>,
    /// Whether its throughput is comparable to the `instance` ceiling (one request per
    /// connection at a time, like the ceiling), so the ratio is shown.
    pub vs_ceiling: bool,
    /// Whether its throughput counts only the successful requests (events delivered,
    /// for `stream: delivery`) rather than all.
    pub successes_only: bool,
    /// The counts.
    pub recorder: Recorder,
}

/// What one workload measured.
#[derive(Debug)]
pub struct Measured {
    /// Its lines of results.
    pub lines: Vec<Line>,
    /// The server's memory at moments of the workload (only `stream` takes any).
    pub memory: Vec<MemorySample>,
    /// The server's CPU use during parts of the workload (only `stream` measures it).
    pub cpu: Vec<CpuSample>,
}

/// The server and accounts the workloads use.
pub struct Load {
    client: reqwest::Client,
    tokens: Option<Arc<Tokens>>,
    instance_url: Url,
    home_url: Url,
    statuses_url: Url,
    streaming_url: Url,
    /// A client that does not follow redirects, for the web UI (`web`).
    web_http: reqwest::Client,
    sign_in_url: Url,
    home_page_url: Url,
    /// How long each workload runs.
    pub duration: Duration,
    /// Concurrent connections.
    pub connections: usize,
    /// Streaming clients of the `stream` workload.
    pub stream_clients: usize,
    rng_seed: u64,
    /// The server's process, when this harness started it: its memory and open files
    /// can then be read.
    server_pid: Option<u32>,
}

impl Load {
    /// Prepares `plan`'s workloads against `base` (e.g. `http://127.0.0.1:8080/`), whose
    /// process is `server_pid` when known.
    pub fn new(
        client: reqwest::Client,
        base: &Url,
        tokens: Option<Tokens>,
        plan: &Plan,
        server_pid: Option<u32>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            client,
            tokens: tokens.map(Arc::new),
            instance_url: base.join("api/v1/instance")?,
            home_url: base.join("api/v1/timelines/home?limit=20")?,
            statuses_url: base.join("api/v1/statuses")?,
            streaming_url: base.join("api/v1/streaming/user")?,
            // The sign-in's answer is a redirect whose cookie must be read, and a page
            // that redirects is a failure, not a page.
            web_http: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .pool_max_idle_per_host(plan.connections)
                .connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(30))
                .build()?,
            sign_in_url: base.join("sign-in")?,
            home_page_url: base.join("home")?,
            duration: plan.duration,
            connections: plan.connections,
            stream_clients: plan.stream_clients,
            rng_seed: plan.rng_seed,
            server_pid,
        })
    }

    /// Reads home timelines for `duration` without recording anything, so measuring starts
    /// with the server's and the operating system's caches warm, as a running server's
    /// are (right after seeding, the first workload otherwise pays for cold caches).
    pub async fn warm_up(&self, duration: Duration) -> anyhow::Result<()> {
        let Some(tokens) = &self.tokens else {
            return Ok(());
        };
        let warm = Self {
            client: self.client.clone(),
            tokens: Some(Arc::clone(tokens)),
            instance_url: self.instance_url.clone(),
            home_url: self.home_url.clone(),
            statuses_url: self.statuses_url.clone(),
            streaming_url: self.streaming_url.clone(),
            web_http: self.web_http.clone(),
            sign_in_url: self.sign_in_url.clone(),
            home_page_url: self.home_page_url.clone(),
            duration,
            connections: self.connections,
            stream_clients: self.stream_clients,
            rng_seed: self.rng_seed,
            server_pid: self.server_pid,
        };
        warm.closed_loop(
            Op::Home,
            self.connections,
            Some(Arc::clone(tokens)),
            !self.rng_seed,
        )
        .await?;
        Ok(())
    }

    /// Runs one workload for the configured duration in round `round` (from 0); returns
    /// its line(s) of results.
    pub async fn run(&self, workload: Workload, round: u32) -> anyhow::Result<Measured> {
        let tokens = match (workload.needs_tokens(), &self.tokens) {
            (false, _) => None,
            (true, Some(tokens)) => Some(Arc::clone(tokens)),
            (true, None) => bail!("the {} workload needs the tokens file", workload.name()),
        };
        // Each workload (and each round of it) gets its own stream of random choices, so
        // re-running one workload alone with the same --rng-seed repeats exactly what it
        // did in a full run's first round.
        let seed = self.rng_seed
            ^ (workload as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ u64::from(round).wrapping_mul(0xD1B5_4A32_D192_ED03);
        let op = match workload {
            Workload::Instance => Op::Instance,
            Workload::Home => Op::Home,
            Workload::Post => Op::Post,
            Workload::Mixed => Op::Mixed,
            Workload::Celebrity | Workload::Group => {
                let in_group = workload == Workload::Group;
                let lines = self.announcer(tokens, seed, in_group).await?;
                return Ok(Measured {
                    lines,
                    memory: Vec::new(),
                    cpu: Vec::new(),
                });
            }
            Workload::Stream => return self.stream(tokens, seed).await,
            Workload::Web => return self.web(tokens, seed).await,
        };
        let (elapsed, recorder, kinds) =
            self.closed_loop(op, self.connections, tokens, seed).await?;
        let mut lines = vec![Line {
            label: workload.name().to_owned(),
            elapsed: Some(elapsed),
            vs_ceiling: true,
            successes_only: false,
            recorder,
        }];
        // The mixed load's reads and posts apart: its tail is mostly the posts'.
        if workload == Workload::Mixed {
            for (kind, recorder) in [("home read", kinds.home), ("post", kinds.post)] {
                lines.push(Line {
                    label: format!("{}: {kind}", workload.name()),
                    elapsed: Some(elapsed),
                    vs_ceiling: false,
                    successes_only: false,
                    recorder,
                });
            }
        }
        Ok(Measured {
            lines,
            memory: Vec::new(),
            cpu: Vec::new(),
        })
    }

    /// What one task needs to send requests.
    fn client(&self, tokens: Option<Arc<Tokens>>) -> Client {
        Client {
            http: self.client.clone(),
            tokens,
            instance_url: self.instance_url.clone(),
            home_url: self.home_url.clone(),
            statuses_url: self.statuses_url.clone(),
        }
    }

    /// `workers` tasks sending `op` back to back until the duration is up.
    async fn closed_loop(
        &self,
        op: Op,
        workers: usize,
        tokens: Option<Arc<Tokens>>,
        seed: u64,
    ) -> anyhow::Result<(Duration, Recorder, Kinds)> {
        let started = Instant::now();
        let deadline = started + self.duration;
        let mut tasks = JoinSet::new();
        for worker in 0..workers {
            let client = self.client(tokens.clone());
            let mut rng = StdRng::seed_from_u64(seed.wrapping_add(worker as u64));
            let mut recorder = Recorder::new()?;
            let mut kinds = Kinds::new()?;
            tasks.spawn(async move {
                while Instant::now() < deadline {
                    let (sent, latency, outcome) = client.send(op, &mut rng).await;
                    recorder.record(latency, &outcome);
                    kinds.of(sent).record(latency, &outcome);
                }
                (recorder, kinds)
            });
        }
        let mut total = Recorder::new()?;
        let mut kinds = Kinds::new()?;
        while let Some(done) = tasks.join_next().await {
            let (recorder, of_kind) = done?;
            total.merge(recorder)?;
            kinds.merge(of_kind)?;
        }
        Ok((started.elapsed(), total, kinds))
    }

    /// Home reads on all connections but one; on that one the celebrity posts every
    /// 200 ms (in the all-company group with `in_group`), and each post's delivery to a
    /// random follower (member) is tracked.
    async fn announcer(
        &self,
        tokens: Option<Arc<Tokens>>,
        seed: u64,
        in_group: bool,
    ) -> anyhow::Result<Vec<Line>> {
        let label = if in_group { "group" } else { "celebrity" };
        let tokens =
            tokens.with_context(|| format!("the {label} workload needs the tokens file"))?;
        let group = match (in_group, &tokens.group_id) {
            (false, _) => None,
            (true, Some(g)) => Some(g.clone()),
            (true, None) => bail!(
                "the group workload needs a network seeded with a group (--group-members > 0)"
            ),
        };
        let client = self.client(Some(Arc::clone(&tokens)));
        let celebrity_token = tokens.celebrity.token.clone();
        let duration = self.duration;
        let mut rng = StdRng::seed_from_u64(seed.wrapping_sub(1));
        let mut posts = Recorder::new()?;
        let mut delivery = Recorder::new()?;
        let poster = tokio::spawn(async move {
            let started = Instant::now();
            let deadline = started + duration;
            let mut trackers = JoinSet::new();
            let mut tick = tokio::time::interval(CELEBRITY_POST_EVERY);
            // A slow post delays the next one rather than triggering a burst to catch up.
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if Instant::now() >= deadline {
                    break;
                }
                let text = random_text(&mut rng);
                let (latency, outcome) = client
                    .post_as(&celebrity_token, text, group.as_deref())
                    .await;
                posts.record(latency, &outcome);
                if let Ok(id) = outcome {
                    let acked = Instant::now();
                    let tracker = client.clone();
                    let follower = client.random_user(&mut rng).cloned();
                    trackers
                        .spawn(async move { tracker.await_delivery(&follower?, &id, acked).await });
                }
            }
            let elapsed = started.elapsed();
            while let Some(done) = trackers.join_next().await {
                match done {
                    Ok(Ok(delay)) => delivery.record(delay, &Ok::<(), String>(())),
                    Ok(Err(e)) => {
                        delivery.requests += 1;
                        delivery.fail(&e);
                    }
                    Err(e) => {
                        delivery.requests += 1;
                        delivery.fail(&format!("delivery tracker failed: {e}"));
                    }
                }
            }
            (elapsed, posts, delivery)
        });
        let readers = self.connections.saturating_sub(1);
        let (elapsed, reads, _) = self
            .closed_loop(Op::Home, readers, Some(tokens), seed)
            .await?;
        let (posting_time, posts, delivery) = poster.await?;
        let mut lines = Vec::new();
        if readers > 0 {
            lines.push(Line {
                label: label.to_owned(),
                elapsed: Some(elapsed),
                vs_ceiling: true,
                successes_only: false,
                recorder: reads,
            });
        }
        lines.push(Line {
            label: format!("{label}: post"),
            elapsed: Some(posting_time),
            vs_ceiling: false,
            successes_only: false,
            recorder: posts,
        });
        lines.push(Line {
            label: format!("{label}: delivery"),
            elapsed: None,
            vs_ceiling: false,
            successes_only: false,
            recorder: delivery,
        });
        Ok(lines)
    }
}

/// What one request of a closed-loop worker is.
#[derive(Debug, Clone, Copy)]
enum Op {
    Instance,
    Home,
    Post,
    Mixed,
}

/// What a worker needs to send requests; cheap to clone (the HTTP client is an `Arc`).
#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    tokens: Option<Arc<Tokens>>,
    instance_url: Url,
    home_url: Url,
    statuses_url: Url,
}

/// The part of a Mastodon status (or account) the harness looks at.
#[derive(Deserialize)]
struct WithId {
    id: String,
}

impl Client {
    /// A random active user (every one of them follows the celebrity).
    fn random_user(&self, rng: &mut StdRng) -> Result<&Account, String> {
        // `Load::run` refuses workloads that need tokens when there are none, so the
        // error is for completeness, not a case that happens.
        self.tokens
            .as_ref()
            .and_then(|t| t.users.choose(rng))
            .ok_or_else(|| "no tokens file".to_owned())
    }

    /// Sends one request of `op`; returns what was sent (a mixed load's read or post).
    async fn send(&self, op: Op, rng: &mut StdRng) -> (Op, Duration, Result<(), String>) {
        let op = match op {
            Op::Mixed if rng.gen_ratio(1, MIXED_READS_PER_POST + 1) => Op::Post,
            Op::Mixed => Op::Home,
            other => other,
        };
        let (latency, outcome) = self.send_one(op, rng).await;
        (op, latency, outcome)
    }

    async fn send_one(&self, op: Op, rng: &mut StdRng) -> (Duration, Result<(), String>) {
        match op {
            Op::Instance => {
                let request = self.http.get(self.instance_url.clone());
                exchange("GET /api/v1/instance", request, |_| Ok(())).await
            }
            Op::Home | Op::Mixed => {
                let token = match self.random_user(rng) {
                    Ok(user) => &user.token,
                    Err(e) => return (Duration::ZERO, Err(e)),
                };
                self.home_page(token).await
            }
            Op::Post => {
                let token = match self.random_user(rng) {
                    Ok(user) => user.token.clone(),
                    Err(e) => return (Duration::ZERO, Err(e)),
                };
                let (latency, outcome) = self.post_as(&token, random_text(rng), None).await;
                (latency, outcome.map(drop))
            }
        }
    }

    /// `GET /api/v1/timelines/home?limit=20` as load: the body must be a JSON array, but
    /// is not parsed. Parsing a 30 kB page cost this process ~15 µs more CPU per read
    /// (0.053 → 0.040 ms), on the cores the server runs on; what the server answers is
    /// the tests' business.
    async fn home_page(&self, token: &str) -> (Duration, Result<(), String>) {
        let request = self.http.get(self.home_url.clone()).bearer_auth(token);
        exchange("GET /api/v1/timelines/home", request, |body| {
            let body = body.trim_ascii();
            if body.starts_with(b"[") && body.ends_with(b"]") {
                Ok(())
            } else {
                Err("home timeline is not a JSON array".to_owned())
            }
        })
        .await
    }

    /// `GET /api/v1/timelines/home?limit=20`: the ids of the statuses.
    async fn home(&self, token: &str) -> (Duration, Result<Vec<WithId>, String>) {
        let request = self.http.get(self.home_url.clone()).bearer_auth(token);
        exchange("GET /api/v1/timelines/home", request, |body| {
            serde_json::from_slice(body)
                .map_err(|e| format!("home timeline is not a list of statuses: {e}"))
        })
        .await
    }

    /// `POST /api/v1/statuses` (in a group with `group_id`): the new status's id.
    async fn post_as(
        &self,
        token: &str,
        text: String,
        group_id: Option<&str>,
    ) -> (Duration, Result<String, String>) {
        let mut form = vec![("status", text)];
        if let Some(g) = group_id {
            form.push(("group_id", g.to_owned()));
        }
        let request = self
            .http
            .post(self.statuses_url.clone())
            .bearer_auth(token)
            .form(&form);
        exchange("POST /api/v1/statuses", request, |body| {
            serde_json::from_slice::<WithId>(body)
                .map(|s| s.id)
                .map_err(|e| format!("the new status has no id: {e}"))
        })
        .await
    }

    /// Polls a follower's home timeline until status `id` is in it: the time since `acked`.
    async fn await_delivery(
        &self,
        follower: &Account,
        id: &str,
        acked: Instant,
    ) -> Result<Duration, String> {
        let mut poll = tokio::time::interval(DELIVERY_POLL_EVERY);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_error = String::new();
        loop {
            poll.tick().await;
            if acked.elapsed() > DELIVERY_GIVE_UP {
                return Err(format!(
                    "status {id} not in @{}'s home timeline after {} s{}",
                    follower.username,
                    DELIVERY_GIVE_UP.as_secs(),
                    if last_error.is_empty() {
                        String::new()
                    } else {
                        format!(" (last poll: {last_error})")
                    }
                ));
            }
            match self.home(&follower.token).await.1 {
                Ok(statuses) if statuses.iter().any(|s| s.id == id) => return Ok(acked.elapsed()),
                Ok(_) => {}
                Err(e) => last_error = e,
            }
        }
    }
}

/// Sends a request, reads the whole body and times both; a non-2xx status or a body
/// `parse` rejects is a failure. `what` names the request in failure descriptions.
async fn exchange<T>(
    what: &str,
    request: reqwest::RequestBuilder,
    parse: impl FnOnce(&[u8]) -> Result<T, String>,
) -> (Duration, Result<T, String>) {
    let started = Instant::now();
    let response = match request.send().await {
        Ok(response) => response,
        Err(e) => {
            return (
                started.elapsed(),
                Err(format!("{what}: {}", error_chain(&e))),
            );
        }
    };
    let status = response.status();
    let body = match response.bytes().await {
        Ok(body) => body,
        Err(e) => {
            return (
                started.elapsed(),
                Err(format!("{what}: reading the body: {}", error_chain(&e))),
            );
        }
    };
    let latency = started.elapsed();
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body);
        let snippet: String = text.chars().take(300).collect();
        return (latency, Err(format!("{what}: HTTP {status}: {snippet}")));
    }
    (latency, parse(&body).map_err(|e| format!("{what}: {e}")))
}

/// An error and its causes on one line (reqwest's own message omits the cause).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

/// A post of 40 to 140 ASCII characters: lowercase words of 2 to 9 letters, so no
/// mentions, hashtags or links add work the benchmark does not mean to measure.
pub fn random_text(rng: &mut impl Rng) -> String {
    let length = rng.gen_range(40..=140);
    let mut text = String::with_capacity(length + 10);
    while text.len() < length {
        if !text.is_empty() {
            text.push(' ');
        }
        for _ in 0..rng.gen_range(2..=9) {
            text.push(char::from(rng.gen_range(b'a'..=b'z')));
        }
    }
    text.truncate(length);
    // Cutting just after a word leaves a trailing space the server would trim.
    if text.ends_with(' ') {
        text.pop();
        text.push('s');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_texts_are_40_to_140_letters_and_spaces() {
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..1000 {
            let text = random_text(&mut rng);
            assert!((40..=140).contains(&text.len()), "{text:?}");
            assert!(text.bytes().all(|b| b == b' ' || b.is_ascii_lowercase()));
            assert_eq!(text.trim(), text);
        }
    }

    #[test]
    fn a_mixed_loads_reads_and_posts_are_kept_apart() -> anyhow::Result<()> {
        let mut a = Kinds::new()?;
        let mut b = Kinds::new()?;
        a.of(Op::Home)
            .record(Duration::from_millis(2), &Ok::<(), String>(()));
        a.of(Op::Post)
            .record(Duration::from_millis(30), &Ok::<(), String>(()));
        b.of(Op::Home)
            .record(Duration::from_millis(3), &Err::<(), _>("x".into()));
        b.of(Op::Instance)
            .record(Duration::from_millis(1), &Ok::<(), String>(()));
        a.merge(b)?;
        assert_eq!((a.home.requests, a.home.errors), (2, 1));
        assert_eq!((a.post.requests, a.post.errors), (1, 0));
        assert!(a.post.histogram.min() >= 30_000);
        assert_eq!(a.other.requests, 1);
        Ok(())
    }

    #[test]
    fn recorders_merge_counts_and_keep_few_samples() -> anyhow::Result<()> {
        let mut a = Recorder::new()?;
        let mut b = Recorder::new()?;
        for i in 0..4 {
            a.record(Duration::from_millis(i), &Err::<(), _>(format!("a{i}")));
            a.record(Duration::from_millis(i), &Err::<(), _>(format!("a{i}")));
            b.record(Duration::from_millis(i), &Err::<(), _>(format!("b{i}")));
        }
        b.record(Duration::from_secs(120), &Ok::<(), String>(()));
        a.merge(b)?;
        assert_eq!((a.requests, a.errors), (13, 12));
        assert_eq!(a.samples, ["a0", "a1", "a2", "a3", "b0"]);
        assert_eq!(
            a.histogram.max(),
            a.histogram.highest_equivalent(MAX_TRACKED_MICROS)
        );
        Ok(())
    }
}
