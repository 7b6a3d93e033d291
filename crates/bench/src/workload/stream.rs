//! The `stream` workload: what people with a Mastodon client open see. The celebrity posts
//! every 200 ms while `--stream-clients` streams (`GET /api/v1/streaming/user`) are open,
//! each signed in as an active account; all of those follow the celebrity, so every stream
//! should carry every post as an `update` event, and the delay until it does is the
//! "post→event" figure the streaming API is judged by.
//!
//! Why it is built this way:
//! - Server-Sent Events, not WebSocket: the server feeds both from the same subscription,
//!   so the delivery path measured is the same, and SSE is one `GET` whose body never ends,
//!   read with the HTTP client the harness already has (no new dependency).
//! - One task per stream, not one thread: the harness shares the server's cores, so a
//!   stream must cost it almost nothing. Per event a task only finds the status id at the
//!   start of the `data:` line (the server writes `id` first) and notes the time; arrivals
//!   are matched to posts once, after the run, so the hot path has no lock or map.
//! - The delay runs from just before the post is sent, not from its answer: the server
//!   publishes the event before it answers, so a stream may well hear of a post before its
//!   author does. The post's own latency is a line of its own.
//! - The post latency is measured twice on the same server, first with no stream open and
//!   then with all of them, so "posting is not slowed down by streams" reads off two
//!   adjacent lines.
//! - The server's RSS is read before, with the streams open, after the posts and after the
//!   streams closed, to show whether memory grows while clients are connected and posts
//!   flow; and the workload ends only once the server has let go of the closed connections
//!   (its open files are back to where they were), so that dead streams do not weigh on the
//!   next workload.

use super::{
    Account, CELEBRITY_POST_EVERY, Client, DELIVERY_GIVE_UP, Line, Load, Measured, Recorder,
    Tokens, WithId, error_chain, random_text,
};
use crate::report::{CpuSample, MemorySample};
use crate::server::{self, Memory};
use anyhow::Context;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use url::Url;

/// How long all streams together may take to open before posting starts without the rest.
const OPEN_GIVE_UP: Duration = Duration::from_secs(60);
/// How long the server may take to close its end of the streams after the harness closed
/// its own (more than the 15 s heartbeat, whose write would reveal a dead connection).
const RELEASE_GIVE_UP: Duration = Duration::from_secs(20);
/// Open files the server may have beyond its count before the workload and still be
/// considered back to normal (keep-alive connections come and go).
const RELEASE_SLACK: usize = 16;
/// How often the waits below look again.
const CHECK_EVERY: Duration = Duration::from_millis(10);

