#!/usr/bin/env bash
# Make (or refresh) the project's environment from nothing: a virtual environment in .venv with
# ROS 2 Kilted from PyPI wheels, torch, the numerical stack, and both ROS packages built by colcon
# into install/. Idempotent: every step is skipped when its inputs did not change.
#
# Environment variables:
#   PYTHON               interpreter to build the venv from (default: python3.11, else python3)
#   DEEPSORT_VENV        venv folder (default: <repo>/.venv)
#   DEEPSORT_TORCH_SPEC  pip requirement for torch (default: torch==2.13.0, a CPU build)
#   DEEPSORT_FORCE=1     redo every step
#   DEEPSORT_ROS_SRC     ROS 2 sources to build into install_overlay/ (scripts/build_ros_overlay.sh;
#                        default: ../shared/ros2-src when it exists, else no overlay)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${DEEPSORT_VENV:-$repo/.venv}"
torch_spec="${DEEPSORT_TORCH_SPEC:-torch==2.13.0}"
force="${DEEPSORT_FORCE:-0}"
step='starting'

fail() {
  echo "setup: $*" >&2
  exit 1
}
trap 'rc=$?; [ $rc -eq 0 ] || echo "setup: failed while ${step} (exit ${rc}); fix the cause above and run the same command again: finished steps are kept, the failed one is redone." >&2' EXIT

say() { echo "setup: $*"; }

# ---- 1. what the machine must have ------------------------------------------------------------
step='checking the machine'
python="${PYTHON:-}"
if [ -z "$python" ]; then
  if command -v python3.11 >/dev/null 2>&1; then python=python3.11; else python=python3; fi
fi
command -v "$python" >/dev/null 2>&1 || fail "no Python interpreter '$python' on PATH: install Python 3.11 (Debian 12: apt-get install python3 python3-venv)."
pyver="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
[ "$pyver" = "3.11" ] || fail "Python 3.11 is required (the ROS 2 Kilted wheels on PyPI are built for cp311), but '$python' is $pyver: set PYTHON=/path/to/python3.11."
"$python" -c 'import venv, ensurepip' 2>/dev/null || fail "'$python' cannot create virtual environments: install the venv module (Debian: apt-get install python3-venv)."
command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || fail "no C compiler found: rosidl compiles message support code; install one (Debian: apt-get install build-essential)."
command -v c++ >/dev/null 2>&1 || command -v g++ >/dev/null 2>&1 || fail "no C++ compiler found: install one (Debian: apt-get install g++)."

# ---- 2. the virtual environment ---------------------------------------------------------------
step='creating the virtual environment'
stamp_dir="$venv/.deepsort"
# A venv without our stamp was interrupted while being made: start it again rather than trip over it.
if [ -d "$venv" ] && [ ! -f "$stamp_dir/created" ]; then
  say "removing the incomplete environment $venv"
  rm -rf "$venv"
fi
if [ ! -d "$venv" ]; then
  venv_flags=()
  # On a GPU machine whose interpreter already has a CUDA torch, keep using it.
  if "$python" -c 'import torch, sys; sys.exit(0 if torch.version.cuda else 1)' 2>/dev/null; then
    say "keeping the CUDA build of torch that $python already has"
    venv_flags+=(--system-site-packages)
  fi
  say "creating $venv"
  "$python" -m venv "${venv_flags[@]}" "$venv"
  mkdir -p "$stamp_dir"
  touch "$stamp_dir/created"
fi
vpy="$venv/bin/python"
pip=("$vpy" -m pip --disable-pip-version-check)

