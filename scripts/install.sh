#!/usr/bin/env bash
# Install monitord on a Debian school server:
#   sudo make install            (or: sudo scripts/install.sh install)
#   sudo make uninstall          keeps /var/lib/monitord and /etc/monitord
#   sudo make uninstall PURGE=1  removes them too
# ROOT=/some/dir installs into a folder instead of / (for checking what would be written);
# NO_SYSTEMCTL=1 leaves systemd alone; SKIP_VENV=1 skips creating the virtual environment.
set -euo pipefail
action="${1:-install}"
here="$(cd "$(dirname "$0")/.." && pwd)"
root="${ROOT:-}"
prefix="$root/opt/monitord"
etc="$root/etc/monitord"
state="$root/var/lib/monitord"
unit_dir="$root/etc/systemd/system"
# Debian's own interpreter: the service user must be able to run what the virtual environment
# links to, which an interpreter under /root (pyenv and the like) is not.
python="${PYTHON:-/usr/bin/python3}"
# Where a running systemd keeps its state (overridable for checking the script).
systemd_run="${SYSTEMD_RUN_DIR:-/run/systemd/system}"
umask 022  # the program must be readable by the service user, whatever root's umask

say() { printf 'monitord: %s\n' "$*"; }
die() { printf 'monitord: %s\n' "$*" >&2; exit 1; }

check_python() {
    local real dir
    [ -x "$python" ] || die "no Python at $python (Debian: apt-get install python3 python3-venv)"
    "$python" -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null ||
        die "$python is not Python 3.11 or newer with venv (Debian: apt-get install python3-venv)"
    # Every folder above the interpreter must let others through, or the service cannot start.
    real="$(readlink -f "$python")"
    dir="$(dirname "$real")"
    while [ "$dir" != "/" ]; do
        if [ "$(( 0$(stat -c %a "$dir") & 01 ))" -eq 0 ]; then
            die "$real cannot be run by the monitord user ($dir is closed to others):" \
                "use Debian's /usr/bin/python3 (PYTHON=/usr/bin/python3 make install)"
        fi
        dir="$(dirname "$dir")"
    done
}

systemd_running() { [ -d "$systemd_run" ]; }

ensure_user() {
    if [ -n "$root" ]; then
        return  # a folder install: ownership is the installer's own
    fi
    if command -v systemd-sysusers >/dev/null 2>&1; then
        systemd-sysusers "$here/systemd/monitord.sysusers"
    elif ! id monitord >/dev/null 2>&1; then
        useradd --system --home-dir /var/lib/monitord --shell /usr/sbin/nologin monitord
        usermod -a -G adm monitord
    fi
}

own() {  # own OWNER:GROUP MODE PATH, ownership only on a real install
    if [ -z "$root" ]; then chown "$1" "$3"; fi
    chmod "$2" "$3"
}

install_all() {
    if [ -z "${SKIP_VENV:-}" ]; then
        check_python
    fi
    ensure_user
    install -d -m 0755 "$prefix" "$unit_dir" "$root/usr/lib/sysusers.d" "$root/usr/lib/tmpfiles.d"
    install -d -m 0750 "$etc" "$state"
    install -d -m 0700 "$state/outbox-mail" "$state/evidence" "$state/lists"
    install -d -m 0770 "$state/spool"
    own root:monitord 0750 "$etc"
    for d in "$state" "$state/outbox-mail" "$state/evidence" "$state/lists" "$state/spool"; do
        own monitord:monitord "$(stat -c %a "$d")" "$d"
    done
    if [ -z "${SKIP_VENV:-}" ]; then
        say "creating the virtual environment in /opt/monitord/venv"
        "$python" -m venv "$prefix/venv"
        "$prefix/venv/bin/pip" install --quiet --upgrade pip
        "$prefix/venv/bin/pip" install --quiet "$here"
    fi
    install -m 0644 "$here/README.md" "$prefix/README.md"
    install -m 0644 "$here/systemd/monitord.service" "$unit_dir/monitord.service"
    install -m 0644 "$here/systemd/monitord-web.service" "$unit_dir/monitord-web.service"
    install -m 0644 "$here/systemd/monitord.sysusers" "$root/usr/lib/sysusers.d/monitord.conf"
    install -m 0644 "$here/systemd/monitord.tmpfiles" "$root/usr/lib/tmpfiles.d/monitord.conf"
    install -d -m 0755 "$prefix/systemd"
    install -m 0644 "$here/systemd/monitord.service.d/capture.conf" "$prefix/systemd/capture.conf"
    if [ ! -e "$etc/monitord.toml" ]; then
        py="$prefix/venv/bin/python"
        [ -x "$py" ] || py="$python"
        PYTHONPATH="$here" "$py" -c \
            'from monitord.service.initdir import system_config; print(system_config(), end="")' \
            >"$etc/monitord.toml"
        install -m 0640 "$here/config/policy.toml" "$etc/policy.toml"
        say "wrote /etc/monitord/monitord.toml: set [school], [recipients] and [[sources]]"
    else
        say "kept the existing /etc/monitord/monitord.toml"
    fi
    own root:monitord 0640 "$etc/monitord.toml"
    own root:monitord 0640 "$etc/policy.toml"
    if [ ! -e "$etc/smtp.secret" ]; then
        : >"$etc/smtp.secret"
    fi
    own monitord:monitord 0600 "$etc/smtp.secret"
    if ! systemd_running; then
        say "installed into ${root:-/}; systemd is not running on this machine, so the unit" \
            "waits for one that runs it: until then start the daemon by hand with" \
            "/opt/monitord/venv/bin/monitord --config /etc/monitord/monitord.toml run"
    elif [ -z "$root" ] && [ -z "${NO_SYSTEMCTL:-}" ] && command -v systemctl >/dev/null 2>&1; then
        systemd-tmpfiles --create /usr/lib/tmpfiles.d/monitord.conf || true
        systemctl daemon-reload
        say "installed: edit /etc/monitord/monitord.toml, then: systemctl enable --now monitord"
        say "the safeguarding console: set [web], add the first account (monitord users add)," \
            "then: systemctl enable --now monitord-web"
    else
        say "installed into ${root:-/}"
    fi
}

uninstall_all() {
    if systemd_running && [ -z "$root" ] && [ -z "${NO_SYSTEMCTL:-}" ] &&
        command -v systemctl >/dev/null 2>&1; then
        systemctl disable --now monitord monitord-web 2>/dev/null || true
    fi
    rm -f "$unit_dir/monitord.service" "$unit_dir/monitord-web.service" \
        "$root/usr/lib/sysusers.d/monitord.conf" \
        "$root/usr/lib/tmpfiles.d/monitord.conf"
    rm -rf "$prefix"
    if [ -n "${PURGE:-}" ]; then
        rm -rf "$state" "$etc"
        say "removed, with its data and configuration"
    else
        say "removed; kept the data in /var/lib/monitord and the config in /etc/monitord"
    fi
    if systemd_running && [ -z "$root" ] && [ -z "${NO_SYSTEMCTL:-}" ] &&
        command -v systemctl >/dev/null 2>&1; then
        systemctl daemon-reload || true
    fi
}

case "$action" in
    install) install_all ;;
    uninstall) uninstall_all ;;
    *) echo "usage: $0 install|uninstall" >&2; exit 2 ;;
esac
