#!/usr/bin/env python3
"""Real-client scenario test: drives a freshly started Starling server with Mastodon.py.

    STARLING_BIN=target/debug/starling target/test-venv/bin/python tests/python/scenario.py --database sqlite
    STARLING_BIN=... python tests/python/scenario.py --database postgres --postgres-url postgres://postgres@127.0.0.1:PORT/postgres

The script starts the server itself on a free 127.0.0.1 port, with a fresh temporary
data directory (and, for PostgreSQL, a fresh database `scenario_<random>` created through
the admin URL with psql), waits until GET /api/v1/instance answers 200, runs the scenario,
then stops the server by its PID (SIGTERM, then waits) and removes what it created.
The server's stdout/stderr go to a log file that is printed when anything fails.

Exit code 0 when every step passed; 1 with a message naming the failed step otherwise.
Dependencies: tests/python/requirements.txt (Mastodon.py 2.x, requests).
"""

from __future__ import annotations

import argparse
import glob
import os
import queue
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse
import warnings
from typing import List

import requests
from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonError,
    MastodonUnauthorizedError,
    StreamListener,
)
from mastodon.return_types import Status
from mastodon.types_base import AttribAccessDict

SCOPES = ["read", "write", "follow", "push"]
PASSWORDS = {"ana": "ana-secret-pw-1", "ben": "ben-secret-pw-2", "cal": "cal-secret-pw-3"}
EMAILS = {"ana": "ana@example.com", "ben": "ben@example.com", "cal": "cal@example.com"}
MAX_CHARS = 140
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
REQUEST_TIMEOUT_S = 30.0

# Emoji used for the character-counting checks. A family emoji is five code points
# (MAN, ZWJ, WOMAN, ZWJ, GIRL) but one user-perceived character (grapheme cluster).
GRIN = "\U0001F600"  # 😀
FAMILY = "\U0001F468\u200D\U0001F469\u200D\U0001F467"  # 👨‍👩‍👧


class ScenarioFailure(Exception):
    """An assertion of the scenario failed."""


def check(condition, message):
    if not condition:
        raise ScenarioFailure(message)


class Steps:
    """Prints numbered steps so that a failure says where it happened."""

    def __init__(self):
        self.number = 0
        self.current = "startup"

    def __call__(self, description):
        self.number += 1
        self.current = f"[{self.number}] {description}"
        print(f"  {self.current}", flush=True)


step = Steps()


# --------------------------------------------------------------------------------------
# Server process management
# --------------------------------------------------------------------------------------


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_psql():
    found = shutil.which("psql")
    if found:
        return found
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/psql"),
        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0,
        reverse=True,
    )
    if candidates:
        return candidates[0]
    raise ScenarioFailure("psql not found (PATH or /usr/lib/postgresql/*/bin); needed to create the scenario database")


