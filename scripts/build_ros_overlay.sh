#!/usr/bin/env bash
# Build the ROS 2 packages that PyPI does not ship (launch, launch_ros, ros2cli, tf2, tf2_ros,
# message_filters, image_geometry, cv_bridge, vision_msgs, ...) from source snapshots into a
# colcon overlay, <repo>/install_overlay, on top of the ROS 2 wheels in the venv. Called by
# scripts/setup_env.sh (after the wheel repair, before the project's own build); scripts/env.sh
# sources the overlay when it exists. The sources come from a local mirror (DEEPSORT_ROS_SRC, or
# ../shared/ros2-src beside the repository); without one, and without a ROS 2 install that has
# the tools, from the upstream repositories at the commits pinned in scripts/ros2_sources.txt
# (scripts/fetch_ros_sources.sh, into .cache/ros2-src); where that fails, set-up goes on without.
#
# Environment variables:
#   DEEPSORT_ROS_SRC   a local mirror: a folder of git-archive snapshots (*.tar.gz, *.tgz,
#                      *.tar.xz, *.tar; scripts/fetch_ros_sources.sh makes them) and/or unpacked
#                      package folders (default: <repo>/../shared/ros2-src when it exists).
#                      `none`: no overlay.
#   DEEPSORT_ROS_GIT_MIRROR  a mirror of the git repositories (see scripts/fetch_ros_sources.sh)
#   DEEPSORT_VENV      the project's venv (default: <repo>/.venv), made by scripts/setup_env.sh
#   DEEPSORT_ROS_APT   auto (default): when running as root with apt-get, install the Debian
#                      packages cv_bridge needs (libopencv-dev libboost-python-dev); 0: never (skip
#                      cv_bridge and image_geometry's C++ library when they are missing)
#   DEEPSORT_FORCE=1   rebuild even when nothing changed
#
# Packages that a real ROS install already provides (found in an AMENT_PREFIX_PATH prefix that is
# not ours, or importable without our install folders on the path) are not built again.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
script="$repo/scripts/$(basename "${BASH_SOURCE[0]}")"
venv="${DEEPSORT_VENV:-$repo/.venv}"
vpy="$venv/bin/python"
force="${DEEPSORT_FORCE:-0}"
apt_mode="${DEEPSORT_ROS_APT:-auto}"
work="$repo/build_overlay"          # unpacked sources, colcon build folders and logs
prefix="$repo/install_overlay"      # the overlay's install prefix (colcon --merge-install)
stamp="$prefix/.deepsort-overlay-stamp"

say() { echo "ros overlay: $*"; }
fail() {
  echo "ros overlay: $*" >&2
  exit 1
}

