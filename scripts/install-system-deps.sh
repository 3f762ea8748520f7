#!/usr/bin/env bash
# System packages the tests need: for the swyx-connector, SIPp (a third-party SIP peer), OpenLDAP's
# slapd and the LDAP client tools (to load a test directory); for the bridge's admin page, Chromium
# and its WebDriver (the page is tested in a real headless browser). Idempotent: installs only what
# is missing.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

want=(sip-tester slapd ldap-utils chromium chromium-driver)
missing=()
for pkg in "${want[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "system deps: all present (${want[*]})"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "system deps: installing ${missing[*]}"
# slapd's post-install asks questions; preseed them away (tests run their own slapd, not the service).
echo "slapd slapd/no_configuration boolean true" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
$SUDO apt-get install -y --no-install-recommends "${missing[@]}"
