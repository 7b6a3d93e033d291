//! The results: figures computed from the workloads' recorders, the Markdown table printed
//! on stdout (pasted into README.md as is) and the same figures as JSON.
//!
//! Throughput is also given as a ratio to the `instance` workload's, the HTTP ceiling of
//! the same server on the same machine, because absolute figures from different machines
//! cannot be compared but ratios roughly can.

use crate::cli::SeedParams;
use crate::server::Memory;
use crate::workload::Line;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::fmt::Write as _;

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencyMs {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Highest.
    pub max: f64,
}

impl LatencyMs {
    /// The percentiles of a histogram of microseconds; `None` when it is empty.
    pub fn from_histogram(histogram: &Histogram<u64>) -> Option<Self> {
        if histogram.is_empty() {
            return None;
        }
        let ms = |micros: u64| micros as f64 / 1000.0;
        Some(Self {
            p50: ms(histogram.value_at_quantile(0.50)),
            p90: ms(histogram.value_at_quantile(0.90)),
            p99: ms(histogram.value_at_quantile(0.99)),
            max: ms(histogram.max()),
        })
    }
}

/// One line of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Workload (or sub-measurement) name.
    pub workload: String,
    /// Requests sent (posts tracked, for delivery).
    pub requests: u64,
    /// Failed requests (undelivered posts, for delivery).
    pub errors: u64,
    /// Requests per second, where a rate means something (`stream: delivery`: events
    /// delivered per second).
    pub throughput: Option<f64>,
    /// Latency (delivery delay, for delivery) percentiles.
    pub latency_ms: Option<LatencyMs>,
    /// Throughput divided by the `instance` workload's.
    pub vs_instance: Option<f64>,
}

impl Row {
    /// The share of requests that failed, 0 when there were none.
    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.errors as f64 / self.requests as f64
        }
    }
}

/// Turns the workloads' lines into rows, with ratios to the `instance` line if it ran.
pub fn rows(lines: &[Line]) -> Vec<Row> {
    let throughput = |line: &Line| {
        let counted = if line.successes_only {
            line.recorder.requests.saturating_sub(line.recorder.errors)
        } else {
            line.recorder.requests
        };
        line.elapsed
            .filter(|e| !e.is_zero())
            .map(|e| counted as f64 / e.as_secs_f64())
    };
    let ceiling = lines
        .iter()
        .find(|l| l.label == "instance")
        .and_then(throughput)
        .filter(|t| *t > 0.0);
    lines
        .iter()
        .map(|line| {
            let throughput = throughput(line);
            Row {
                workload: line.label.clone(),
                requests: line.recorder.requests,
                errors: line.recorder.errors,
                throughput,
                latency_ms: LatencyMs::from_histogram(&line.recorder.histogram),
                vs_instance: match (line.vs_ceiling, throughput, ceiling) {
                    (true, Some(t), Some(c)) => Some(t / c),
                    _ => None,
                },
            }
        })
        .collect()
}

/// One workload's throughput in each round of a run with several.
#[derive(Debug, Clone, Serialize)]
pub struct RoundRates {
    /// Workload (or sub-measurement) name.
    pub workload: String,
    /// Requests per second in each round, in order.
    pub per_round: Vec<Option<f64>>,
    /// The median of the rounds' rates.
    pub median: Option<f64>,
}

/// The closed-loop workloads' throughput round by round (the paced posts and the
/// deliveries go at the harness's pace, not the machine's), when there was more than one
/// round.
pub fn round_rates(rounds: &[Vec<Line>]) -> Vec<RoundRates> {
    if rounds.len() < 2 {
        return Vec::new();
    }
    // Each round's closed-loop rows, by label.
    let tables: Vec<Vec<Row>> = (rounds.iter())
        .map(|lines| {
            let closed_loop = lines.iter().map(|l| l.vs_ceiling);
            (rows(lines).into_iter().zip(closed_loop))
                .filter_map(|(row, closed)| closed.then_some(row))
                .collect()
        })
        .collect();
    let mut out: Vec<RoundRates> = Vec::new();
    for row in tables.iter().flatten() {
        if out.iter().any(|r| r.workload == row.workload) {
            continue;
        }
        let per_round: Vec<Option<f64>> = (tables.iter())
            .map(|t| t.iter().find(|r| r.workload == row.workload))
            .map(|r| r.and_then(|r| r.throughput))
            .collect();
        let mut rates: Vec<f64> = per_round.iter().flatten().copied().collect();
        rates.sort_by(f64::total_cmp);
        let median = match rates.len() {
            0 => None,
            n if n % 2 == 1 => Some(rates[n / 2]),
            n => Some((rates[n / 2 - 1] + rates[n / 2]) / 2.0),
        };
        out.push(RoundRates {
            workload: row.workload.clone(),
            per_round,
            median,
        });
    }
    out
}