# ---- 3. Python packages -------------------------------------------------------------------------
step='installing Python packages'
req_files=("$repo"/requirements/*.txt)
req_hash="$(cat "${req_files[@]}" | sha256sum | cut -d' ' -f1) $torch_spec"
if [ "$force" = 1 ] || [ "$(cat "$stamp_dir/requirements" 2>/dev/null)" != "$req_hash" ]; then
  say 'installing ROS 2 Kilted, torch and the numerical stack (first time: about a minute)'
  if ! "$vpy" -c 'import torch' 2>/dev/null; then
    # Pinned: an unpinned torch pulls a multi-GB CUDA build.
    "${pip[@]}" install -q "$torch_spec" \
      || fail "could not install $torch_spec: is PyPI (or a local wheel cache) reachable?"
  fi
  req_args=()
  for f in "${req_files[@]}"; do req_args+=(-r "$f"); done
  "${pip[@]}" install -q "${req_args[@]}" \
    || fail 'could not install the packages in requirements/: is PyPI reachable? (see the pip error above)'
  echo "$req_hash" > "$stamp_dir/requirements"
else
  say 'Python packages are up to date'
fi

# ---- 4. repair the wheels' baked-in build paths -------------------------------------------------
step="repairing the ROS wheels' CMake files"
# The wheels' exported CMake files name the build machine's Python; point them at ours.
py_include="$("$vpy" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
np_include="$("$vpy" -c 'import numpy; print(numpy.get_include())')"
[ -f "$py_include/Python.h" ] || fail "Python headers are missing ($py_include/Python.h): install them (Debian: apt-get install python3-dev)."
{ grep -rlF '/opt/python/cp311-cp311' "$venv/share" --include='*.cmake' 2>/dev/null || true; } | while read -r f; do
  sed -i \
    -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#${np_include}#g" \
    -e "s#/opt/python/cp311-cp311/include/python3.11#${py_include}#g" "$f"
done

# cmake: the machine's, else the one from PyPI.
if ! command -v cmake >/dev/null 2>&1 && [ ! -x "$venv/bin/cmake" ]; then
  "${pip[@]}" install -q 'cmake==3.31.6' || fail 'no cmake on PATH and none could be installed from PyPI.'
fi

# ---- 4b. the ROS 2 packages PyPI lacks (launch, ros2cli, tf2_ros, ...), when their sources are here
step='building the ROS overlay (scripts/build_ros_overlay.sh)'
DEEPSORT_VENV="$venv" bash "$repo/scripts/build_ros_overlay.sh" \
  || fail 'the ROS overlay did not build (see above); DEEPSORT_ROS_SRC=none sets up without it.'
overlay="$repo/install_overlay"
if [ -f "$overlay/local_setup.bash" ]; then
  # Build the project against the overlay, and let the interface checks below see it.
  set +u
  # shellcheck disable=SC1091
  COLCON_TRACE= source "$overlay/local_setup.bash"
  set -u
fi

# ---- 5. build our ROS packages (and vision_msgs, yolo_msgs where no real ones are installed) -----
step='building the ROS packages with colcon'
base_paths=("$repo" "$repo/msg" "$repo/hog_detector")
# installed_elsewhere PKG: a real PKG (not our build of its copy in install/) is importable or
# in a prefix of AMENT_PREFIX_PATH (install_overlay/ counts: it is the ROS install here).
installed_elsewhere() {
  env -u PYTHONPATH -u AMENT_PREFIX_PATH -u COLCON_PREFIX_PATH "$vpy" -c "import $1.msg" 2>/dev/null \
   || { [ -n "${AMENT_PREFIX_PATH:-}" ] && DEEPSORT_REPO="$repo" DEEPSORT_PKG="$1" "$vpy" - <<'PY' 2>/dev/null
import os, sys
repo_install = os.path.join(os.environ.get('DEEPSORT_REPO', ''), 'install')
for prefix in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep):
    # Our own install/ never counts; install_overlay/ (the real package) does.
    ours = prefix == repo_install or prefix.startswith(repo_install + os.sep)
    if prefix and not ours and os.path.isfile(os.path.join(
            prefix, 'share', 'ament_index', 'resource_index', 'packages',
            os.environ['DEEPSORT_PKG'])):
        sys.exit(0)
sys.exit(1)
PY
   }
}
# The interface packages we carry a copy of (third_party/): built only where no real one is.
copies=''
for pkg in vision_msgs yolo_msgs; do
  if installed_elsewhere "$pkg"; then
    say "using the installed $pkg"
    # An earlier build of the copy in install/ would shadow the real one: drop it.
    if [ -d "$repo/install/$pkg" ] || [ -d "$repo/build/$pkg" ]; then
      say "removing the earlier build of third_party/$pkg"
      rm -rf "$repo/install/$pkg" "$repo/build/$pkg"
    fi
  else
    base_paths+=("$repo/third_party/$pkg")
    copies="$copies $pkg"
  fi
done
src_hash="$( (cd "$repo" && find package.xml setup.py setup.cfg resource bin deepsort_ros launch config rviz msg \
  hog_detector third_party -type f ! -name '*.pyc' -print0 | sort -z | xargs -0 sha256sum; echo "$copies"
  cat "$repo/install_overlay/.deepsort-overlay-stamp" 2>/dev/null || true) \
  | sha256sum | cut -d' ' -f1)"
if [ "$force" != 1 ] && [ -f "$repo/install/setup.bash" ] \
   && [ "$(cat "$stamp_dir/build" 2>/dev/null)" = "$src_hash" ]; then
  say 'ROS packages are up to date'
else
  say "building ${base_paths[*]#"$repo/"}"
  rm -f "$stamp_dir/build"
  (
    cd "$repo"
    export PATH="$venv/bin:$PATH"
    # The wheels' ament index lives in the venv; CMake's rosidl looks for typesupports there.
    export AMENT_PREFIX_PATH="$venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
    export CMAKE_PREFIX_PATH="$venv${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
    "$venv/bin/colcon" --log-base "$repo/log" build --base-paths "${base_paths[@]}" \
      --build-base "$repo/build" --install-base "$repo/install" \
      --event-handlers console_cohesion- summary+ status- \
      --cmake-args -DPython3_EXECUTABLE="$vpy" -DBUILD_TESTING=OFF
  ) || fail 'colcon build failed: the first error above names the missing piece.'
  echo "$src_hash" > "$stamp_dir/build"
fi

# ---- 6. the deepsort-ros command in the environment ---------------------------------------------
step='installing the deepsort-ros command'
cat > "$venv/bin/deepsort-ros" <<EOF
#!/usr/bin/env bash
# Generated by scripts/setup_env.sh: runs the deepsort-ros CLI with the built ROS packages.
set -e
source "$repo/scripts/env.sh"
exec "$vpy" -m deepsort_ros.cli.main "\$@"
EOF
chmod +x "$venv/bin/deepsort-ros"
say "ready: source scripts/env.sh to use it in a shell (interface copies built:${copies:- none})"
