"""Processes seen through /proc: what a launch left behind after Ctrl-C."""

from pathlib import Path
from typing import Dict, List


def descendants(pid: int) -> List[int]:
    """Return the pids of every process below ``pid`` (read from /proc)."""
    children: Dict[int, List[int]] = {}
    for entry in Path('/proc').iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / 'stat').read_text().rsplit(')', 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            out.append(child)
            stack.append(child)
    return out


def alive(pid: int) -> bool:
    """Return whether ``pid`` runs (a zombie, already exited, does not)."""
    try:
        state = (Path('/proc') / str(pid) / 'stat').read_text().rsplit(')', 1)[1].split()[0]
    except OSError:
        return False
    return state != 'Z'