/// Network size as `GET /api/v1/instance` reported it before the run.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Network {
    /// `stats.user_count`.
    pub accounts: u64,
    /// `stats.status_count`.
    pub posts: u64,
}

/// The machine the run happened on.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Machine {
    /// Cores available to this process.
    pub cores: usize,
    /// Total memory, in KiB, from `/proc/meminfo`.
    pub memory_kib: Option<u64>,
}

impl Machine {
    /// Describes this machine.
    pub fn this() -> Self {
        Self {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_kib: std::fs::read_to_string("/proc/meminfo")
                .ok()
                .and_then(|text| mem_total_kib(&text)),
        }
    }
}

/// `MemTotal` from the text of `/proc/meminfo`, in KiB.
pub fn mem_total_kib(meminfo: &str) -> Option<u64> {
    meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// The server's resident memory at one moment of a workload (`stream` takes several, to
/// show whether memory stays flat while clients are connected and posts flow).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemorySample {
    /// When, e.g. `with 1000 streaming clients connected`.
    pub when: String,
    /// `VmRSS` then, in KiB.
    pub rss_kib: u64,
}

/// How busy the server was during part of a workload: what limits delivery to streams is
/// the server's CPU, and this figure does not depend on what else the machine runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CpuSample {
    /// During what, e.g. `posting to 1000 streams`.
    pub during: String,
    /// CPU time used divided by the time it took: 1.0 is one core fully busy.
    pub cores: f64,
    /// The CPU time of the period (the posts' own included) per event delivered to a
    /// stream, in microseconds, where events were; it has 10 ms steps, so it means
    /// little over short runs.
    pub per_event_us: Option<f64>,
}

/// Everything a run measured, and how it was run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// One row per workload and sub-measurement (all rounds pooled).
    pub rows: Vec<Row>,
    /// Each workload's throughput per round, when there were several.
    pub rounds: Vec<RoundRates>,
    /// The server's memory at the end, when this process started it.
    pub server_memory: Option<Memory>,
    /// The server's memory at moments of the workloads, when this process started it.
    pub memory_samples: Vec<MemorySample>,
    /// The server's CPU use during parts of the workloads, when this process started it.
    pub server_cpu: Vec<CpuSample>,
    /// The network's size before the run.
    pub network: Option<Network>,
    /// The network this run seeded, if it did.
    pub seeded: Option<SeedParams>,
    /// Seconds each workload ran.
    pub duration_secs: f64,
    /// Concurrent connections.
    pub connections: usize,
    /// Streaming clients, when the `stream` workload ran.
    pub stream_clients: Option<usize>,
    /// Seed of the random choices (`--rng-seed` repeats them).
    pub rng_seed: u64,
    /// The command line, quoted for a POSIX shell.
    pub command: String,
    /// The machine.
    pub machine: Machine,
}

/// Formats a number of milliseconds with 2 decimals.
fn ms(value: f64) -> String {
    format!("{value:.2}")
}

