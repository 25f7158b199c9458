#!/usr/bin/env bash
# The two commands of the README. Each sets up .venv on a fresh machine first.
#   bash dev.sh demo   run the demo on the embedded defaults
#   bash dev.sh test   run the whole test suite
set -euo pipefail
cd "$(dirname "$0")"

setup() {
    if [ ! -x .venv/bin/python ]; then
        python3 -m venv .venv
    fi
    # re-install only when the project's requirements or pins changed; compat/ is the
    # opt-in `azureml` package (v1 programs run with no edit), installed here for the
    # tests. constraints.txt pins every dependency to the versions the suite passed with.
    stamp=.venv/.dataferry-installed
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ compat/pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
        .venv/bin/python -m pip install --quiet --upgrade pip
        .venv/bin/python -m pip install --quiet -c constraints.txt -e ".[dev]" -e ./compat
        touch "$stamp"
    fi
    system_packages
}

# FUSE for mount mode of remote datastores (fusepy needs libfuse2; unmounting needs
# fusermount from fuse3). Installed as root when missing; elsewhere the FUSE tests
# skip with the reason and the download fallback is tested.
system_packages() {
    if { ! command -v fusermount3 >/dev/null || ! ldconfig -p | grep -q 'libfuse\.so\.2'; } \
        && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get install -y -q fuse3 libfuse2 >/dev/null \
            || { apt-get update -q >/dev/null && apt-get install -y -q fuse3 libfuse2 >/dev/null; } \
            || echo "dev.sh: could not install fuse3 libfuse2; FUSE tests will skip" >&2
    fi
}

case "${1:-}" in
    demo)
        setup
        shift
        exec .venv/bin/python -m dataferry.demo "$@"
        ;;
    test)
        setup
        shift
        # both cores by default (pytest-xdist); a later -n in the arguments wins
        exec .venv/bin/python -m pytest -n 2 "$@"
        ;;
    *)
        echo "usage: bash dev.sh demo|test [args...]" >&2
        exit 2
        ;;
esac
