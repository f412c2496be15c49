#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster for the tests (installing Debian's `postgresql`
# when the server is missing) and print its URL. The cluster lives in a temp folder and
# listens on 127.0.0.1:${CTX_PG_PORT:-55432}; stop it with `pg_ctl -D <dir> stop`.
set -euo pipefail
port="${CTX_PG_PORT:-55432}"
# A port nothing listens on (another cluster may be up on the machine).
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "--- installing PostgreSQL (Debian's postgresql package)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
  bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
fi
dir="$(mktemp -d /tmp/ctx-pg.XXXXXX)"
as_owner=()
if [ "$(id -u)" = "0" ]; then
  chown postgres "$dir"
  as_owner=(runuser -u postgres --)
fi
"${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >/dev/null
"${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
echo "postgres://postgres@127.0.0.1:$port/postgres"
