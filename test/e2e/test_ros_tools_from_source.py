"""
The ROS 2 tools PyPI lacks, for a user without a ROS install: fetched, built, launched.

- ``scripts/build_ros_overlay.sh`` on a machine with no ROS install and no mirror fetches each
  repository of the manifest at its pinned commit (``scripts/fetch_ros_sources.sh``) and builds
  it: driven here against a local git repository standing in for upstream, with a package of
  our own, so the code a user runs is the code tested.
- A commit the repository does not have is refused by git itself: set-up goes on without the
  tools and says how to get them.
- A fresh clone with a local mirror named by ``DEEPSORT_ROS_SRC`` and no ``../shared``:
  ``scripts/setup_env.sh``, then ``ros2 launch deepsort_ros deepsort.launch.py`` and the
  multi-camera launch start their nodes (needs the snapshots in ``../shared/ros2-src`` to make
  the mirror from; skipped without).
"""

import os
from pathlib import Path
import shlex
import shutil
import signal
import subprocess
import sys
from typing import Dict, List
import uuid

from helpers.clones import copy_repository, environment_without_repository
from helpers.node_harness import Harness
from helpers.paths import REPO, SHARED
import pytest
import yaml

pytestmark = pytest.mark.dds

VENV = Path(sys.prefix)
MIRROR = SHARED / 'ros2-src'
WAIT_S = 90.0
PACKAGE = 'deepsort_fetch_probe'
PACKAGE_XML = f"""<?xml version="1.0"?>
<package format="3">
  <name>{PACKAGE}</name>
  <version>0.0.1</version>
  <description>A package standing in for an upstream ROS 2 package.</description>
  <maintainer email="maintainers@deepsort-ros.dev">deepsort_ros maintainers</maintainer>
  <license>Apache-2.0</license>
  <export><build_type>ament_python</build_type></export>
</package>
"""
SETUP_PY = f"""from setuptools import setup
setup(name='{PACKAGE}', version='0.0.1', packages=['{PACKAGE}'],
      data_files=[('share/ament_index/resource_index/packages', ['resource/{PACKAGE}']),
                  ('share/{PACKAGE}', ['package.xml'])])
"""


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(['git', '-c', 'user.name=test', '-c', 'user.email=t@example.com',
                           *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


def _upstream(root: Path) -> str:
    """Make ``root/ros2/probe.git``, a repository with our package, and return its commit."""
    work = root / 'work'
    (work / PACKAGE / PACKAGE).mkdir(parents=True)
    (work / PACKAGE / 'resource').mkdir()
    (work / PACKAGE / 'resource' / PACKAGE).write_text('')
    (work / PACKAGE / 'package.xml').write_text(PACKAGE_XML)
    (work / PACKAGE / 'setup.py').write_text(SETUP_PY)
    (work / PACKAGE / PACKAGE / '__init__.py').write_text("ANSWER = 'fetched'\n")
    (work / 'LICENSE').write_text('Apache-2.0\n')
    (work / 'unwanted').mkdir()
    (work / 'unwanted' / 'README').write_text('not in the paths of the manifest\n')
    _git('init', '-q', cwd=work)
    _git('add', '-A', cwd=work)
    _git('commit', '-qm', 'the pinned commit', cwd=work)
    commit = _git('rev-parse', 'HEAD', cwd=work)
    # A later commit on the branch: the pin, not the branch, decides what is built.
    (work / PACKAGE / PACKAGE / '__init__.py').write_text("ANSWER = 'moved on'\n")
    _git('commit', '-qam', 'a later commit', cwd=work)
    (root / 'ros2').mkdir()
    _git('clone', '-q', '--bare', str(work), str(root / 'ros2' / 'probe.git'), cwd=root)
    return commit


def _project_scripts(target: Path) -> None:
    """Make a repository of our set-up scripts with nothing beside it (no ../shared)."""
    (target / 'scripts').mkdir(parents=True)
    for name in ('build_ros_overlay.sh', 'fetch_ros_sources.sh'):
        shutil.copy2(REPO / 'scripts' / name, target / 'scripts' / name)


def _overlay(repo: Path, manifest: Path, mirror: Path) -> subprocess.CompletedProcess:
    env = dict(environment_without_repository(keep_overlay=False), DEEPSORT_VENV=str(VENV),
               DEEPSORT_ROS_SOURCES=str(manifest), DEEPSORT_ROS_GIT_MIRROR=str(mirror),
               DEEPSORT_ROS_APT='0')
    env.pop('DEEPSORT_ROS_SRC', None)
    return subprocess.run(['bash', str(repo / 'scripts' / 'build_ros_overlay.sh')], env=env,
                          capture_output=True, text=True, timeout=600)


def test_set_up_fetches_the_pinned_commit_and_builds_it(tmp_path):
    commit = _upstream(tmp_path / 'upstream')
    repo = tmp_path / 'clone'
    _project_scripts(repo)
    manifest = tmp_path / 'sources.txt'
    manifest.write_text('# name url commit paths\n'
                        f'probe https://github.com/ros2/probe.git {commit} LICENSE {PACKAGE}\n')
    built = _overlay(repo, manifest, tmp_path / 'upstream')
    output = built.stdout + built.stderr
    assert built.returncode == 0, output
    assert f'fetching probe at {commit[:12]}' in output, output
    archive = repo / '.cache' / 'ros2-src' / 'probe.tar.gz'
    names = subprocess.run(['tar', '-tzf', str(archive)], capture_output=True, text=True,
                           check=True).stdout.split()
    assert f'probe/{PACKAGE}/package.xml' in names and 'probe/LICENSE' in names
    assert not [n for n in names if 'unwanted' in n], names
    site = repo / 'install_overlay' / 'lib' / 'python3.11' / 'site-packages'
    answer = subprocess.run([sys.executable, '-c', f'import {PACKAGE}; print({PACKAGE}.ANSWER)'],
                            env=dict(os.environ, PYTHONPATH=str(site)), capture_output=True,
                            text=True)
    assert answer.stdout.strip() == 'fetched', answer.stdout + answer.stderr
    # Run again: the archive of that commit is kept and nothing is rebuilt.
    again = _overlay(repo, manifest, tmp_path / 'upstream')
    assert again.returncode == 0 and 'fetching probe' not in again.stdout, again.stdout
    assert 'up to date' in again.stdout, again.stdout


def test_a_commit_upstream_does_not_have_is_refused_and_set_up_goes_on(tmp_path):
    commit = _upstream(tmp_path / 'upstream')
    forged = ''.join('0123456789abcdef'[('0123456789abcdef'.index(c) + 1) % 16] for c in commit)
    repo = tmp_path / 'clone'
    _project_scripts(repo)
    manifest = tmp_path / 'sources.txt'
    manifest.write_text(f'probe https://github.com/ros2/probe.git {forged} LICENSE {PACKAGE}\n')
    built = _overlay(repo, manifest, tmp_path / 'upstream')
    output = built.stdout + built.stderr
    assert built.returncode == 0, output
    assert f'could not fetch probe at {forged}' in output, output
    assert 'NOT built' in output and 'DEEPSORT_ROS_SRC' in output, output
    assert not (repo / 'install_overlay').exists()
    assert not (repo / '.cache' / 'ros2-src' / 'probe.tar.gz').exists()


def _launch(clone: Path, env: Dict[str, str], arguments: List[str]) -> subprocess.Popen:
    command = (f'source {shlex.quote(str(clone / "scripts" / "env.sh"))} && exec ros2 launch '
               + ' '.join(shlex.quote(a) for a in arguments))
    return subprocess.Popen(['bash', '-c', command], env=dict(env, PYTHONUNBUFFERED='1'),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def _stop(launch: subprocess.Popen) -> str:
    if launch.poll() is None:
        os.killpg(launch.pid, signal.SIGINT)
    try:
        return launch.communicate(timeout=30)[0]
    except subprocess.TimeoutExpired:
        os.killpg(launch.pid, signal.SIGKILL)
        return launch.communicate()[0]


def test_fresh_clone_with_a_named_mirror_sets_up_and_launches(tmp_path, ros_domain_id):
    if not MIRROR.is_dir():
        pytest.skip(f'{MIRROR} is absent: the ROS 2 source snapshots to make a local mirror '
                    "from are on the developers' machines only")
    clone = tmp_path / 'deepsort_ros'
    copy_repository(clone)
    mirror = tmp_path / 'mirror'
    shutil.copytree(MIRROR, mirror)
    env = dict(environment_without_repository(keep_overlay=False), DEEPSORT_VENV=str(VENV),
               DEEPSORT_ROS_SRC=str(mirror))
    # The shared venv's deepsort-ros command and build stamp name the repository set up last.
    kept = {p: p.read_bytes() for p in (VENV / 'bin' / 'deepsort-ros',
                                        VENV / '.deepsort' / 'build') if p.exists()}
    try:
        setup = subprocess.run(['bash', str(clone / 'dev.sh'), 'setup'], env=env,
                               capture_output=True, text=True, timeout=900)
    finally:
        for path, content in kept.items():
            path.write_bytes(content)
    assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-3000:]
    assert (clone / 'install_overlay' / 'bin' / 'ros2').exists(), setup.stdout[-3000:]

    tag = uuid.uuid4().hex[:6]
    single = _launch(clone, env, ['deepsort_ros', 'deepsort.launch.py', f'namespace:=/s{tag}',
                                  f'image:=/s{tag}/image', f'detections:=/s{tag}/det'])
    harness = Harness(ros_domain_id, f'/s{tag}',
                      topics={'image': f'/s{tag}/image', 'detections': f'/s{tag}/det'})
    try:
        up = harness.wait_for_tracker(WAIT_S)
    finally:
        harness.close()
        output = _stop(single)
    assert up, f'the launched tracker never subscribed:\n{output[-3000:]}'
    assert single.returncode == 0 and 'Traceback' not in output, output[-3000:]

    cameras = [f'l{tag}', f'r{tag}']
    rig = {'/**/track_fusion': {'ros__parameters': {'cameras': cameras}}}
    for name in cameras:
        rig[f'/{name}/deepsort_tracker'] = {'ros__parameters': {
            'image_topic': f'/{name}/image', 'detections_topic': f'/{name}/det',
            'use_appearance': False}}
    rig_file = tmp_path / 'rig.yaml'
    rig_file.write_text(yaml.safe_dump(rig))
    multi = _launch(clone, env, ['deepsort_ros', 'multi_camera.launch.py',
                                 f'rig_config:={rig_file}', f'fusion_namespace:=/f{tag}'])
    harnesses = [Harness(ros_domain_id, f'/{name}', topics={
        'image': f'/{name}/image', 'detections': f'/{name}/det'}) for name in cameras]
    try:
        trackers_up = all(h.wait_for_tracker(WAIT_S) for h in harnesses)
        fusion_up = harnesses[0].spin_until(
            lambda: harnesses[0].node.count_subscribers(
                f'/{cameras[0]}/deepsort_tracker/tracks') > 1, WAIT_S)
    finally:
        for harness in harnesses:
            harness.close()
        output = _stop(multi)
    assert trackers_up, f'a launched tracker never subscribed:\n{output[-3000:]}'
    assert fusion_up, f'the fusion node never subscribed to the tracks:\n{output[-3000:]}'
    assert multi.returncode == 0 and 'Traceback' not in output, output[-3000:]
