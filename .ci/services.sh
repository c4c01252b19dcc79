# Sourced by .ci/run: installs and starts the real parts the tests use, and exports where they are.
#   - Debian's Chromium, driven by Playwright in the browser tests
#   - PostgreSQL, for the store tests (they also run on SQLite)
#   - Redis, for the scale-out worker tests
#   - bubblewrap, the sandbox that Codabench/CodaLab scoring programs run in
export DEBIAN_FRONTEND=noninteractive
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v redis-server >/dev/null || need+=(redis-server)
command -v pg_ctlcluster >/dev/null || need+=(postgresql)
command -v bwrap >/dev/null || need+=(bubblewrap)  # the sandbox of Codabench scoring programs
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
fi

# PostgreSQL: start the Debian cluster and create a test user and database.
pg_version=$(ls /etc/postgresql | sort -n | tail -1)
pg_ctlcluster "$pg_version" main start 2>/dev/null || true
for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='arena'\"" | grep -q 1 \
    || su postgres -c "psql -qc \"CREATE ROLE arena LOGIN SUPERUSER PASSWORD 'arena'\""
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='arena_test'\"" | grep -q 1 \
    || su postgres -c "createdb -O arena arena_test"
export ARENA_TEST_POSTGRES_URL="postgresql+psycopg://arena:arena@127.0.0.1:5432/arena_test"

# Redis on loopback, in the background.
redis-cli -p 6379 ping >/dev/null 2>&1 || redis-server --port 6379 --bind 127.0.0.1 --daemonize yes --save "" >/dev/null
for _ in $(seq 30); do redis-cli -p 6379 ping >/dev/null 2>&1 && break; sleep 0.5; done
export ARENA_TEST_REDIS_URL="redis://127.0.0.1:6379/0"

export ARENA_TEST_CHROMIUM="$(command -v chromium)"