# ---- what the machine offers (part of the inputs) -----------------------------------------------
# Remove our own prefixes (install_overlay/, install/, the venv that env.sh adds) from a path
# list, keep the rest: a shell that sourced scripts/env.sh must not look like a new machine.
strip_ours() {
  local out='' p IFS=':'
  for p in $1; do
    case "$p" in
      ''|"$prefix"|"$prefix"/*|"$repo/install"|"$repo/install"/*|"$venv"|"$venv"/*) ;;
      *) out="${out:+$out:}$p" ;;
    esac
  done
  printf '%s' "$out"
}
foreign_ament="$(strip_ours "${AMENT_PREFIX_PATH:-}")"
foreign_cmake="$(strip_ours "${CMAKE_PREFIX_PATH:-}")"
foreign_pythonpath="$(strip_ours "${PYTHONPATH:-}")"

# ---- where the sources are ----------------------------------------------------------------------
# A local mirror first (a folder the user names, or ../shared/ros2-src beside the repository);
# else nothing when an installed ROS 2 already has the tools; else the upstream repositories at
# the commits pinned in scripts/ros2_sources.txt (scripts/fetch_ros_sources.sh).
ros_installed() {
  local p IFS=':'
  for p in $foreign_ament; do
    [ -f "$p/share/ament_index/resource_index/packages/ros2launch" ] && return 0
  done
  return 1
}
if [ -n "${DEEPSORT_ROS_SRC:-}" ]; then
  src="$DEEPSORT_ROS_SRC"
  if [ "$src" = none ]; then
    say "DEEPSORT_ROS_SRC=none: no ROS overlay is built."
    exit 0
  elif [ ! -d "$src" ]; then
    fail "DEEPSORT_ROS_SRC=$src is not a folder: name a folder of the source archives (scripts/ros2_sources.txt lists them), or set it to none to build no ROS tools."
  fi
elif [ -d "$repo/../shared/ros2-src" ]; then
  src="$repo/../shared/ros2-src"
elif ros_installed; then
  say "ros2 launch, ros2cli and tf2_ros come from your ROS 2 install: no overlay is built."
  exit 0
else
  src="$repo/.cache/ros2-src"
  say "no ROS 2 install found: fetching the ROS 2 packages PyPI lacks (scripts/ros2_sources.txt)"
  if ! bash "$repo/scripts/fetch_ros_sources.sh" "$src"; then
    say "WARNING: the ROS 2 tools (ros2 launch, ros2 topic, tf2_ros) are NOT built: their sources could not be fetched."
    say "  Tracking, the demo and the offline tools work without them. To get them: source a ROS 2 install"
    say "  (Humble/Jazzy/Kilted) and run set-up again, or set DEEPSORT_ROS_SRC to a folder of the archives"
    say "  listed in scripts/ros2_sources.txt, or DEEPSORT_ROS_GIT_MIRROR to a mirror of the repositories."
    exit 0
  fi
fi
src="$(cd "$src" && pwd)"
[ -x "$vpy" ] || fail "no venv python at $vpy: run scripts/setup_env.sh first."
[ -x "$venv/bin/colcon" ] || fail "colcon is missing from $venv: run scripts/setup_env.sh (requirements/ros.txt installs it)."

shopt -s nullglob
archives=("$src"/*.tar.gz "$src"/*.tgz "$src"/*.tar.xz "$src"/*.tar)
dirs=()
for d in "$src"/*/; do dirs+=("${d%/}"); done
shopt -u nullglob
[ -f "$src/package.xml" ] && dirs=("$src")
[ ${#archives[@]} -gt 0 ] || [ ${#dirs[@]} -gt 0 ] \
  || { say "$src holds no source archives or folders: no overlay is built."; exit 0; }

have_file() { compgen -G "$1" >/dev/null; }
machine_caps() {
  local opencv=no boostpy=no
  if have_file '/usr/lib/*/cmake/opencv4/OpenCVConfig.cmake' || have_file '/usr/lib/cmake/opencv4/OpenCVConfig.cmake' \
     || have_file '/usr/local/lib/cmake/opencv4/OpenCVConfig.cmake' || have_file '/usr/share/OpenCV/OpenCVConfig.cmake'; then
    opencv=yes
  fi
  if [ -f /usr/include/boost/python.hpp ] && { have_file '/usr/lib/*/libboost_python311.so' || have_file '/usr/lib/libboost_python311.so'; }; then
    boostpy=yes
  fi
  echo "opencv=$opencv boost_python=$boostpy"
}

inputs_hash() {
  {
    echo "overlay-v1"
    sha256sum "$script"
    cat "$venv/pyvenv.cfg" 2>/dev/null
    cat "$venv/.deepsort/requirements" 2>/dev/null   # the wheels in the venv
    echo "ament=$foreign_ament cmake=$foreign_cmake pythonpath=$foreign_pythonpath apt=$apt_mode"
    machine_caps
    local a d
    for a in "${archives[@]}"; do sha256sum "$a"; done
    for d in "${dirs[@]}"; do
      echo "dir $d"
      (cd "$d" && find . -type f ! -path '*/.git/*' ! -name '*.pyc' -print0 | sort -z | xargs -0r sha256sum)
    done
  } | sha256sum | cut -d' ' -f1
}

hash="$(inputs_hash)"
if [ "$force" != 1 ] && [ -f "$prefix/local_setup.bash" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$hash" ]; then
  say "up to date ($prefix)"
  exit 0
fi

# ---- unpack --------------------------------------------------------------------------------------
say "building the ROS 2 packages that PyPI lacks from $src into ${prefix#"$repo/"}/ (first time: a few minutes)"
rm -rf "$work" "$prefix"
mkdir -p "$work/src"
for a in "${archives[@]}"; do
  name="$(basename "$a")"; name="${name%.tar.gz}"; name="${name%.tgz}"; name="${name%.tar.xz}"; name="${name%.tar}"
  mkdir -p "$work/src/$name"
  tar -xf "$a" -C "$work/src/$name" || fail "could not unpack $a"
done
for d in "${dirs[@]}"; do
  mkdir -p "$work/src/dir-$(basename "$d")"
  cp -a "$d/." "$work/src/dir-$(basename "$d")/" || fail "could not copy $d"
done

# ---- decide what to build -----------------------------------------------------------------------
# The build sees the venv's wheels first, then whatever ROS the caller has sourced (not ours).
export PATH="$venv/bin:$(strip_ours "$PATH")"
export AMENT_PREFIX_PATH="$venv${foreign_ament:+:$foreign_ament}"
export CMAKE_PREFIX_PATH="$venv${foreign_cmake:+:$foreign_cmake}"
if [ -n "$foreign_pythonpath" ]; then export PYTHONPATH="$foreign_pythonpath"; else unset PYTHONPATH; fi
unset COLCON_PREFIX_PATH

mapfile -t pkgs < <(cd "$work" && colcon list --base-paths src --names-only 2>/dev/null | sort)
[ ${#pkgs[@]} -gt 0 ] || fail "colcon finds no ROS packages in $src."

# provided_elsewhere NAME...: the names a ROS install outside this repository already provides.
provided_elsewhere() {
  (cd / && "$vpy" -P - "$@" <<'PY'
import importlib.util, os, sys
ament = [p for p in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if p]
# tf2_ros_py installs the module tf2_ros; tf2 is C++ only.
module = {'tf2_ros_py': 'tf2_ros', 'tf2': None}
for name in sys.argv[1:]:
    if any(os.path.isfile(os.path.join(p, 'share', 'ament_index', 'resource_index', 'packages', name))
           for p in ament):
        print(name)
        continue
    mod = module.get(name, name)
    try:
        spec = importlib.util.find_spec(mod) if mod else None
    except (ImportError, ValueError):
        spec = None
    # A bare folder of that name is a namespace package, not an installed ROS package.
    if spec is not None and spec.origin not in (None, 'namespace'):
        print(name)
PY
  )
}
mapfile -t elsewhere < <(provided_elsewhere "${pkgs[@]}")
skip=("${elsewhere[@]}")
[ ${#elsewhere[@]} -eq 0 ] || say "already installed, not rebuilt: ${elsewhere[*]}"
wants() {  # wants NAME: in the sources and not provided elsewhere
  local p
  for p in "${pkgs[@]}"; do [ "$p" = "$1" ] || continue
    for s in "${elsewhere[@]}"; do [ "$s" = "$1" ] && return 1; done
    return 0
  done
  return 1
}
has_rclcpp=no
for p in $(echo "$AMENT_PREFIX_PATH" | tr ':' ' '); do
  [ -f "$p/share/ament_index/resource_index/packages/rclcpp" ] && has_rclcpp=yes
done

# cv_bridge (and image_geometry's C++ library) need OpenCV's C++ headers and Boost.Python.
caps="$(machine_caps)"
if { wants cv_bridge || wants image_geometry; } && [ "$caps" != 'opencv=yes boost_python=yes' ]; then
  debs='libopencv-dev libboost-python-dev'
  if [ "$apt_mode" != 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing $debs for cv_bridge (Debian packages; DEEPSORT_ROS_APT=0 skips this)"
    if ! { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends $debs >/dev/null 2>&1 \
           || { apt-get update -qq >/dev/null 2>&1 \
                && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends $debs >/dev/null; }; }; then
      say "could not install $debs: cv_bridge is skipped"
    fi
    caps="$(machine_caps)"
    hash="$(inputs_hash)"
  fi
fi
opencv=no; case "$caps" in *opencv=yes*) opencv=yes ;; esac
boostpy=no; case "$caps" in *boost_python=yes*) boostpy=yes ;; esac
if wants cv_bridge && { [ "$opencv" = no ] || [ "$boostpy" = no ]; }; then
  say "cv_bridge skipped: it needs OpenCV's C++ headers and Boost.Python (Debian: apt-get install libopencv-dev libboost-python-dev)"
  skip+=(cv_bridge)
fi

# ---- adapt the sources to what the wheels offer -------------------------------------------------
# PyPI has no rclcpp, tf2_ros (C++) or orocos_kdl: build the Python half of the packages that need
# them, and cv_bridge without its rclcpp type adapter. Each edit checks that its anchor is there.
python_only=()
wants message_filters && [ "$has_rclcpp" = no ] && python_only+=("message_filters:src/message_filters")
wants tf2_geometry_msgs && python_only+=("tf2_geometry_msgs:src/tf2_geometry_msgs")
wants image_geometry && [ "$opencv" = no ] && python_only+=("image_geometry:image_geometry")
cv_no_rclcpp=no
wants cv_bridge && [ "$has_rclcpp" = no ] && [ "$opencv" = yes ] && [ "$boostpy" = yes ] && cv_no_rclcpp=yes
cv_build=no
wants cv_bridge && [ "$opencv" = yes ] && [ "$boostpy" = yes ] && cv_build=yes
launch_testing=no
wants launch_testing && launch_testing=yes
DEEPSORT_CV_NO_RCLCPP="$cv_no_rclcpp" DEEPSORT_CV_BRIDGE="$cv_build" DEEPSORT_LAUNCH_TESTING="$launch_testing" \
  "$vpy" - "$work/src" "${python_only[@]}" <<'PY' || fail 'could not adapt the sources (see above)'
import os, sys
root, specs = sys.argv[1], sys.argv[2:]

def find(name):
    for d, subdirs, files in os.walk(root):
        if 'package.xml' in files and f'<name>{name}</name>' in open(os.path.join(d, 'package.xml')).read():
            return d
    sys.exit(f'package {name} not found under {root}')

def edit(path, old, new):
    text = open(path).read()
    if old not in text:
        sys.exit(f'{path}: expected text not found (the sources changed?): {old!r}')
    open(path, 'w').write(text.replace(old, new))

for spec in specs:
    name, module_dir = spec.split(':')
    d = find(name)
    os.rename(os.path.join(d, 'CMakeLists.txt'), os.path.join(d, 'CMakeLists.txt.upstream'))
    with open(os.path.join(d, 'CMakeLists.txt'), 'w') as f:
        f.write(f'''# Written by scripts/build_ros_overlay.sh: the Python module only (its C++ half needs
# packages that the PyPI wheels lack); the upstream file is CMakeLists.txt.upstream.
cmake_minimum_required(VERSION 3.14)
project({name})
find_package(ament_cmake_core REQUIRED)
find_package(ament_cmake_python REQUIRED)
ament_python_install_package({os.path.basename(module_dir)} PACKAGE_DIR {module_dir})
ament_package()
''')
    print(f'ros overlay: {name}: Python module only')

if os.environ.get('DEEPSORT_CV_NO_RCLCPP') == 'yes':
    d = find('cv_bridge')
    edit(os.path.join(d, 'CMakeLists.txt'), 'find_package(rclcpp REQUIRED)\n', '')
    edit(os.path.join(d, 'CMakeLists.txt'), '  sensor_msgs\n  rclcpp\n)', '  sensor_msgs\n)')
    edit(os.path.join(d, 'src', 'CMakeLists.txt'), '  cv_mat_sensor_msgs_image_type_adapter.cpp\n', '')
    edit(os.path.join(d, 'src', 'CMakeLists.txt'), '  rclcpp::rclcpp\n', '')
    os.remove(os.path.join(d, 'include', 'cv_bridge', 'cv_mat_sensor_msgs_image_type_adapter.hpp'))
    print('ros overlay: cv_bridge: without the rclcpp type adapter (no rclcpp on PyPI)')

if os.environ.get('DEEPSORT_CV_BRIDGE') == 'yes':
    # CvBridge keys its type table by pip's cv2 constants, but the codes it compares them with come
    # from its C++ library (Debian's OpenCV 4, whose CV_8UC3 is 16; pip's OpenCV 5 says 64). Ask
    # the C++ side for the codes, which is the same thing whenever the two OpenCV majors agree.
    core = os.path.join(find('cv_bridge'), 'python', 'cv_bridge', 'core.py')
    edit(core, "        self.cvtype_to_name = {}\n",
         "        from cv_bridge.boost.cv_bridge_boost import getCvType\n"
         "        self.cvtype_to_name = {}\n")
    edit(core, "self.cvtype_to_name[getattr(cv2, 'CV_%s' % nm)] = nm",
         "self.cvtype_to_name[getCvType(nm)] = nm")
    print("ros overlay: cv_bridge: type codes from its C++ OpenCV, not from pip's cv2")

if os.environ.get('DEEPSORT_LAUNCH_TESTING') == 'yes':
    # launch_testing's pytest plugin (loaded by every pytest run that sees the overlay) declares
    # the py.path `path` argument that pytest 9 no longer passes, and pytest refuses to start.
    # `module_path` (pytest >= 7) is the same file as a pathlib.Path, which the body handles.
    hooks = os.path.join(find('launch_testing'), 'launch_testing', 'pytest', 'hooks.py')
    edit(hooks, "def pytest_pycollect_makemodule(path, parent):\n",
         "def pytest_pycollect_makemodule(module_path, parent):\n    path = module_path\n")
    print('ros overlay: launch_testing: pytest plugin hook for pytest >= 9')
PY

# ---- build ---------------------------------------------------------------------------------------
skip_args=()
[ ${#skip[@]} -eq 0 ] || skip_args=(--packages-skip "${skip[@]}")
if [ ${#skip[@]} -ge ${#pkgs[@]} ]; then
  say "nothing to build: every package is provided already"
  mkdir -p "$prefix"
  : > "$prefix/setup.bash"
  : > "$prefix/local_setup.bash"
else
  (
    cd "$work"
    colcon --log-base "$work/log" build --merge-install --base-paths src \
      --build-base "$work/build" --install-base "$prefix" \
      --parallel-workers 2 "${skip_args[@]}" \
      --event-handlers console_cohesion- summary+ status- \
      --cmake-args -DPython3_EXECUTABLE="$vpy" -DBUILD_TESTING=OFF
  ) || fail "colcon build of the overlay failed: the first error above names the missing piece (logs: ${work#"$repo/"}/log)."
  # The wheels' CMake files named the build machine's Python; make sure ours do not.
  if grep -rlF '/opt/python/cp311-cp311' "$prefix/share" --include='*.cmake' >/dev/null 2>&1; then
    fail "the overlay's CMake files name /opt/python/cp311-cp311: the wheel repair in setup_env.sh did not run first."
  fi
  if [ -f "$prefix/bin/ros2" ] && [ "$(head -1 "$prefix/bin/ros2")" != "#!$vpy" ]; then
    fail "$prefix/bin/ros2 does not run the venv's python ($(head -1 "$prefix/bin/ros2"))."
  fi
  # Smoke test: every Python module built imports, and pytest starts with the overlay's plugins
  # (launch_testing, launch_pytest, launch_testing_ros) loaded.
  (
    set +u
    # shellcheck disable=SC1091
    COLCON_TRACE= source "$prefix/local_setup.bash"
    set -u
    cd /
    "$vpy" - "$prefix" <<'PY' || exit 1
import importlib, os, sys
prefix = sys.argv[1]
site = os.path.join(prefix, 'lib', 'python%d.%d' % sys.version_info[:2], 'site-packages')
for pkg in sorted(os.listdir(os.path.join(prefix, 'share', 'colcon-core', 'packages'))):
    mod = {'tf2_ros_py': 'tf2_ros'}.get(pkg, pkg)
    if os.path.isdir(os.path.join(site, mod, 'msg')):
        mod += '.msg'
    elif not os.path.isfile(os.path.join(site, mod, '__init__.py')):
        continue
    try:
        importlib.import_module(mod)
    except Exception as e:  # noqa: B902 - report any failure by name
        sys.exit(f'ros overlay: the built {pkg} does not import ({mod}): {type(e).__name__}: {e}')
PY
    "$vpy" -m pytest -p no:cacheprovider --help >/dev/null \
      || { echo "ros overlay: pytest does not start with the overlay's plugins (see above)" >&2; exit 1; }
  ) || fail 'the overlay was built but does not work (see above).'
fi
echo "$hash" > "$stamp"
built="$(ls "$prefix/share/colcon-core/packages" 2>/dev/null | tr '\n' ' ')"
say "ready: ${prefix#"$repo/"}/ (built: ${built:-nothing}${skip:+; not built: ${skip[*]}})"
