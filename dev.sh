#!/usr/bin/env bash
# deepsort_ros developer entry point.
#   ./dev.sh demo   set up if needed, build, and run the main job
#   ./dev.sh test   set up if needed, build, and run the whole test suite
#   ./dev.sh setup  only (re)make the environment (.venv) and build (install/)
#   ./dev.sh shell  open a shell inside the environment
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cmd="${1:-help}"
[ $# -gt 0 ] && shift

setup() { bash "$repo/scripts/setup_env.sh"; }
enter() {
  # shellcheck disable=SC1091
  source "$repo/scripts/env.sh"
}

case "$cmd" in
  setup)
    setup ;;
  demo)
    setup; enter
    PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" exec python -m demo "$@" ;;
  test)
    setup; enter
    cd "$repo"
    exec python -m pytest "$@" ;;
  shell)
    setup; enter
    exec bash -i ;;
  *)
    sed -n '2,6p' "$0"; exit 2 ;;
esac
