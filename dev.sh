#!/usr/bin/env bash
# Set-up and everyday tasks for cxreports. Every task first makes sure .venv/ is ready.
#   ./dev.sh reports   set up, generate the sample data, build the weekly reports in outputs/
#   ./dev.sh test      set up, then lint and run the whole test suite
#   ./dev.sh setup     only set up (system libraries, .venv/, the package and its tools)
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv

need_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

system_packages() {
  # WeasyPrint (PDF) needs Pango; fonts make the PDF readable on a bare machine.
  local missing=()
  # (grep reads every line, not -q: under pipefail, grep -q leaving early would fail a long
  # listing with SIGPIPE, and a package that is there would be installed again)
  ldconfig -p 2>/dev/null | grep 'libpango-1.0.so' >/dev/null || missing+=(libpango-1.0-0 libpangoft2-1.0-0)
  # font subsetting for small PDFs (WeasyPrint falls back to fontTools, with a warning)
  ldconfig -p 2>/dev/null | grep 'libharfbuzz-subset.so' >/dev/null || missing+=(libharfbuzz-subset0)
  fc-list 2>/dev/null | grep -i 'dejavu' >/dev/null || missing+=(fonts-dejavu-core fontconfig)
  # Chinese, Japanese and Korean names (DejaVu Sans has none of their letters: boxes otherwise)
  fc-list :lang=zh 2>/dev/null | grep . >/dev/null || missing+=(fonts-wqy-microhei)
  # Thai and the Indian scripts (Devanagari, Bengali, Tamil), and the other scripts DejaVu Sans
  # lacks; emoji in colour (a rocket, a family: boxes otherwise)
  for letter in 0e01 0915 0995 0b95; do
    fc-list ":charset=$letter" 2>/dev/null | grep . >/dev/null || { missing+=(fonts-noto-core); break; }
  done
  fc-list ':charset=1f680' 2>/dev/null | grep . >/dev/null || missing+=(fonts-noto-color-emoji)
  # the browser tests (tests/test_browser.py) drive Debian's headless Chromium with selenium
  command -v chromium >/dev/null || missing+=(chromium)
  command -v chromedriver >/dev/null || missing+=(chromium-driver)
  # the README's PySpark snippet runs on a local Spark session in the tests: Java 17 or newer
  java -version 2>&1 | grep -E 'version "(1[7-9]|[2-9][0-9])' >/dev/null || missing+=(openjdk-17-jre-headless)
  # the package's one C part (cxreports/_jsonkeys.c) is compiled when it is installed
  command -v cc >/dev/null || missing+=(gcc libc6-dev)
  "$PYTHON" -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
    || missing+=(python3-dev)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "dev.sh: installing system packages: ${missing[*]}"
    need_root apt-get update -qq
    need_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

setup() {
  system_packages
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
  fi
  local stamp="$VENV/.cxreports-installed"
  local want
  want=$(cat pyproject.toml setup.py requirements.lock cxreports/*.c | sha256sum | cut -c1-16)
  # (and the compiled part is there: an editable install builds it into cxreports/)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] \
    || ! compgen -G 'cxreports/_jsonkeys.*.so' >/dev/null; then
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
      -c requirements.lock -e '.[test]'
    "$VENV/bin/python" -m ipykernel install --sys-prefix --name python3 >/dev/null
    echo "$want" > "$stamp"
  fi
  # the package's bytecode, which Python does not write where PYTHONDONTWRITEBYTECODE is set:
  # without it every report kernel compiles cxreports from source again (~0.3 s each)
  "$VENV/bin/python" -m compileall -q cxreports >/dev/null
}

reports() {
  setup
  local data=data/sample
  if [ ! -d "$data" ]; then
    "$VENV/bin/cxreports" sample --out "$data"
  fi
  if [ -f data/store/_cxreports_store.json ]; then
    # a store of the earlier Parquet format, made from the sample by an earlier run: rebuild it
    echo "dev.sh: data/store is of the earlier Parquet format; rebuilding it as Delta tables"
    rm -rf data/store
  fi
  "$VENV/bin/cxreports" load "$data" --out data/store
  "$VENV/bin/cxreports" report all data/store --week 2026-W13 --tz Asia/Singapore --scorecards
}

tests() {
  setup
  # the project's own files: reports rendered into other folders of the checkout are not code
  "$VENV/bin/ruff" check cxreports tests benchmarks notebooks README.md
  "$VENV/bin/ruff" format --check cxreports tests benchmarks notebooks README.md
  # two workers (pytest-xdist): a test file, and every Spark test, stay on one of them
  # (tests/conftest.py); `./dev.sh test -n 0` runs in one process
  "$VENV/bin/python" -m pytest -n "${CXREPORTS_TEST_WORKERS:-2}" --dist loadgroup "$@"
}

case "${1:-}" in
  setup) setup ;;
  reports) reports ;;
  test) shift; tests "$@" ;;
  *) echo "usage: ./dev.sh {reports|test|setup}" >&2; exit 2 ;;
esac
