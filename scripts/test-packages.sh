#!/usr/bin/env bash
# The Debian packages the test suite runs for real: dnsmasq and squid (their log formats),
# tshark (packet captures checked against Wireshark's dissectors), libpcap (capture filters),
# postgresql (the store tests' second store), rsync (list updates from an rsync server),
# rsyslog and bsdutils (logger: syslog sent to the listener), chromium and chromium-driver
# (the console's pages in a real browser, driven by Selenium). Missing ones are installed
# when this runs as root on a machine with apt; otherwise one line names them, and the tests
# that need them skip, each saying what to install. The packages' own services are kept
# from starting: the tests start private instances of their own.
set -euo pipefail
packages=(make dnsmasq squid tshark libpcap0.8 postgresql rsync rsyslog bsdutils chromium
    chromium-driver)

say() { printf 'monitord tests: %s\n' "$*"; }

if ! command -v dpkg-query >/dev/null 2>&1; then
    say "not a Debian system: install ${packages[*]} with its package manager, or the tests" \
        "that need them skip"
    exit 0
fi
missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$package")
    fi
done
[ "${#missing[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "not installed: ${missing[*]}; the tests that need them skip" \
        "(as root: apt-get install ${missing[*]})"
    exit 0
fi

# The pids in the pid files of the dnsmasq, squid, rsyslog and postgresql services, if they run.
service_pids() {
    local pidfile
    for pidfile in /run/dnsmasq/dnsmasq.pid /run/squid.pid /run/rsyslogd.pid \
        /var/run/postgresql/*-main.pid; do
        # (PostgreSQL's pid file holds more lines after the pid.)
        if [ -s "$pidfile" ] && kill -0 "$(head -n1 "$pidfile")" 2>/dev/null; then
            head -n1 "$pidfile"
        fi
    done
}

export DEBIAN_FRONTEND=noninteractive
# A policy-rc.d that answers 101 keeps the install from starting the packages' services.
policy=/usr/sbin/policy-rc.d
own_policy=""
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=1
    trap 'rm -f "$policy"' EXIT
fi
running_before=" $(service_pids | tr '\n' ' ') "
say "installing ${missing[*]}"
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if [ -n "$own_policy" ]; then
    rm -f "$policy"
    trap - EXIT
fi
# Stop whatever the install started all the same, and only that.
for pid in $(service_pids); do
    case "$running_before" in
        *" $pid "*) ;;
        *) kill "$pid" 2>/dev/null || true ;;
    esac
done