def run_psql(admin_url, sql):
    result = subprocess.run(
        [find_psql(), admin_url, "-v", "ON_ERROR_STOP=1", "-Atqc", sql],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        raise ScenarioFailure(f"psql failed ({sql!r}): {result.stderr.strip() or result.stdout.strip()}")


def with_database(url, dbname):
    """The admin URL with its database (path) replaced by dbname."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


class Server:
    """A Starling server process with its own temp dir, log file and (optionally) database."""

    def __init__(self, binary, database, postgres_url, keep_temp=False):
        self.binary = binary
        self.database = database
        self.postgres_url = postgres_url
        self.keep_temp = keep_temp
        self.tmp = tempfile.mkdtemp(prefix=f"starling-scenario-{database}-")
        self.data_dir = os.path.join(self.tmp, "data")
        os.mkdir(self.data_dir)
        self.log_path = os.path.join(self.tmp, "server.log")
        self.proc = None
        self.base_url = None
        self.dbname = None
        self.exit_code = None

    def start(self):
        if self.database == "postgres":
            self.dbname = "scenario_" + secrets.token_hex(6)
            run_psql(self.postgres_url, f'CREATE DATABASE "{self.dbname}"')
            print(f"  created database {self.dbname}", flush=True)

        for attempt in range(1, 4):
            port = free_port()
            self.base_url = f"http://127.0.0.1:{port}"
            cmd = [self.binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", self.data_dir]
            if self.database == "postgres":
                cmd += ["--database-url", with_database(self.postgres_url, self.dbname)]
            # Hermetic: the server reads settings from STARLING_* variables (and STARLING_CONFIG),
            # so none of the caller's (STARLING_BIN included) are passed on; built-in defaults apply.
            env = {k: v for k, v in os.environ.items() if not k.startswith("STARLING_")}
            print(f"  starting: {' '.join(cmd)}", flush=True)
            with open(self.log_path, "ab") as log:
                log.write(f"\n===== attempt {attempt}: {' '.join(cmd)} =====\n".encode())
                log.flush()
                self.proc = subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.tmp,  # relative default paths of the server land in the temp dir
                    env=env,
                )
            if self.wait_ready():
                print(f"  server ready at {self.base_url} (pid {self.proc.pid})", flush=True)
                return
            # Not ready. Retry only when another process grabbed the port in the meantime.
            if self.proc.poll() is not None and "address already in use" in self.read_log().lower():
                self.proc = None
                continue
            break
        if self.proc is not None and self.proc.poll() is not None:
            raise ScenarioFailure(f"server exited with code {self.proc.returncode} before GET /api/v1/instance answered 200")
        raise ScenarioFailure(f"server did not answer GET /api/v1/instance with 200 within {READY_TIMEOUT_S:.0f} s")

    def wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                r = requests.get(f"{self.base_url}/api/v1/instance", timeout=2)
                if r.status_code == 200:
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.05)
        return False

    def stop(self):
        """SIGTERM by PID, wait; SIGKILL only if it does not exit in time. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                print(f"  server pid {self.proc.pid} ignored SIGTERM for {STOP_TIMEOUT_S:.0f} s; killing it", flush=True)
                self.proc.kill()
                self.proc.wait()
                self.exit_code = "killed after SIGTERM timeout"
                self.proc = None
                return self.exit_code
        self.exit_code = self.proc.returncode
        self.proc = None
        return self.exit_code

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def print_log(self):
        print(f"\n----- server log ({self.log_path}) -----", flush=True)
        sys.stdout.write(self.read_log())
        print("----- end of server log -----", flush=True)

    def cleanup(self):
        self.stop()
        if self.dbname is not None:
            try:
                run_psql(self.postgres_url, f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')
            except Exception as e:  # noqa: BLE001 - cleanup must not mask the result
                print(f"  warning: could not drop database {self.dbname}: {e}", flush=True)
        if self.keep_temp:
            print(f"  kept temp dir {self.tmp}", flush=True)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


# --------------------------------------------------------------------------------------
# Helpers for the scenario
# --------------------------------------------------------------------------------------


def sid(x):
    """An id (or an entity's id) as a string, for comparisons."""
    if x is None:
        return None
    if isinstance(x, dict) and "id" in x:
        x = x["id"]
    return str(x)


def id_key(x):
    """Numeric sort key of an id; Mastodon ids are decimal strings ordered by time."""
    s = sid(x)
    check(s is not None and s.isdigit(), f"id {s!r} is not a decimal string (Mastodon.py orders ids numerically)")
    return int(s)


def ids(items):
    return [sid(i) for i in items]


def api_error_status(err):
    """HTTP status of a MastodonAPIError raised by Mastodon.py (args: message, status, reason, error)."""
    if len(err.args) >= 2 and isinstance(err.args[1], int):
        return err.args[1]
    return None


def find_notification(notifications, ntype, account_id, status_id=None):
    for n in notifications:
        if n.get("type") != ntype:
            continue
        if sid(n.get("account")) != sid(account_id):
            continue
        if status_id is not None and sid(n.get("status")) != sid(status_id):
            continue
        return n
    return None


def describe_notifications(notifications):
    return [(n.get("type"), sid(n.get("account")), sid(n.get("status"))) for n in notifications]


def starling_request(api, method, endpoint, params=None, entity=AttribAccessDict):
    """Calls an endpoint Mastodon.py has no method for (Starling's groups, status_post with
    group_id) through the library's own request helper, so that authentication, error
    handling (MastodonAPIError with the HTTP status) and Link pagination are Mastodon.py's.
    Mastodon.py 2.x offers no public generic request method; __api_request is name-mangled.
    entity: the type to cast the JSON answer to (e.g. Status, List[Status])."""
    # A fresh dict: Mastodon.py may add to params (lang), and a form body is sent as given.
    return api._Mastodon__api_request(method, endpoint, dict(params or {}), override_type=entity)


def expect_api_error(call, status, description):
    """Runs call(), which must raise MastodonAPIError with the given HTTP status. Returns the error."""
    try:
        result = call()
    except MastodonAPIError as e:
        got = api_error_status(e)
        check(got == status, f"{description}: expected HTTP {status}, got {got}: {e}")
        return e
    raise ScenarioFailure(f"{description}: expected HTTP {status}, but the request succeeded: {result!r}"[:500])


# --------------------------------------------------------------------------------------
# The scenario
# --------------------------------------------------------------------------------------


def run_scenario(base):
    def client(access_token=None, client_id=None, client_secret=None):
        # version_check_mode="created": the constructor reads /api/v1/instance/ and
        # /api/v2/instance/, and every call checks the server version against the
        # version that introduced the endpoint (default mode "none" checks nothing).
        return Mastodon(
            client_id=client_id,
            client_secret=client_secret,
            access_token=access_token,
            api_base_url=base,
            version_check_mode="created",
            ratelimit_method="throw",
            request_timeout=REQUEST_TIMEOUT_S,
        )

    # --- instance and version ----------------------------------------------------------
    step("instance: /api/v1/instance/ version parses as a Mastodon version >= 4.0.0, max_characters = 140")
    try:
        anon = client()  # already parses the version
        version = anon.retrieve_mastodon_version(fail_hard=True)
    except Exception as e:  # noqa: BLE001
        try:
            raw = requests.get(f"{base}/api/v1/instance/", timeout=REQUEST_TIMEOUT_S)
            seen = f"HTTP {raw.status_code}, version {raw.json().get('version')!r}"
        except Exception as e2:  # noqa: BLE001
            seen = f"{e2!r}"
        raise ScenarioFailure(
            "Mastodon.py could not read an X.Y.Z version from GET /api/v1/instance/ (note the trailing slash; "
            f"got {seen}): {e!r}"
        ) from e
    parsed = (anon.mastodon_major, anon.mastodon_minor, anon.mastodon_patch)
    check(parsed >= (4, 0, 0), f"instance version {version!r} parsed as {parsed}; expected >= 4.0.0 (e.g. '4.3.0+starling-0.1.0')")
    inst = requests.get(f"{base}/api/v1/instance", timeout=REQUEST_TIMEOUT_S).json()
    max_chars = (((inst.get("configuration") or {}).get("statuses") or {}).get("max_characters"))
    check(max_chars == MAX_CHARS, f"/api/v1/instance configuration.statuses.max_characters = {max_chars!r}, expected {MAX_CHARS}")

    # --- app and accounts ----------------------------------------------------------------
    step('create_app("scenario", scopes=read write follow push)')
    client_id, client_secret = Mastodon.create_app(
        "scenario", api_base_url=base, scopes=SCOPES, request_timeout=REQUEST_TIMEOUT_S
    )
    check(isinstance(client_id, str) and client_id, f"create_app returned client_id {client_id!r}")
    check(isinstance(client_secret, str) and client_secret, f"create_app returned client_secret {client_secret!r}")

    step("sign up ana and ben with create_account (returns tokens)")
    ana = client(client_id=client_id, client_secret=client_secret)
    ana_token = ana.create_account("ana", PASSWORDS["ana"], EMAILS["ana"], agreement=True, scopes=SCOPES)
    check(isinstance(ana_token, str) and ana_token, f"create_account(ana) returned {ana_token!r}")
    ben_signup = client(client_id=client_id, client_secret=client_secret)
    ben_signup_token = ben_signup.create_account("ben", PASSWORDS["ben"], EMAILS["ben"], agreement=True, scopes=SCOPES)
    check(isinstance(ben_signup_token, str) and ben_signup_token, f"create_account(ben) returned {ben_signup_token!r}")

    step("ben logs in with the password grant, e-mail as username")
    ben = client(client_id=client_id, client_secret=client_secret)
    ben_token = ben.log_in(username=EMAILS["ben"], password=PASSWORDS["ben"], scopes=SCOPES, allow_http=True)
    check(isinstance(ben_token, str) and ben_token, f"log_in returned {ben_token!r}")
    check(ben_token != ben_signup_token, "the password grant returned the same token as the sign-up; expected a new token")

    step("account_verify_credentials for ana (sign-up token) and ben (both tokens)")
    ana_me = ana.account_verify_credentials()
    check(ana_me.username == "ana", f"ana's verify_credentials username = {ana_me.username!r}")
    check(ana_me.acct == "ana", f"ana's verify_credentials acct = {ana_me.acct!r} (local accounts: bare username)")
    ben_me = ben.account_verify_credentials()
    check(ben_me.username == "ben", f"ben's verify_credentials username = {ben_me.username!r}")
    ben_me2 = ben_signup.account_verify_credentials()
    check(sid(ben_me2) == sid(ben_me), f"ben's sign-up token and login token name different accounts: {sid(ben_me2)} vs {sid(ben_me)}")
    check(sid(ana_me) != sid(ben_me), "ana and ben have the same account id")
    ana_id, ben_id = sid(ana_me), sid(ben_me)

    # --- posting, following, home timeline -----------------------------------------------
    step('ana posts "Hello #Starling world"')
    first = ana.status_post("Hello #Starling world")
    check(sid(first.account) == ana_id, f"status author is {sid(first.account)}, expected ana ({ana_id})")
    check("Hello" in (first.content or ""), f"status content {first.content!r} lacks the text")
    tag_names = [str(t.get("name", "")).lower() for t in (first.tags or [])]
    check("starling" in tag_names, f"status tags {tag_names} lack 'starling'")

    step("ben follows ana")
    rel = ben.account_follow(ana_id)
    check(rel.following is True, f"relationship after follow: following={rel.following!r}")

    step("ana posts again; ben's home timeline contains it")
    second = ana.status_post("Second post by ana")
    home = ben.timeline_home()
    check(sid(second) in ids(home), f"ben's home timeline {ids(home)} lacks ana's second post {sid(second)}")

    step('ben replies "@ana nice"; the reply is in the context of ana\'s post')
    reply = ben.status_post("@ana nice", in_reply_to_id=second.id)
    check(sid(reply.in_reply_to_id) == sid(second), f"reply.in_reply_to_id = {reply.in_reply_to_id!r}, expected {sid(second)}")
    check(ana_id in [sid(m) for m in (reply.mentions or [])], f"reply mentions {reply.mentions!r} lack ana")
    ctx = ana.status_context(second.id)
    check(sid(reply) in ids(ctx.descendants), f"context descendants {ids(ctx.descendants)} lack ben's reply {sid(reply)}")
    ctx_reply = ben.status_context(reply.id)
    check(sid(second) in ids(ctx_reply.ancestors), f"reply's context ancestors {ids(ctx_reply.ancestors)} lack {sid(second)}")

    step("ana's notifications: a follow and a mention from ben")
    notes = ana.notifications()
    check(find_notification(notes, "follow", ben_id) is not None, f"no follow notification from ben: {describe_notifications(notes)}")
    check(
        find_notification(notes, "mention", ben_id, reply.id) is not None,
        f"no mention notification from ben for status {sid(reply)}: {describe_notifications(notes)}",
    )

    step("ben favourites and reblogs ana's post")
    fav = ben.status_favourite(second.id)
    check(sid(fav) == sid(second), f"favourite returned status {sid(fav)}, expected {sid(second)}")
    check(fav.favourited is True, f"favourite returned favourited={fav.favourited!r}")
    check((fav.favourites_count or 0) >= 1, f"favourite returned favourites_count={fav.favourites_count!r}")
    boost = ben.status_reblog(second.id)
    check(boost.reblog is not None, "reblog returned no wrapper status (reblog field is null)")
    check(sid(boost.reblog) == sid(second), f"reblog wrapper's reblog.id = {sid(boost.reblog)}, expected {sid(second)}")
    check(sid(boost) != sid(second), "reblog wrapper has the id of the original status")
    check(boost.reblogged is True, f"reblog wrapper reblogged={boost.reblogged!r}, expected true")

    step("ana's notifications: favourite and reblog from ben")
    notes = ana.notifications()
    check(
        find_notification(notes, "favourite", ben_id, second.id) is not None,
        f"no favourite notification from ben for {sid(second)}: {describe_notifications(notes)}",
    )
    check(
        find_notification(notes, "reblog", ben_id, second.id) is not None,
        f"no reblog notification from ben for {sid(second)}: {describe_notifications(notes)}",
    )

    step('timeline_hashtag("starling") contains ana\'s first post')
    tagged = ben.timeline_hashtag("starling")
    check(sid(first) in ids(tagged), f"hashtag timeline {ids(tagged)} lacks {sid(first)}")

    # --- lists ---------------------------------------------------------------------------
    step("lists: ben creates a list, adds ana, and timeline_list shows ana's posts only")
    friends = ben.list_create("Friends")  # form body with replies_policy=list, exclusive=0
    check(friends.title == "Friends", f"list_create returned title {friends.title!r}")
    check(friends.replies_policy == "list", f"list_create returned replies_policy {friends.replies_policy!r}")
    check(friends.exclusive is False, f"list_create sent exclusive=0 but got exclusive={friends.exclusive!r}")
    ben.list_accounts_add(friends, [ana_id])
    members = ben.list_accounts(friends)
    check(ids(members) == [ana_id], f"list_accounts after adding ana = {ids(members)}, expected [{ana_id}]")
    check(sid(friends) in ids(ben.account_lists(ana_id)), "account_lists(ana) lacks ben's list")
    listed = ben.timeline_list(friends)
    check(sid(second) in ids(listed), f"timeline_list {ids(listed)} lacks ana's post {sid(second)}")
    authors = {sid(s.account) for s in listed}
    check(authors == {ana_id}, f"timeline_list has posts by {authors}, expected only ana ({ana_id})")

    step("lists: adding an account one does not follow is refused (ana does not follow ben)")
    anas = ana.list_create("Mine")
    expect_api_error(lambda: ana.list_accounts_add(anas, [ben_id]), 422, "adding a non-followed account")
    check(ana.list_accounts(anas) == [], "the refused account was stored in the list anyway")
    ana.list_delete(anas)

    step("lists: list_accounts_delete (DELETE with a form body) removes ana; list_delete")
    ben.list_accounts_delete(friends, [ana_id])
    check(ids(ben.list_accounts(friends)) == [], "ana is still in the list after list_accounts_delete")
    check(ids(ben.timeline_list(friends)) == [], "timeline_list is not empty after removing its only member")
    ben.list_delete(friends)
    check(sid(friends) not in ids(ben.lists()), "list_delete left the list in lists()")

    # --- pagination ----------------------------------------------------------------------
    step("pagination: ana posts 25 statuses; ben pages through his home timeline 10 at a time")
    posted = [sid(ana.status_post(f"page {i}")) for i in range(25)]
    pages = [ben.timeline_home(limit=10)]
    check(len(pages[0]) == 10, f"first page has {len(pages[0])} statuses, expected 10")
    while len(pages) < 20:
        if ben.get_pagination_info(pages[-1], "next") is None:
            break
        nxt = ben.fetch_next(pages[-1])
        if not nxt:
            break
        check(len(nxt) <= 10, f"page {len(pages) + 1} has {len(nxt)} statuses with limit=10")
        pages.append(nxt)
    collected = [sid(s) for page in pages for s in page]
    check(len(pages) >= 3, f"only {len(pages)} page(s) reachable with fetch_next (Link rel=\"next\" with max_id=?)")
    dups = sorted({i for i in collected if collected.count(i) > 1})
    check(not dups, f"pagination returned duplicates: {dups}")
    keys = [id_key(i) for i in collected]
    check(keys == sorted(keys, reverse=True), f"pagination is not in descending id order: {collected}")
    missing = [i for i in posted if i not in collected]
    check(not missing, f"pagination missed {len(missing)} of ana's 25 statuses: {missing}")
    full = ben.timeline_home(limit=40)
    if len(full) < 40:
        check(ids(full) == collected, f"pages differ from a single limit=40 request:\n  pages:  {collected}\n  single: {ids(full)}")

    step("pagination: fetch_previous from the second page returns the first page")
    check(ben.get_pagination_info(pages[1], "previous") is not None, 'second page has no Link rel="prev" with min_id=')
    prev = ben.fetch_previous(pages[1])
    check(prev is not None and ids(prev) == ids(pages[0]), f"fetch_previous gave {ids(prev or [])}, expected {ids(pages[0])}")

    # --- length limit --------------------------------------------------------------------
    step(f"a post of {MAX_CHARS + 1} ASCII characters is rejected with HTTP 422 mentioning {MAX_CHARS}")
    err = expect_api_error(lambda: ana.status_post("a" * (MAX_CHARS + 1)), 422, f"{MAX_CHARS + 1}-character post")
    check(str(MAX_CHARS) in str(err), f"422 error does not mention {MAX_CHARS}: {err}")

    step(f"a post of exactly {MAX_CHARS} ASCII characters is accepted")
    ascii_ok = ana.status_post("b" * MAX_CHARS)
    check(sid(ascii_ok) is not None, "no status returned")

    step(f"{MAX_CHARS} emoji are accepted (characters, not bytes or UTF-16 units)")
    grins = ana.status_post(GRIN * MAX_CHARS)
    check(GRIN in (grins.content or ""), "emoji status content lost the emoji")

    step(f"{MAX_CHARS} characters with multi-code-point emoji (family = 1 character) are accepted")
    text = GRIN * (MAX_CHARS - 10) + FAMILY * 10  # 140 grapheme clusters, 180 code points
    mixed = ana.status_post(text)
    check(FAMILY in (mixed.content or ""), "family emoji (ZWJ sequence) was altered in the status content")

    step(f"{MAX_CHARS + 1} emoji characters are rejected with HTTP 422")
    expect_api_error(lambda: ana.status_post(GRIN * MAX_CHARS + FAMILY), 422, f"{MAX_CHARS + 1}-emoji post")

    conversations_steps(ana, ben, ana_id, ben_id)

    step("sign up cal, a third account, for the groups steps")
    cal = client(client_id=client_id, client_secret=client_secret)
    cal_token = cal.create_account("cal", PASSWORDS["cal"], EMAILS["cal"], agreement=True, scopes=SCOPES)
    check(isinstance(cal_token, str) and cal_token, f"create_account(cal) returned {cal_token!r}")
    groups_steps(ana, ben, cal, ana_id, ben_id)
    search_steps(ana, ben, cal, ana_id, ben_id, first)
    streaming_steps(ana, ben)

    # --- token revocation ----------------------------------------------------------------
    step("revoke_access_token: ben's login token then fails with 401; his sign-up token still works")
    ben.revoke_access_token(allow_http=True)
    revoked = client(access_token=ben_token, client_id=client_id, client_secret=client_secret)
    try:
        who = revoked.account_verify_credentials()
    except MastodonUnauthorizedError:
        pass
    except MastodonAPIError as e:
        raise ScenarioFailure(f"revoked token: expected HTTP 401, got {api_error_status(e)}: {e}") from e
    else:
        raise ScenarioFailure(f"revoked token still works (verify_credentials returned {who.get('username')!r})")
    still = client(access_token=ben_signup_token).account_verify_credentials()
    check(sid(still) == ben_id, "ben's other token stopped working after revoking the login token")


def streaming_steps(ana, ben):
    step("stream_user (SSE): ben's user stream receives ana's new post within 2 s")

    class Collect(StreamListener):
        def __init__(self):
            super().__init__()
            self.updates = queue.Queue()

        def on_update(self, status):
            self.updates.put(status)

    listener = Collect()
    handle = ben.stream_user(listener, run_async=True, reconnect_async=False)
    try:
        deadline = time.monotonic() + 5
        while not handle.is_receiving():
            check(time.monotonic() < deadline, "ben's user stream did not connect within 5 s")
            time.sleep(0.05)
        posted = ana.status_post("live to everyone who follows ana")
        started = time.monotonic()
        while True:
            left = 2 - (time.monotonic() - started)
            check(left > 0, f"ana's post {sid(posted)} did not reach ben's user stream within 2 s")
            try:
                update = listener.updates.get(timeout=left)
            except queue.Empty:
                continue
            if sid(update) == sid(posted):
                break
        check(update.account.acct == "ana", f"streamed post's author is {update.account.acct!r}, expected 'ana'")
    finally:
        handle.close()


def search_steps(ana, ben, cal, ana_id, ben_id, first):
    """account_search (GET /api/v1/accounts/search) and search_v2 (GET /api/v2/search)."""
    cal_id = sid(cal.account_verify_credentials())

    step('account_search("BE") finds ben (case-insensitive username prefix)')
    found = ana.account_search("BE")
    check(ben_id in ids(found), f"account_search('BE') = {[a.username for a in found]}, lacks ben")
    check(found[0].acct == "ben", f"first result acct = {found[0].acct!r}, expected 'ben'")

    step("account_search(following=True) lists only followed accounts (ben follows ana, not cal)")
    check(ids(ben.account_search("ana", following=True)) == [ana_id], "ben's followed search for 'ana' does not return exactly ana")
    check(ids(ben.account_search("cal", following=True)) == [], "ben's followed search returns cal, whom he does not follow")
    check(ids(ben.account_search("cal")) == [cal_id], "ben's search for 'cal' does not return cal")

    step("account_search(limit, offset) pages; limit=0 is a 422")
    both = ids(ana.account_search("a", limit=1)) + ids(ana.account_search("a", limit=1, offset=1))
    check(both == [ana_id], f"prefix 'a' paged by one gave {both}, expected [ana] only")
    expect_api_error(lambda: ana.account_search("a", limit=0), 422, "account_search with limit=0")

    step("cal blocks ben: neither finds the other, ana still finds cal")
    cal.account_block(ben_id)
    check(ids(ben.account_search("cal")) == [], "ben still finds cal, who blocked him")
    check(ids(cal.account_search("ben")) == [], "cal still finds ben, whom she blocked")
    check(ids(ana.account_search("cal")) == [cal_id], "ana no longer finds cal")
    cal.account_unblock(ben_id)

    step('search_v2("#starl", result_type="hashtags") returns the Tag "starling"')
    result = ben.search_v2("#starl", result_type="hashtags")
    names = [t.name for t in result.hashtags]
    check(names == ["starling"], f"search_v2 hashtags = {names}, expected ['starling']")
    check(str(result.hashtags[0].url).endswith("/tags/starling"), f"hashtag url = {result.hashtags[0].url!r}")
    check(result.accounts == [] and result.statuses == [], "a hashtag-only search returned accounts or statuses")

    step("search_v2(q) finds accounts; search_v2(<post URL>) finds that post")
    result = ana.search_v2("ben")
    check(ids(result.accounts) == [ben_id], f"search_v2('ben') accounts = {ids(result.accounts)}")
    result = ben.search_v2(first.url)
    check(ids(result.statuses) == [sid(first)], f"search_v2({first.url!r}) statuses = {ids(result.statuses)}, expected [{sid(first)}]")


def conversations_steps(ana, ben, ana_id, ben_id):
    """Direct messages: ben's conversation list (Mastodon.py requests it with a trailing slash)."""
    step('ana sends ben a direct message (visibility="direct", mentioning @ben)')
    message = ana.status_post("@ben just between us", visibility="direct")
    check(message.visibility == "direct", f"status visibility = {message.visibility!r}, expected 'direct'")

    step("ben's conversations() contain it, with ana in accounts and unread true")
    convs = ben.conversations()
    conv = next((c for c in convs if sid(c.get("last_status")) == sid(message)), None)
    check(conv is not None, f"no conversation with last_status {sid(message)} in {[sid(c.get('last_status')) for c in convs]}")
    others = [sid(a) for a in (conv.accounts or [])]
    check(others == [ana_id], f"conversation accounts = {others}, expected only ana ({ana_id}), not ben ({ben_id})")
    check(conv.unread is True, f"conversation unread = {conv.unread!r}, expected true")

    step("conversations_read(id) makes it read")
    read = ben.conversations_read(conv.id)
    check(sid(read) == sid(conv), f"conversations_read returned conversation {sid(read)}, expected {sid(conv)}")
    check(read.unread is False, f"conversations_read returned unread = {read.unread!r}, expected false")
    again = next((c for c in ben.conversations() if sid(c) == sid(conv)), None)
    check(again is not None and again.unread is False, f"after reading, the listed conversation is {again!r}")


def groups_steps(ana, ben, cal, ana_id, ben_id):
    """Starling's groups (docs/api.md, "Groups"): a private group, a join request answered by
    the owner, a post in the group, and who may read it."""
    step("groups: ana creates a private group (POST /api/v1/groups)")
    group = starling_request(ana, "POST", "/api/v1/groups", {
        "name": "Platform team", "description": "Builds and runs the platform", "visibility": "private",
    })
    gid = sid(group)
    check(gid is not None and gid.isdigit(), f"group id {gid!r} is not a decimal string")
    check(group.name == "Platform team" and group.visibility == "private", f"created group is {group!r}")
    check(group.members_count == 1, f"new group members_count = {group.members_count!r}, expected 1")
    rel = group.relationship
    check(rel.member is True and rel.role == "owner", f"creator's relationship = {rel!r}, expected member, owner")
    mine = starling_request(ana, "GET", "/api/v1/groups", {"mine": "true"}, entity=List[AttribAccessDict])
    check(gid in ids(mine), f"ana's groups (mine=true) {ids(mine)} lack {gid}")
    groups_url = f"/api/v1/groups/{gid}"

    step("groups: ben asks to join (requested, not yet a member); the timeline is 403 for him")
    asked = starling_request(ben, "POST", f"{groups_url}/join")
    check(asked.relationship.requested is True, f"join of a private group: relationship = {asked.relationship!r}, expected requested")
    check(asked.relationship.member is False, f"ben became a member without approval: {asked.relationship!r}")
    check(asked.members_count == 1, f"members_count = {asked.members_count!r} after a mere request, expected 1")
    expect_api_error(lambda: starling_request(ben, "GET", f"{groups_url}/timeline"), 403, "group timeline for a requester")
    waiting = starling_request(ana, "GET", f"{groups_url}/requests", entity=List[AttribAccessDict])
    check(ids(waiting) == [ben_id], f"ana's join requests = {ids(waiting)}, expected [{ben_id}] (ben)")
    notes = ana.notifications()
    note = find_notification(notes, "group_request", ben_id)
    check(note is not None, f"ana has no group_request notification from ben: {describe_notifications(notes)}")
    check(sid(note.get("group")) == gid, f"group_request notification names group {sid(note.get('group'))}, expected {gid}")

    step("groups: ana authorizes ben; he is a member and gets a group_approval notification")
    after = starling_request(ana, "POST", f"{groups_url}/requests/{ben_id}/authorize")
    check(after.members_count == 2, f"members_count after authorize = {after.members_count!r}, expected 2")
    bens_view = starling_request(ben, "GET", groups_url)
    check(bens_view.relationship.member is True and bens_view.relationship.role == "member",
          f"ben's relationship after approval = {bens_view.relationship!r}")
    check(starling_request(ana, "GET", f"{groups_url}/requests", entity=List[AttribAccessDict]) == [],
          "the request is still pending after authorize")
    notes = ben.notifications()
    check(find_notification(notes, "group_approval", ana_id) is not None,
          f"ben has no group_approval notification from ana: {describe_notifications(notes)}")

    step("groups: cal follows ben; ben posts in the group (status_post has no group_id: POST /api/v1/statuses)")
    cal.account_follow(ben_id)
    post = starling_request(ben, "POST", "/api/v1/statuses",
                            {"status": "Deploy freeze starts Friday", "group_id": gid, "visibility": "public"},
                            entity=Status)
    check(sid(post.get("group")) == gid, f"the post's group = {post.get('group')!r}, expected group {gid}")
    check(post.visibility == "private", f"a private group's post has visibility {post.visibility!r}, expected 'private'")

    step("groups: ana (owner) sees it in the group timeline and in her home timeline (she does not follow ben)")
    timeline = starling_request(ana, "GET", f"{groups_url}/timeline", entity=List[Status])
    check(ids(timeline) == [sid(post)], f"group timeline = {ids(timeline)}, expected [{sid(post)}]")
    home = ana.timeline_home()
    check(sid(post) in ids(home), f"ana's home timeline {ids(home)} lacks the group post {sid(post)}")
    shown = next(s for s in home if sid(s) == sid(post))
    check(sid(shown.get("group")) == gid, f"the group post in home has group {shown.get('group')!r}")

    step("groups: cal (follows ben, not a member) gets 403 on the group, 404 on the post, nothing in home")
    expect_api_error(lambda: starling_request(cal, "GET", f"{groups_url}/timeline"), 403, "group timeline for a non-member")
    expect_api_error(lambda: starling_request(cal, "GET", f"{groups_url}/members"), 403, "member list for a non-member")
    expect_api_error(lambda: cal.status(post.id), 404, "a private group's post for a non-member")
    check(sid(post) not in ids(cal.timeline_home()), "a private group's post reached a non-member follower's home")
    expect_api_error(
        lambda: starling_request(cal, "POST", "/api/v1/statuses", {"status": "let me in", "group_id": gid}),
        403,
        "posting in a group one is not a member of",
    )
    outside = starling_request(cal, "GET", groups_url)
    check(outside.relationship.member is False and outside.members_count == 2,
          f"cal's look-up of the group = {outside!r}, expected a non-member view with 2 members")


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], required=True)
    parser.add_argument("--postgres-url", help="admin URL of a PostgreSQL server (required with --database postgres)")
    parser.add_argument("--bin", default=os.environ.get("STARLING_BIN"), help="server binary (default: $STARLING_BIN)")
    parser.add_argument("--keep-temp", action="store_true", help="keep the temp dir (data, server log) for debugging")
    args = parser.parse_args()

    # Never let a non-UTF-8 console turn an emoji in a message into a crash.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")
        except AttributeError:
            pass

    if not args.bin:
        parser.error("set STARLING_BIN or pass --bin")
    binary = os.path.abspath(args.bin)
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        parser.error(f"server binary not found or not executable: {binary}")
    if args.database == "postgres" and not args.postgres_url:
        parser.error("--postgres-url is required with --database postgres")

    def terminate(signum, _frame):
        # SIGTERM to this script alone: unwind (KeyboardInterrupt) so that the server is still stopped.
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, terminate)

    print(f"Mastodon.py scenario against {binary} ({args.database})", flush=True)
    server = Server(binary, args.database, args.postgres_url, keep_temp=args.keep_temp)
    failure = None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            server.start()
            run_scenario(server.base_url)
        for w in caught:
            print(f"  warning: {w.category.__name__}: {w.message}", flush=True)
        api_warnings = [w for w in caught if "no API version found" in str(w.message)]
        if api_warnings:
            step.current = "after the scenario"
            raise ScenarioFailure(
                "Mastodon.py warned: version >= 4.3.0 but /api/v2/instance has no api_versions.mastodon"
            )
    except ScenarioFailure as e:
        failure = f"{step.current}: {e}"
    except KeyboardInterrupt:
        failure = f"{step.current}: interrupted"
    except MastodonError as e:
        # An error response or client-side check of Mastodon.py: name the scenario line, no full traceback.
        here = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == os.path.abspath(__file__)]
        where = f" (scenario.py line {here[-1].lineno}: {here[-1].line})" if here else ""
        failure = f"{step.current}: Mastodon.py raised {type(e).__name__}: {e}{where}"
    except Exception:  # noqa: BLE001 - report any client-side exception as a failure of the step
        failure = f"{step.current}: unexpected exception\n{traceback.format_exc()}"

    try:
        exit_code = server.stop()
        if failure is None and exit_code not in (0, None):
            failure = f"shutdown: server exited with {exit_code!r} after SIGTERM, expected a clean exit (0)"
        if failure is not None:
            server.print_log()
    finally:
        server.cleanup()

    if failure is not None:
        print(f"\nSCENARIO FAILED ({args.database}) at {failure}", file=sys.stderr, flush=True)
        return 1
    print(f"scenario passed ({args.database}, {step.number} steps)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
