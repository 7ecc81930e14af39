#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser).
# As root this installs it; otherwise it says what to run. Exit status 0 either way: the tests decide
# (under CI=true a missing browser fails them, elsewhere they skip with a message).
set -u
if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" = "0" ]; then
    echo "Installing Debian's chromium for the browser tests..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null || echo "could not install chromium"
else
    echo "Chromium is not installed; browser tests will be skipped (run: sudo apt-get install chromium)."
fi
exit 0
