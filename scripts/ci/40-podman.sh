# podman + runc for the one real-container apply test (tests/apply/test_real_podman.py),
# sourced by .ci/run. podman-compose (>= 1.2, which reads device reservations) comes
# from the dev extra; the test builds its image locally and never pulls. Idempotent.
if ! command -v podman >/dev/null 2>&1 || ! command -v runc >/dev/null 2>&1; then
    echo "==> installing podman and runc"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends podman runc >/dev/null
fi
podman --version
