# shellcheck shell=bash
# Throwaway PostgreSQL cluster for the test suite. Sourced by scripts/test.
#
#   pg_find_bin        sets PG_BIN to a directory holding initdb/pg_ctl/pg_isready/psql
#                      (returns 1 if none is found)
#   pg_install         installs the Debian `postgresql` package without starting
#                      or creating any system cluster (needs root or sudo)
#   pg_start           initdb + start a private cluster on a free 127.0.0.1 port;
#                      sets PG_PORT, PG_URL (admin URL), PG_TMP, PG_DATA, PG_LOG
#   pg_stop            stops that cluster (pg_ctl stop -m fast by its data dir,
#                      falling back to the postmaster PID) and removes PG_TMP;
#                      safe to call more than once and before pg_start
#
# The cluster: trust authentication, superuser `postgres`, listening only on
# 127.0.0.1:PG_PORT plus a Unix socket inside PG_TMP, fsync off. Nothing is
# written outside PG_TMP. When running as root, the server runs as the
# `postgres` system user (created if missing), because initdb refuses root.

PG_BIN=${PG_BIN:-}
PG_TMP=${PG_TMP:-}
PG_DATA=${PG_DATA:-}
PG_LOG=${PG_LOG:-}
PG_PORT=${PG_PORT:-}
PG_URL=${PG_URL:-}
PG_RUN_AS=${PG_RUN_AS:-}

_pg_sudo() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "error: need root (or sudo) to run: $*" >&2
        return 1
    fi
}

pg_find_bin() {
    local dir candidate
    if [ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ]; then
        return 0
    fi
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        # Resolve symlinks (e.g. /usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb)
        # so that pg_isready/psql of the same version are found next to it.
        dir=$(dirname "$(readlink -f "$(command -v initdb)")")
        if [ -x "$dir/pg_ctl" ] && [ -x "$dir/pg_isready" ]; then
            PG_BIN=$dir
            return 0
        fi
    fi
    # Debian/Ubuntu layout; pick the highest major version.
    for candidate in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k5,5 -n -r); do
        if [ -x "$candidate/initdb" ] && [ -x "$candidate/pg_ctl" ]; then
            PG_BIN=$candidate
            return 0
        fi
    done
    return 1
}

pg_install() {
    local created_policy=0
    echo "PostgreSQL server binaries not found; installing the Debian 'postgresql' package"
    # Keep the package's maintainer scripts from starting a system cluster ...
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        _pg_sudo sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'
        created_policy=1
    fi
    if [ "${APT_UPDATED:-0}" -ne 1 ]; then
        _pg_sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
        APT_UPDATED=1
    fi
    # ... and from creating one: postgresql-common first, then switch off
    # create_main_cluster before the server package's postinst runs.
    _pg_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql-common
    if [ -f /etc/postgresql-common/createcluster.conf ]; then
        _pg_sudo sed -ri 's/^#?[[:space:]]*create_main_cluster[[:space:]]*=.*$/create_main_cluster = false/' \
            /etc/postgresql-common/createcluster.conf
    fi
    _pg_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql
    if [ "$created_policy" -eq 1 ]; then
        _pg_sudo rm -f /usr/sbin/policy-rc.d
    fi
    PG_BIN=
    pg_find_bin || { echo "error: PostgreSQL installed but initdb/pg_ctl still not found" >&2; return 1; }
}

# Run a PostgreSQL server binary as the cluster owner.
_pg_as_owner() {
    # From inside PG_TMP: the owner may not be allowed into the caller's cwd.
    if [ -n "$PG_RUN_AS" ]; then
        (cd "${PG_TMP:-/}" && runuser -u "$PG_RUN_AS" -- "$@")
    else
        (cd "${PG_TMP:-/}" && "$@")
    fi
}

_pg_free_port() {
    python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

pg_start() {
    local attempt
    pg_find_bin || { echo "error: initdb/pg_ctl not found (run pg_install first)" >&2; return 1; }
    if [ "$(id -u)" -eq 0 ]; then
        if ! id postgres >/dev/null 2>&1; then
            useradd --system --user-group --no-create-home --home-dir /nonexistent \
                --shell /usr/sbin/nologin postgres
        fi
        PG_RUN_AS=postgres
        # /tmp, not $TMPDIR: the postgres user must be able to reach the directory.
        PG_TMP=$(mktemp -d /tmp/starling-pg.XXXXXX)
        chown "$PG_RUN_AS": "$PG_TMP"
    else
        PG_TMP=$(mktemp -d "${TMPDIR:-/tmp}/starling-pg.XXXXXX")
    fi
    PG_DATA=$PG_TMP/data
    PG_LOG=$PG_TMP/postgres.log
    _pg_as_owner "$PG_BIN/initdb" -D "$PG_DATA" -A trust -U postgres -E UTF8 --locale=C --no-sync \
        >"$PG_TMP/initdb.log" 2>&1 || {
        echo "error: initdb failed:" >&2
        cat "$PG_TMP/initdb.log" >&2
        return 1
    }
    # A free port can be taken between probing and binding; retry a few times.
    for attempt in 1 2 3 4 5; do
        PG_PORT=$(_pg_free_port)
        if _pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 \
            -o "-k $PG_TMP -h 127.0.0.1 -p $PG_PORT -F -c max_connections=200 -c full_page_writes=off -c synchronous_commit=off" \
            start >/dev/null; then
            break
        fi
        echo "pg_ctl start failed (attempt $attempt, port $PG_PORT); server log:" >&2
        tail -n 20 "$PG_LOG" >&2 || true
        PG_PORT=
    done
    if [ -z "$PG_PORT" ]; then
        echo "error: could not start PostgreSQL" >&2
        return 1
    fi
    for _ in $(seq 1 600); do
        if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres; then
            PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
            return 0
        fi
        sleep 0.05
    done
    echo "error: PostgreSQL did not answer pg_isready within 30 s; server log:" >&2
    cat "$PG_LOG" >&2 || true
    return 1
}

pg_stop() {
    local pid
    if [ -n "$PG_DATA" ] && [ -f "$PG_DATA/postmaster.pid" ]; then
        pid=$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null || true)
        if ! _pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1; then
            # pg_ctl could not stop it: fall back to the postmaster's own PID.
            if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
                kill -TERM "$pid" 2>/dev/null || true
                for _ in $(seq 1 100); do
                    kill -0 "$pid" 2>/dev/null || break
                    sleep 0.1
                done
                if kill -0 "$pid" 2>/dev/null; then
                    kill -KILL "$pid" 2>/dev/null || true
                fi
            fi
        fi
    fi
    if [ -n "$PG_TMP" ] && [ -d "$PG_TMP" ]; then
        rm -rf "$PG_TMP"
    fi
    PG_TMP='' PG_DATA='' PG_LOG='' PG_PORT='' PG_URL=''
}
