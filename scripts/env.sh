# Source this file (bash) to use the project's environment in a shell:
#   source scripts/env.sh
# It activates .venv and overlays install_overlay/ (ROS 2 packages built from source, when there)
# and the colcon install/ of deepsort_ros and its messages.
_deepsort_repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_deepsort_venv="${DEEPSORT_VENV:-$_deepsort_repo/.venv}"
if [ ! -f "$_deepsort_venv/bin/activate" ] || [ ! -f "$_deepsort_repo/install/setup.bash" ]; then
  echo "deepsort_ros: the environment is not built yet; run ./dev.sh setup first." >&2
  return 1 2>/dev/null || exit 1
fi
# colcon's and venv's scripts read unset variables; do not let a caller's `set -u` trip them.
case $- in *u*) _deepsort_nounset=1; set +u ;; *) _deepsort_nounset=0 ;; esac
# shellcheck disable=SC1091
source "$_deepsort_venv/bin/activate"
# The ROS wheels install their ament index into the venv itself.
case ":${AMENT_PREFIX_PATH:-}:" in
  *":$_deepsort_venv:"*) ;;
  *) export AMENT_PREFIX_PATH="$_deepsort_venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}" ;;
esac
# The ROS 2 packages PyPI lacks (ros2 launch/topic/node/param, tf2_ros, ...), built by
# scripts/build_ros_overlay.sh when their sources were there; below our own install/.
if [ -f "$_deepsort_repo/install_overlay/local_setup.bash" ]; then
  # shellcheck disable=SC1091
  COLCON_TRACE= source "$_deepsort_repo/install_overlay/local_setup.bash"
fi
# shellcheck disable=SC1091
COLCON_TRACE= source "$_deepsort_repo/install/setup.bash"
# Fast DDS's default 512 KB shared-memory segment loses camera images and the messages beside
# them (see config/fastdds_large_data.xml); use the large-data profile unless one is chosen.
if [ -z "${FASTDDS_DEFAULT_PROFILES_FILE:-}" ] && [ -z "${FASTRTPS_DEFAULT_PROFILES_FILE:-}" ]; then
  export FASTDDS_DEFAULT_PROFILES_FILE="$_deepsort_repo/install/deepsort_ros/share/deepsort_ros/config/fastdds_large_data.xml"
fi
[ "$_deepsort_nounset" = 1 ] && set -u
unset _deepsort_repo _deepsort_venv _deepsort_nounset