/// KiB as MiB with one decimal.
fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// The report as Markdown: the table, then the server's memory, the command and the
/// machine, each a paragraph.
pub fn markdown(report: &Report) -> String {
    const DASH: &str = "—";
    let mut out = String::new();
    out.push_str(
        "| workload | requests | errors | req/s | p50 ms | p90 ms | p99 ms | max ms | vs instance |\n",
    );
    out.push_str("|:--|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    for row in &report.rows {
        let (p50, p90, p99, max) = match row.latency_ms {
            Some(l) => (ms(l.p50), ms(l.p90), ms(l.p99), ms(l.max)),
            None => (DASH.into(), DASH.into(), DASH.into(), DASH.into()),
        };
        let throughput = row.throughput.map_or(DASH.into(), |t| format!("{t:.1}"));
        let ratio = row.vs_instance.map_or(DASH.into(), |r| format!("{r:.2}"));
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "| {} | {} | {} | {throughput} | {p50} | {p90} | {p99} | {max} | {ratio} |",
            row.workload, row.requests, row.errors
        );
    }
    out.push('\n');
    if let Some(first) = report.rounds.first() {
        let n = first.per_round.len();
        let _ = writeln!(
            out,
            "Throughput of each round (req/s; the table above pools the {n} rounds):\n"
        );
        out.push_str("| workload |");
        for i in 1..=n {
            let _ = write!(out, " round {i} |");
        }
        out.push_str(" median |\n|:--|");
        out.push_str(&"--:|".repeat(n + 1));
        out.push('\n');
        let rate = |r: Option<f64>| r.map_or(DASH.into(), |t| format!("{t:.1}"));
        for r in &report.rounds {
            let _ = write!(out, "| {} |", r.workload);
            for t in &r.per_round {
                let _ = write!(out, " {} |", rate(*t));
            }
            let _ = writeln!(out, " {} |", rate(r.median));
        }
        out.push('\n');
    }
    match report.server_memory {
        Some(Memory {
            peak_rss_kib: Some(peak),
            rss_kib,
        }) => {
            let _ = write!(out, "Server peak RSS (VmHWM): {}", mib(peak));
            if let Some(now) = rss_kib {
                let _ = write!(out, "; RSS at the end: {}", mib(now));
            }
            out.push_str(".\n\n");
        }
        _ => out.push_str("Server memory: not measured (server not started by this run).\n\n"),
    }
    if !report.memory_samples.is_empty() {
        let samples: Vec<String> = report
            .memory_samples
            .iter()
            .map(|s| format!("{} {}", mib(s.rss_kib), s.when))
            .collect();
        let _ = writeln!(out, "Server RSS: {}.\n", samples.join("; "));
    }
    if !report.server_cpu.is_empty() {
        let samples: Vec<String> = report
            .server_cpu
            .iter()
            .map(|s| {
                let per_event = s.per_event_us.map_or(String::new(), |us| {
                    format!(" ({us:.0} µs per event delivered)")
                });
                format!("{:.2} cores {}{per_event}", s.cores, s.during)
            })
            .collect();
        let _ = writeln!(out, "Server CPU: {}.\n", samples.join("; "));
    }
    if let Some(network) = report.network {
        let _ = write!(
            out,
            "Network: {} accounts, {} posts before the run",
            network.accounts, network.posts
        );
    } else {
        out.push_str("Network: size unknown");
    }
    let _ = write!(
        out,
        "; {} s per workload, {} connections",
        report.duration_secs, report.connections
    );
    if let Some(clients) = report.stream_clients {
        let _ = write!(out, ", {clients} streaming clients");
    }
    let _ = writeln!(out, ", `--rng-seed {}`.\n", report.rng_seed);
    let _ = writeln!(out, "Command: `{}`\n", report.command);
    let memory = report
        .machine
        .memory_kib
        .map_or("unknown memory".to_owned(), |kib| {
            format!("{:.1} GiB memory", kib as f64 / (1024.0 * 1024.0))
        });
    let _ = writeln!(out, "Machine: {} cores, {memory}.", report.machine.cores);
    out
}

