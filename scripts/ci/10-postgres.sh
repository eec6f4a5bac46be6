# PostgreSQL server binaries for the store tests (sourced by .ci/run).
# The tests initdb and start their own throwaway cluster on 127.0.0.1 (tests/services.py);
# this only makes sure initdb/pg_ctl and the postgres user exist. Idempotent.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! id postgres >/dev/null 2>&1; then
    echo "==> installing PostgreSQL"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # policy-rc.d 101: do not start the packaged cluster; the tests start their own
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    rm -f /usr/sbin/policy-rc.d
fi
ls -d /usr/lib/postgresql/*/bin/initdb
