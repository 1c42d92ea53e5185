"""
The detector's class labels as the core's integer class ids: a bounded, ROS-free registry.

Detectors name classes with strings (the hypotheses of ``vision_msgs``); the
tracker keeps integers. :class:`ClassRegistry` maps one to the other with bounded memory (a
stream of made-up labels cannot grow it) and never reuses an id; :class:`ClassCounters` says
what it had to cut or refuse, for diagnostics.
"""

from collections import OrderedDict
from dataclasses import dataclass
from typing import Dict, Iterable, Optional, Set

# Bounds of the label table: detectors name a few classes (COCO 80, LVIS 1203), each in a few
# characters; these defaults leave room for any of them and stop a stream of made-up labels.
DEFAULT_MAX_LABEL_LENGTH = 128
DEFAULT_MAX_CLASSES = 4096
# The class of a label that could not be given one of its own (the table is full of live ones).
OVERFLOW_LABEL = ''


@dataclass
class ClassCounters:
    """What the label table had to cut or refuse, for diagnostics."""

    labels_truncated: int = 0
    labels_forgotten: int = 0
    labels_overflowed: int = 0


class ClassRegistry:
    """
    Map detector class labels (strings in vision_msgs) to the core's integer class ids.

    The table is bounded: labels are cut to ``max_label_length`` characters, and at most
    ``max_classes`` are remembered. When a new label finds the table full, the least recently
    seen label that no live track uses (:meth:`mark_in_use`) is forgotten; when every label is
    in use, the new one gets the class of ``''`` (counted). Ids are never reused, so a
    forgotten label's id never names another class.

    Parameters
    ----------
    max_label_length : int
        Characters kept of a label.
    max_classes : int
        Labels remembered at once.

    """

    def __init__(self, max_label_length: int = DEFAULT_MAX_LABEL_LENGTH,
                 max_classes: int = DEFAULT_MAX_CLASSES) -> None:
        if max_label_length < 1 or max_classes < 1:
            raise ValueError(f'max_label_length and max_classes must be >= 1, got '
                             f'{max_label_length} and {max_classes}')
        self.max_label_length = int(max_label_length)
        self.max_classes = int(max_classes)
        self.counters = ClassCounters()
        # Least recently seen first; id -> label for reading back.
        self._ids: 'OrderedDict[str, int]' = OrderedDict()
        self._labels: Dict[int, str] = {}
        self._in_use: Set[int] = set()
        self._next_id = 0
        self._overflow_id = self._add(OVERFLOW_LABEL)

    def __len__(self) -> int:
        """Return the number of labels remembered."""
        return len(self._ids)

    def _cut(self, label: str) -> str:
        label = str(label)
        if len(label) > self.max_label_length:
            self.counters.labels_truncated += 1
            return label[:self.max_label_length]
        return label

    def _add(self, label: str) -> int:
        class_id = self._next_id
        self._next_id += 1
        self._ids[label] = class_id
        self._labels[class_id] = label
        return class_id

    def to_id(self, label: str) -> int:
        """Return the id of ``label``, assigning the next free one on first sight."""
        label = self._cut(label)
        class_id = self._ids.get(label)
        if class_id is not None:
            self._ids.move_to_end(label)
            return class_id
        if len(self._ids) >= self.max_classes and not self._forget_one():
            self.counters.labels_overflowed += 1
            return self._overflow_id
        return self._add(label)

    def find(self, label: str) -> Optional[int]:
        """Return the id of a known label, or None (nothing is added: a query, not a label)."""
        label = str(label)
        if len(label) > self.max_label_length:
            return None  # no label that long was ever kept
        return self._ids.get(label)

    def mark_in_use(self, class_ids: Iterable[int]) -> None:
        """Name the ids that live tracks hold now; only the others may be forgotten."""
        self._in_use = {int(c) for c in class_ids}

    def _forget_one(self) -> bool:
        for label, class_id in self._ids.items():
            if class_id != self._overflow_id and class_id not in self._in_use:
                del self._ids[label]
                del self._labels[class_id]
                self.counters.labels_forgotten += 1
                return True
        return False

    def to_label(self, class_id: int) -> str:
        """Return the label of a known id (or the id as text for an unknown one)."""
        label = self._labels.get(int(class_id))
        return str(class_id) if label is None else label