impl Load {
    /// The `stream` workload (see the module documentation).
    pub(super) async fn stream(
        &self,
        tokens: Option<Arc<Tokens>>,
        seed: u64,
    ) -> anyhow::Result<Measured> {
        let tokens = tokens.context("the stream workload needs the tokens file")?;
        let clients = self.stream_clients;
        let mut memory = Vec::new();
        memory.extend(self.rss_sample("before `stream`".to_owned()));
        let files_before = self
            .server_pid
            .and_then(|pid| server::open_files_of(pid).ok());

        let poster = self.client(Some(Arc::clone(&tokens)));
        let celebrity = tokens.celebrity.token.clone();
        let mut rng = StdRng::seed_from_u64(seed);
        let mut cpu = Vec::new();
        eprintln!("  posting with no stream open…");
        let meter = self.cpu_meter();
        let idle = post_steadily(&poster, &celebrity, &mut rng, self.duration).await?;
        cpu.extend(self.cpu_sample(meter, "posting with no stream open", 0));

        eprintln!("  opening {clients} streams…");
        // Its own client: the shared one gives up on a response after 30 s, and a stream
        // is a response that never ends. Streams are not reused, so none is kept idle.
        let http = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(0)
            .build()?;
        // Opened `connections` at a time, like a burst of clients coming back online,
        // rather than all 1,000 handshakes at once.
        let gate = Arc::new(Semaphore::new(self.connections));
        let received = Arc::new(AtomicU64::new(0));
        let (stop, stopped) = watch::channel(false);
        let (opened_tx, mut opened) = mpsc::channel(clients);
        let mut streams = JoinSet::new();
        let opening = Instant::now();
        for i in 0..clients {
            streams.spawn(read_stream(StreamTask {
                http: http.clone(),
                url: self.streaming_url.clone(),
                account: tokens.users[i % tokens.users.len()].clone(),
                gate: Arc::clone(&gate),
                opened: opened_tx.clone(),
                received: Arc::clone(&received),
                stop: stopped.clone(),
            }));
        }
        drop(opened_tx);
        let (mut answered, mut open) = (0, 0_u64);
        let open_deadline = tokio::time::Instant::now() + OPEN_GIVE_UP;
        while answered < clients {
            match tokio::time::timeout_at(open_deadline, opened.recv()).await {
                Ok(Some(ok)) => {
                    answered += 1;
                    open += u64::from(ok);
                }
                // Every task has answered, or the time is up.
                Ok(None) | Err(_) => break,
            }
        }
        eprintln!(
            "  {open} of {clients} streams open in {:.2} s",
            opening.elapsed().as_secs_f64()
        );
        memory.extend(self.rss_sample(format!("with {open} streaming clients connected")));

        eprintln!(
            "  posting to them for {:.1} s…",
            self.duration.as_secs_f64()
        );
        let meter = self.cpu_meter();
        let live = post_steadily(&poster, &celebrity, &mut rng, self.duration).await?;
        // The last deliveries: until every open stream has had every post, or one post's
        // delay could no longer count anyway.
        let expected = live.posts.len() as u64 * open;
        let give_up = Instant::now() + DELIVERY_GIVE_UP;
        while received.load(Ordering::Relaxed) < expected && Instant::now() < give_up {
            tokio::time::sleep(CHECK_EVERY).await;
        }
        let events = received.load(Ordering::Relaxed);
        cpu.extend(self.cpu_sample(meter, &format!("posting to {open} streams"), events));
        memory.extend(self.rss_sample(format!(
            "after {:.1} s of posts to them",
            live.elapsed.as_secs_f64()
        )));

        // Every task drops its response, which closes its connection.
        let _ = stop.send(true);
        let mut runs = Vec::with_capacity(clients);
        while let Some(done) = streams.join_next().await {
            runs.push(done.context("a stream's task failed")?);
        }
        if let (Some(pid), Some(before)) = (self.server_pid, files_before) {
            wait_for_release(pid, before).await;
            memory.extend(self.rss_sample("after they disconnected".to_owned()));
        }

        let (connect, delivery) = tally(&runs, &live.posts)?;
        let line = |label: &str, elapsed, successes_only, recorder| Line {
            label: format!("stream: {label}"),
            elapsed,
            vs_ceiling: false,
            successes_only,
            recorder,
        };
        Ok(Measured {
            lines: vec![
                line("post, no clients", Some(idle.elapsed), false, idle.recorder),
                line("connect", None, false, connect),
                line("post", Some(live.elapsed), false, live.recorder),
                // Its rate is events delivered per second of posting.
                line("delivery", Some(live.elapsed), true, delivery),
            ],
            memory,
            cpu,
        })
    }

    /// The server's CPU time so far and the time now, to measure from (if this harness
    /// started the server).
    fn cpu_meter(&self) -> Option<(Duration, Instant)> {
        let pid = self.server_pid?;
        let used = server::cpu_time_of(pid)
            .inspect_err(|e| eprintln!("warning: cannot read the server's CPU time: {e:#}"))
            .ok()?;
        Some((used, Instant::now()))
    }

    /// The server's CPU use since `meter` (also on stderr), per event when `events`
    /// were delivered.
    fn cpu_sample(
        &self,
        meter: Option<(Duration, Instant)>,
        during: &str,
        events: u64,
    ) -> Option<CpuSample> {
        let (before, since) = meter?;
        let (after, _) = self.cpu_meter()?;
        let used = after.saturating_sub(before).as_secs_f64();
        let elapsed = since.elapsed().as_secs_f64();
        let sample = CpuSample {
            during: during.to_owned(),
            cores: if elapsed > 0.0 { used / elapsed } else { 0.0 },
            per_event_us: (events > 0).then(|| used * 1e6 / events as f64),
        };
        eprintln!("  server CPU {during}: {:.2} cores", sample.cores);
        Some(sample)
    }

    /// The server's resident memory now, if this harness started it (also on stderr).
    fn rss_sample(&self, when: String) -> Option<MemorySample> {
        let pid = self.server_pid?;
        match server::memory_of(pid) {
            Ok(Memory {
                rss_kib: Some(rss_kib),
                ..
            }) => {
                eprintln!("  server RSS {when}: {:.1} MiB", rss_kib as f64 / 1024.0);
                Some(MemorySample { when, rss_kib })
            }
            Ok(_) => None,
            Err(e) => {
                eprintln!("warning: cannot read the server's memory: {e:#}");
                None
            }
        }
    }
}

