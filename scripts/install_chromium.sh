#!/usr/bin/env bash
# Chromium for the browser test (tests/docs/test_browser.py), from the Debian packages.
# Needs root (CI runs as root); elsewhere it says what to do and leaves the test to skip.
set -euo pipefail
if command -v chromium > /dev/null || command -v chromium-browser > /dev/null; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium > /dev/null
    command -v chromium
else
    echo "install_chromium: not root or no apt-get; install Debian's chromium (or set" \
         "SPIKEWAVE_CHROMIUM) to run the browser test" >&2
fi
