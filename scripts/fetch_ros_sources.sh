#!/usr/bin/env bash
# Fetch the ROS 2 packages PyPI lacks (launch, ros2cli, tf2_ros, ...) from their upstream git
# repositories at the commits pinned in scripts/ros2_sources.txt, as <name>.tar.gz archives of
# the listed paths in DEST: the same archives a local mirror holds, for
# scripts/build_ros_overlay.sh. Called by it when no ROS install and no mirror provide them.
#
#   scripts/fetch_ros_sources.sh DEST
#
# Environment variables:
#   DEEPSORT_ROS_SOURCES     the manifest (default: scripts/ros2_sources.txt)
#   DEEPSORT_ROS_GIT_MIRROR  a URL or folder that replaces https://github.com in every URL of
#                            the manifest (a mirror of the repositories, e.g. /srv/git with
#                            /srv/git/ros2/launch.git in it)
#
# A repository is fetched by its commit id alone, so git itself checks that what arrives is that
# commit (every object is addressed by its hash); the archive is then made from that commit.
# An archive already in DEST for the same commit and paths is kept.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
manifest="${DEEPSORT_ROS_SOURCES:-$repo/scripts/ros2_sources.txt}"
mirror="${DEEPSORT_ROS_GIT_MIRROR:-}"
say() { echo "ros sources: $*"; }
fail() {
  echo "ros sources: $*" >&2
  exit 1
}

[ $# -eq 1 ] || fail 'usage: fetch_ros_sources.sh DEST'
dest="$1"
[ -f "$manifest" ] || fail "no manifest at $manifest"
command -v git >/dev/null 2>&1 || fail 'git is not installed (Debian: apt-get install git).'
mkdir -p "$dest"
dest="$(cd "$dest" && pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

n=0
while read -r name url commit paths; do
  case "$name" in ''|'#'*) continue ;; esac
  [ -n "$paths" ] || fail "$manifest: '$name' needs a url, a commit and the paths to keep"
  [[ "$commit" =~ ^[0-9a-f]{40}$ ]] || fail "$manifest: '$name' must be pinned to a full 40-hex commit, got '$commit'"
  [ -n "$mirror" ] && url="${url/#https:\/\/github.com/$mirror}"
  archive="$dest/$name.tar.gz"
  record="$dest/$name.source"
  want="$commit $paths"
  if [ -f "$archive" ] && [ "$(cat "$record" 2>/dev/null)" = "$want" ]; then
    n=$((n + 1))
    continue
  fi
  say "fetching $name at ${commit:0:12} from $url"
  git_dir="$scratch/$name.git"
  git init -q --bare "$git_dir"
  # By commit id only: a server (or mirror) that does not have exactly this commit fails here.
  git -C "$git_dir" fetch -q --depth 1 "$url" "$commit" \
    || fail "could not fetch $name at $commit from $url (no network? set DEEPSORT_ROS_SRC to a folder of these archives, or DEEPSORT_ROS_GIT_MIRROR to a mirror of the repositories)"
  got="$(git -C "$git_dir" rev-parse --verify -q "$commit^{commit}" || true)"
  [ "$got" = "$commit" ] || fail "$url did not deliver commit $commit for $name"
  # shellcheck disable=SC2086  # paths is a list of words by design
  git -C "$git_dir" archive --format=tar.gz --prefix="$name/" -o "$archive.part" "$commit" -- $paths \
    || fail "$name at $commit has not all of: $paths"
  mv "$archive.part" "$archive"
  echo "$want" > "$record"
  n=$((n + 1))
done < "$manifest"
[ "$n" -gt 0 ] || fail "$manifest lists no repositories"
say "ready: $n source archives in $dest"