/// Waits until server `pid` has closed its end of the streams: its open files are back
/// to `before` (give or take [`RELEASE_SLACK`]). Only says on stderr how it went.
async fn wait_for_release(pid: u32, before: usize) {
    let started = Instant::now();
    loop {
        match server::open_files_of(pid) {
            Ok(now) if now <= before + RELEASE_SLACK => {
                eprintln!(
                    "  the server closed the streams in {:.2} s",
                    started.elapsed().as_secs_f64()
                );
                return;
            }
            Ok(now) if started.elapsed() > RELEASE_GIVE_UP => {
                eprintln!(
                    "warning: {} s after the streams were closed, the server still has {} \
                     more open files than before them",
                    RELEASE_GIVE_UP.as_secs(),
                    now - before
                );
                return;
            }
            Ok(_) => tokio::time::sleep(CHECK_EVERY).await,
            Err(e) => {
                eprintln!("warning: cannot count the server's open files: {e:#}");
                return;
            }
        }
    }
}

/// A post the celebrity made: its id and when its request was about to be sent.
#[derive(Debug, Clone, Copy)]
struct Sent {
    id: u64,
    at: Instant,
}

/// One period of steady posting.
struct Posting {
    elapsed: Duration,
    recorder: Recorder,
    posts: Vec<Sent>,
}

/// Posts as `token` every 200 ms for `duration` (a slow post delays the next one rather
/// than causing a burst), recording each post's latency.
async fn post_steadily(
    client: &Client,
    token: &str,
    rng: &mut StdRng,
    duration: Duration,
) -> anyhow::Result<Posting> {
    let started = Instant::now();
    let deadline = started + duration;
    let mut recorder = Recorder::new()?;
    let mut posts = Vec::new();
    let mut tick = tokio::time::interval(CELEBRITY_POST_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if Instant::now() >= deadline {
            break;
        }
        let text = random_text(rng);
        let at = Instant::now();
        let (latency, outcome) = client.post_as(token, text, None).await;
        let outcome = outcome.and_then(|id| {
            id.parse::<u64>().map_err(|_| {
                format!("POST /api/v1/statuses: the new status's id {id:?} is not a number")
            })
        });
        recorder.record(latency, &outcome);
        if let Ok(id) = outcome {
            posts.push(Sent { id, at });
        }
    }
    Ok(Posting {
        elapsed: started.elapsed(),
        recorder,
        posts,
    })
}

/// The time to open each stream, and each post's delay to each stream (every stream
/// opened or not counts every post; one missing, or later than [`DELIVERY_GIVE_UP`], is
/// a failure).
fn tally(runs: &[StreamRun], posts: &[Sent]) -> anyhow::Result<(Recorder, Recorder)> {
    let mut connect = Recorder::new()?;
    let mut delivery = Recorder::new()?;
    let index: HashMap<u64, usize> = posts.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
    let mut first = vec![None; posts.len()];
    for run in runs {
        let user = &run.username;
        let opened = match &run.connect_error {
            Some(e) => Err(format!("@{user}'s stream: {e}")),
            None => Ok(()),
        };
        connect.record(run.connect_time, &opened);
        first.fill(None);
        for (id, at) in &run.arrivals {
            if let Some(&i) = index.get(id) {
                first[i].get_or_insert(*at);
            }
        }
        let missing = || match (&run.connect_error, &run.ended, &run.bad_frame) {
            (Some(e), _, _) => format!("@{user}'s stream never opened: {e}"),
            (None, Some(why), _) => format!("@{user}'s stream ended early: {why}"),
            (None, None, Some(bad)) => format!("@{user}'s stream: {bad}"),
            (None, None, None) => format!(
                "a post never reached @{user}'s open stream within {} s",
                DELIVERY_GIVE_UP.as_secs()
            ),
        };
        for (post, arrived) in posts.iter().zip(&first) {
            match arrived {
                Some(at) => {
                    let delay = at.saturating_duration_since(post.at);
                    let outcome = if delay <= DELIVERY_GIVE_UP {
                        Ok(())
                    } else {
                        Err(format!(
                            "status {} reached @{user}'s stream only after {:.1} s",
                            post.id,
                            delay.as_secs_f64()
                        ))
                    };
                    delivery.record(delay, &outcome);
                }
                None => {
                    delivery.requests += 1;
                    delivery.fail(&missing());
                }
            }
        }
    }
    Ok((connect, delivery))
}

/// What one stream's task needs.
struct StreamTask {
    http: reqwest::Client,
    url: Url,
    account: Account,
    /// Limits how many streams are being opened at once.
    gate: Arc<Semaphore>,
    /// Told once whether the stream opened.
    opened: mpsc::Sender<bool>,
    /// `update` events received by all streams, for knowing when deliveries are complete.
    received: Arc<AtomicU64>,
    /// Becomes `true` when the streams should close.
    stop: watch::Receiver<bool>,
}

