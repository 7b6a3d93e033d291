//! Runs the built `starling` binary as an operator would: help texts, the admin commands
//! against a temporary data folder, and `serve` stopped by SIGTERM.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail by panicking.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_starling");

/// The binary with a clean `STARLING_*` environment, so settings of the machine running
/// the tests (or the test harness's `STARLING_TEST_*`) cannot leak in.
fn starling() -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("STARLING_") {
            cmd.env_remove(key);
        }
    }
    cmd.env_remove("RUST_LOG");
    cmd
}

fn run(args: &[&str], data_dir: &Path) -> Output {
    starling()
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"))
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn help_documents_commands_and_options() {
    let out = starling().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = stdout(&out);
    for word in ["serve", "admin", "Mastodon"] {
        assert!(help.contains(word), "{word} missing from\n{help}");
    }

    let out = starling().args(["serve", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = stdout(&out);
    for word in [
        "--listen",
        "--data-dir",
        "--database-url",
        "--config",
        "STARLING_LISTEN",
        "Examples:",
        "STARLING_MAX_POST_CHARS",
        "allowed_email_domains",
        "STARLING_SMTP_URL",
        "mail_from",
    ] {
        assert!(help.contains(word), "{word} missing from\n{help}");
    }

    let out = starling()
        .args(["admin", "user", "create", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = stdout(&out);
    for word in [
        "--username",
        "--email",
        "--password",
        "--role",
        "--data-dir",
    ] {
        assert!(help.contains(word), "{word} missing from\n{help}");
    }
}

#[test]
fn send_digests_needs_a_usable_smtp_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();

    let out = run(&["admin", "send-digests"], data);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("set smtp_url"), "{}", stderr(&out));

    // A bad URL is refused up front, naming the setting but not the password.
    let out = starling()
        .args(["admin", "send-digests", "--data-dir"])
        .arg(data)
        .env("STARLING_SMTP_URL", "http://mail:hunter2@mail.example")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("invalid smtp_url") && !err.contains("hunter2"),
        "{err}"
    );

    // Nobody opted in: nothing to send, and nothing is connected to.
    let out = starling()
        .args(["admin", "send-digests", "--data-dir"])
        .arg(data)
        .env("STARLING_SMTP_URL", "smtp://127.0.0.1:9")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "0 digests: 0 sent, 0 failed, 0 with nothing to send\n"
    );
}

#[test]
fn admin_commands_manage_users_and_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();

    let out = run(
        &[
            "admin",
            "user",
            "create",
            "--username",
            "ana",
            "--email",
            "ana@example.com",
            "--password",
            "correct horse battery",
            "--role",
            "admin",
        ],
        data,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let created = stdout(&out);
    assert!(created.starts_with("created user ana (id "), "{created}");
    assert!(created.contains("role admin"), "{created}");

    let out = run(
        &[
            "admin",
            "user",
            "create",
            "--username",
            "bob",
            "--email",
            "bob@example.com",
            "--password",
            "correct horse battery",
        ],
        data,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("role member"));

    // A duplicate is refused with a clear message and status 1, not a Debug dump.
    let out = run(
        &[
            "admin",
            "user",
            "create",
            "--username",
            "ana",
            "--email",
            "other@example.com",
            "--password",
            "correct horse battery",
        ],
        data,
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out).trim(), "error: username is already taken");
    assert!(stdout(&out).is_empty());

    let out = run(&["admin", "user", "deactivate", "--username", "bob"], data);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("deactivated user bob"));

    let out = run(&["admin", "user", "list"], data);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    for column in ["id", "username", "email", "role", "status", "created"] {
        assert!(lines[0].contains(column), "{table}");
    }
    assert!(lines[1].contains("ana") && lines[1].contains("admin") && lines[1].contains("active"));
    assert!(
        lines[2].contains("bob") && lines[2].contains("deactivated"),
        "{table}"
    );

    let out = run(&["admin", "token", "create", "--username", "ana"], data);
    assert!(out.status.success(), "{}", stderr(&out));
    let token = stdout(&out);
    let token = token.trim_end();
    assert!(token.len() >= 32, "{token:?}");
    assert!(
        !token.contains(char::is_whitespace),
        "only the token: {token:?}"
    );

    let out = run(&["admin", "token", "create", "--username", "nobody"], data);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no user named \"nobody\""),
        "{}",
        stderr(&out)
    );

    let out = run(
        &[
            "admin",
            "user",
            "set-role",
            "--username",
            "bob",
            "--role",
            "admin",
        ],
        data,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("to admin"));
}

#[test]
fn settings_come_from_file_env_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    // The file names a data folder; the flag must win over it.
    let config = dir.path().join("starling.toml");
    std::fs::write(&config, "data_dir = \"/nonexistent/from-file\"\n").unwrap();
    let data = dir.path().join("data");
    let out = starling()
        .args(["admin", "user", "list", "--config"])
        .arg(&config)
        .env("STARLING_DATA_DIR", "/nonexistent/from-env")
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(data.join("starling.db").exists());

    let out = starling()
        .args([
            "admin",
            "user",
            "list",
            "--config",
            "/nonexistent/starling.toml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("/nonexistent/starling.toml"),
        "{}",
        stderr(&out)
    );

    let out = starling()
        .args(["admin", "user", "list", "--data-dir"])
        .arg(&data)
        .env("STARLING_MAX_POST_CHARS", "many")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("STARLING_MAX_POST_CHARS"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn serve_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    // Port 0 would work too, but then the test would have to parse the log to find it.
    let port = {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let mut child = starling()
        .args(["serve", "--listen", &addr, "--data-dir"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let started = Instant::now();
    while TcpStream::connect(&addr).is_err() {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            panic!("serve exited early with {status}: {}", stderr(&out));
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "server never accepted"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("serve did not exit within 10 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    let log = stderr(&out);
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(
        log.contains(&format!("listening on http://{addr}")),
        "{log}"
    );
    assert!(log.contains("SQLite"), "{log}");
    assert!(log.contains("shut down cleanly"), "{log}");
}