/// Joins arguments into a command line a POSIX shell would split back the same way.
pub fn shell_join<S: AsRef<str>>(args: &[S]) -> String {
    args.iter()
        .map(|arg| {
            let arg = arg.as_ref();
            let plain = !arg.is_empty()
                && arg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@+%".contains(&b));
            if plain {
                arg.to_owned()
            } else {
                format!("'{}'", arg.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Recorder;
    use std::time::Duration;

    fn line(label: &str, micros: &[u64], secs: Option<u64>, vs_ceiling: bool) -> Line {
        let mut recorder = Recorder::new().unwrap();
        for m in micros {
            recorder.record(Duration::from_micros(*m), &Ok::<(), String>(()));
        }
        Line {
            label: label.to_owned(),
            elapsed: secs.map(Duration::from_secs),
            vs_ceiling,
            successes_only: false,
            recorder,
        }
    }

    #[test]
    fn percentiles_come_out_in_milliseconds() {
        let micros: Vec<u64> = (1..=1000).map(|i| i * 10).collect();
        let latency =
            LatencyMs::from_histogram(&line("x", &micros, None, false).recorder.histogram).unwrap();
        // hdrhistogram with 3 significant digits is within 0.1%.
        assert!((latency.p50 - 5.0).abs() < 0.01, "{latency:?}");
        assert!((latency.p90 - 9.0).abs() < 0.01, "{latency:?}");
        assert!((latency.p99 - 9.9).abs() < 0.01, "{latency:?}");
        assert!((latency.max - 10.0).abs() < 0.01, "{latency:?}");
        assert_eq!(
            LatencyMs::from_histogram(&Recorder::new().unwrap().histogram),
            None
        );
    }

    #[test]
    fn table_has_ratios_and_dashes() {
        let mut delivered = line("stream: delivery", &[2_500; 4], Some(2), false);
        delivered.successes_only = true;
        delivered.recorder.requests += 1;
        delivered.recorder.fail("missing");
        let lines = [
            line("instance", &[1000; 100], Some(1), true),
            line("home", &[2000; 50], Some(1), true),
            line("celebrity: delivery", &[1_500; 3], None, false),
            delivered,
        ];
        let report = Report {
            rows: rows(&lines),
            rounds: Vec::new(),
            server_memory: Some(Memory {
                peak_rss_kib: Some(204_800),
                rss_kib: Some(102_400),
            }),
            memory_samples: vec![
                MemorySample {
                    when: "before `stream`".into(),
                    rss_kib: 51_200,
                },
                MemorySample {
                    when: "with 100 streaming clients connected".into(),
                    rss_kib: 61_440,
                },
            ],
            server_cpu: vec![
                CpuSample {
                    during: "posting with no stream open".into(),
                    cores: 0.05,
                    per_event_us: None,
                },
                CpuSample {
                    during: "posting to 100 streams".into(),
                    cores: 0.5,
                    per_event_us: Some(200.4),
                },
            ],
            network: Some(Network {
                accounts: 10_001,
                posts: 15_000,
            }),
            seeded: None,
            duration_secs: 1.0,
            connections: 16,
            stream_clients: Some(100),
            rng_seed: 42,
            command: shell_join(&["starling-bench", "--smoke"]),
            machine: Machine {
                cores: 8,
                memory_kib: Some(16 * 1024 * 1024),
            },
        };
        let text = markdown(&report);
        let expected = "\
| workload | requests | errors | req/s | p50 ms | p90 ms | p99 ms | max ms | vs instance |
|:--|--:|--:|--:|--:|--:|--:|--:|--:|
| instance | 100 | 0 | 100.0 | 1.00 | 1.00 | 1.00 | 1.00 | 1.00 |
| home | 50 | 0 | 50.0 | 2.00 | 2.00 | 2.00 | 2.00 | 0.50 |
| celebrity: delivery | 3 | 0 | — | 1.50 | 1.50 | 1.50 | 1.50 | — |
| stream: delivery | 5 | 1 | 2.0 | 2.50 | 2.50 | 2.50 | 2.50 | — |

Server peak RSS (VmHWM): 200.0 MiB; RSS at the end: 100.0 MiB.

Server RSS: 50.0 MiB before `stream`; 60.0 MiB with 100 streaming clients connected.

Server CPU: 0.05 cores posting with no stream open; 0.50 cores posting to 100 streams (200 µs per event delivered).

Network: 10001 accounts, 15000 posts before the run; 1 s per workload, 16 connections, 100 streaming clients, `--rng-seed 42`.

Command: `starling-bench --smoke`

Machine: 8 cores, 16.0 GiB memory.
";
        assert_eq!(text, expected);
    }

    /// Rounds pool into one table (their mean rate, latencies over all of them) and each
    /// round's rate is listed with the median.
    #[test]
    fn rounds_pool_and_list_their_rates() {
        let round = |home_requests: usize| {
            vec![
                line("instance", &[1000; 100], Some(1), true),
                line("home", &vec![2000; home_requests], Some(1), true),
                line("celebrity: delivery", &[1_500; 3], None, false),
            ]
        };
        let rounds = vec![round(50), round(20), round(30)];
        let rates = round_rates(&rounds);
        let pooled = crate::workload::pool(rounds).unwrap();
        let table = rows(&pooled);
        assert_eq!(table.len(), 3);
        assert_eq!(table[1].workload, "home");
        assert_eq!(table[1].requests, 100);
        assert_eq!(table[1].throughput, Some(100.0 / 3.0));
        assert_eq!(table[2].requests, 9);
        assert_eq!(table[2].throughput, None);
        // Only the closed-loop workloads have rows of rates.
        assert_eq!(rates.len(), 2);
        assert_eq!(rates[1].per_round, vec![Some(50.0), Some(20.0), Some(30.0)]);
        assert_eq!(rates[1].median, Some(30.0));
        let report = Report {
            rows: table,
            rounds: rates,
            server_memory: None,
            memory_samples: Vec::new(),
            server_cpu: Vec::new(),
            network: None,
            seeded: None,
            duration_secs: 1.0,
            connections: 16,
            stream_clients: None,
            rng_seed: 7,
            command: "starling-bench --rounds 3".into(),
            machine: Machine {
                cores: 2,
                memory_kib: None,
            },
        };
        let text = markdown(&report);
        assert!(
            text.contains(
                "Throughput of each round (req/s; the table above pools the 3 rounds):\n\n\
                 | workload | round 1 | round 2 | round 3 | median |\n\
                 |:--|--:|--:|--:|--:|\n\
                 | instance | 100.0 | 100.0 | 100.0 | 100.0 |\n\
                 | home | 50.0 | 20.0 | 30.0 | 30.0 |\n\n"
            ),
            "{text}"
        );
        // One round: no such table.
        assert!(round_rates(&[vec![line("home", &[1], Some(1), true)]]).is_empty());
    }

    #[test]
    fn shell_join_quotes_only_when_needed() {
        assert_eq!(
            shell_join(&["a", "--x=1,2", "it's", "", "two words"]),
            r"a --x=1,2 'it'\''s' '' 'two words'"
        );
    }

    #[test]
    fn reads_mem_total() {
        assert_eq!(
            mem_total_kib("MemTotal:       16303412 kB\nMemFree: 1 kB\n"),
            Some(16_303_412)
        );
        assert_eq!(mem_total_kib(""), None);
    }
}