/// What one stream saw.
#[derive(Debug)]
struct StreamRun {
    username: String,
    /// From sending the request to its opening `:)` (or to the failure).
    connect_time: Duration,
    /// Why it did not open.
    connect_error: Option<String>,
    /// Status ids of `update` events and when they arrived.
    arrivals: Vec<(u64, Instant)>,
    /// Why it ended before the harness closed it.
    ended: Option<String>,
    /// The first `update` event whose status id could not be read.
    bad_frame: Option<String>,
}

/// Opens one stream, tells whether it opened, then notes each `update` event's status id
/// and arrival time until told to stop; returning drops the response, which closes the
/// connection.
async fn read_stream(task: StreamTask) -> StreamRun {
    let StreamTask {
        http,
        url,
        account,
        gate,
        opened,
        received,
        mut stop,
    } = task;
    let mut run = StreamRun {
        username: account.username,
        connect_time: Duration::ZERO,
        connect_error: None,
        arrivals: Vec::new(),
        ended: None,
        bad_frame: None,
    };
    // The semaphore is never closed; without a permit the stream would just open ungated.
    let permit = gate.acquire_owned().await.ok();
    let started = Instant::now();
    let mut reader = SseReader::default();
    let opening = tokio::select! {
        opening = open_stream(&http, url, &account.token, &mut reader) => opening,
        _ = stop.wait_for(|s| *s) => Err("still not open when the workload ended".to_owned()),
    };
    run.connect_time = started.elapsed();
    drop(permit);
    // The channel has room for every stream's answer.
    let _ = opened.try_send(opening.is_ok());
    let mut response = match opening {
        Ok(response) => response,
        Err(e) => {
            run.connect_error = Some(e);
            return run;
        }
    };
    loop {
        tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => break,
            // Cancel-safe: a chunk is returned as soon as it is read.
            chunk = response.chunk() => match chunk {
                Ok(Some(bytes)) => {
                    let at = Instant::now();
                    let mut events = 0;
                    reader.feed(&bytes, |id| {
                        events += 1;
                        match id {
                            Ok(id) => run.arrivals.push((id, at)),
                            Err(e) => {
                                run.bad_frame.get_or_insert(e);
                            }
                        }
                    });
                    received.fetch_add(events, Ordering::Relaxed);
                }
                Ok(None) => {
                    run.ended = Some("the server closed it".to_owned());
                    break;
                }
                Err(e) => {
                    run.ended = Some(error_chain(&e));
                    break;
                }
            },
        }
    }
    run
}

/// Sends a stream's request and reads up to its opening `:)` comment, after which the
/// server has subscribed it: the response, to read on.
async fn open_stream(
    http: &reqwest::Client,
    url: Url,
    token: &str,
    reader: &mut SseReader,
) -> Result<reqwest::Response, String> {
    let mut response = http
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| error_chain(&e))?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        let snippet: String = body.chars().take(300).collect();
        return Err(format!("HTTP {status}: {snippet}"));
    }
    while !reader.opened {
        match response.chunk().await {
            // Nobody posts while streams open, so there are no events to note yet.
            Ok(Some(bytes)) => reader.feed(&bytes, |_| {}),
            Ok(None) => return Err("the server ended it before its opening `:)`".to_owned()),
            Err(e) => return Err(error_chain(&e)),
        }
    }
    Ok(response)
}

/// Reads the server's Server-Sent Events as they come, in chunks cut anywhere: notes the
/// opening `:)` comment and hands over the status id of each `update` event.
#[derive(Debug, Default)]
struct SseReader {
    /// The start of a line whose end has not arrived yet.
    pending: Vec<u8>,
    /// Whether the event being read is an `update`.
    in_update: bool,
    /// Whether the opening `:)` has been seen.
    opened: bool,
}

impl SseReader {
    /// Reads `chunk`, calling `on_update` with the status id (or why there is none) of
    /// each `update` event it completes.
    fn feed(&mut self, chunk: &[u8], mut on_update: impl FnMut(Result<u64, String>)) {
        let mut pending = std::mem::take(&mut self.pending);
        pending.extend_from_slice(chunk);
        let mut start = 0;
        while let Some(len) = pending[start..].iter().position(|&b| b == b'\n') {
            let line = &pending[start..start + len];
            start += len + 1;
            self.line(line.strip_suffix(b"\r").unwrap_or(line), &mut on_update);
        }
        pending.drain(..start);
        self.pending = pending;
    }

