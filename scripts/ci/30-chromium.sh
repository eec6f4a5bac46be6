# Chromium for the web page's browser tests (tests/web), driven by Playwright for Python.
# Debian's chromium from apt, never `playwright install` (it downloads a browser and fails
# here); Playwright itself comes with the dev extra that scripts/check installs.
if [ ! -x /usr/bin/chromium ]; then
    echo "installing chromium (apt)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
export GPUPLAN_CHROMIUM=/usr/bin/chromium