    fn line(&mut self, line: &[u8], on_update: &mut impl FnMut(Result<u64, String>)) {
        if line.is_empty() {
            // The end of an event.
            self.in_update = false;
        } else if let Some(comment) = line.strip_prefix(b":") {
            self.opened |= comment == b")";
        } else if let Some(name) = field(line, b"event") {
            self.in_update = name == b"update";
        } else if let Some(data) = field(line, b"data")
            && self.in_update
        {
            on_update(status_id(data));
        }
    }
}

/// The value of an SSE line `name: value` (the space after the colon is optional).
fn field<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let rest = line.strip_prefix(name)?.strip_prefix(b":")?;
    Some(rest.strip_prefix(b" ").unwrap_or(rest))
}

/// The id of the status whose JSON is `data`: read straight from the start when `id` is
/// the first field, as the server writes it (a 1.5 kB status is not worth parsing 5,000
/// times a second on the server's cores), else from the parsed JSON.
fn status_id(data: &[u8]) -> Result<u64, String> {
    const ID_FIRST: &[u8] = br#"{"id":""#;
    let quick = data.strip_prefix(ID_FIRST).and_then(|rest| {
        let end = rest.iter().position(|&b| b == b'"')?;
        std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
    });
    if let Some(id) = quick {
        return Ok(id);
    }
    let status: WithId = serde_json::from_slice(data)
        .map_err(|e| format!("an update event's data is not a status: {e}"))?;
    status.id.parse().map_err(|_| {
        format!(
            "an update event's status id {:?} is not a number",
            status.id
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(chunks: &[&[u8]]) -> (bool, Vec<Result<u64, String>>) {
        let mut reader = SseReader::default();
        let mut ids = Vec::new();
        for chunk in chunks {
            reader.feed(chunk, |id| ids.push(id));
        }
        (reader.opened, ids)
    }

    #[test]
    fn update_ids_are_read_across_chunk_boundaries() {
        let stream: &[u8] = b":)\n:thump\nevent: update\ndata: {\"id\":\"12\",\"x\":1}\n\n\
            event: notification\ndata: {\"id\":\"99\"}\n\n\
            event: delete\ndata: 12\n\n\
            event:update\r\ndata:{\"content\":\"a\",\"id\":\"34\"}\r\n\r\n";
        // Whole, byte by byte, and cut at every place in two.
        let (opened, ids) = read(&[stream]);
        assert!(opened);
        assert_eq!(ids, vec![Ok(12), Ok(34)]);
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(read(&bytes), (true, vec![Ok(12), Ok(34)]));
        for cut in 0..stream.len() {
            let (a, b) = stream.split_at(cut);
            assert_eq!(read(&[a, b]), (true, vec![Ok(12), Ok(34)]), "cut at {cut}");
        }
    }

    #[test]
    fn nothing_opens_without_the_opening_comment() {
        let (opened, ids) = read(&[b":thump\n", b"event: update\ndata: {\"id\":\"7\"}\n"]);
        assert!(!opened);
        assert_eq!(ids, vec![Ok(7)]);
    }

    #[test]
    fn unreadable_updates_say_why() {
        let (_, ids) =
            read(&[b"event: update\ndata: {\"id\":\"x1\"}\n\nevent: update\ndata: [\n\n"]);
        assert_eq!(ids.len(), 2);
        assert!(ids.iter().all(Result::is_err), "{ids:?}");
    }

    #[test]
    fn deliveries_are_tallied_per_post_and_stream() -> anyhow::Result<()> {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let posts = [Sent { id: 1, at: ms(0) }, Sent { id: 2, at: ms(200) }];
        let stream = |name: &str, arrivals: Vec<(u64, Instant)>| StreamRun {
            username: name.to_owned(),
            connect_time: Duration::from_millis(3),
            connect_error: None,
            arrivals,
            ended: None,
            bad_frame: None,
        };
        let mut never = stream("c", Vec::new());
        never.connect_error = Some("HTTP 401".to_owned());
        let runs = [
            // Both posts, one twice, plus an unknown one.
            stream(
                "a",
                vec![(1, ms(10)), (2, ms(230)), (2, ms(900)), (5, ms(1))],
            ),
            // The second post late, the first missing.
            stream("b", vec![(2, ms(6_000))]),
            never,
        ];
        let (connect, delivery) = tally(&runs, &posts)?;
        assert_eq!((connect.requests, connect.errors), (3, 1));
        assert_eq!((delivery.requests, delivery.errors), (6, 4));
        assert_eq!(delivery.histogram.len(), 3, "two on time and one late");
        assert_eq!(
            delivery.histogram.max(),
            delivery.histogram.highest_equivalent(5_800_000)
        );
        Ok(())
    }
}
