"""
Checks shared by the validated settings dataclasses (TrackerConfig, FusionConfig).

Each raises ValueError naming the setting and what it must be, so a bad parameters file says
which line to fix.
"""

from dataclasses import fields
import math
from typing import Any, Iterable


def check_field_types(config: Any) -> None:
    """
    Check every field of a dataclass against its annotation; make numbers floats.

    bool and int fields must hold exactly those types (a bool is not an int here), str fields
    strings, and every other field a finite real number, stored back as a float.
    """
    for f in fields(config):
        value = getattr(config, f.name)
        if f.type in (bool, 'bool'):
            if not isinstance(value, bool):
                raise ValueError(f'{f.name} must be a bool, got {value!r}')
        elif f.type in (int, 'int'):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f'{f.name} must be an int, got {value!r}')
        elif f.type in (str, 'str'):
            if not isinstance(value, str):
                raise ValueError(f'{f.name} must be a string, got {value!r}')
        else:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f'{f.name} must be a number, got {value!r}')
            if not math.isfinite(value):
                raise ValueError(f'{f.name} must be finite, got {value!r}')
            setattr(config, f.name, float(value))


def check_range(config: Any, names: Iterable[str], low: float, high: float,
                high_open: bool = False) -> None:
    """Check that each named setting is in [low, high] ([low, high) when ``high_open``)."""
    for name in names:
        value = getattr(config, name)
        if value < low or value > high or (high_open and value == high):
            bracket = ')' if high_open else ']'
            raise ValueError(f'{name} must be in [{low}, {high}{bracket}, got {value!r}')


def check_above(config: Any, names: Iterable[str], bound: float) -> None:
    """Check that each named setting is > ``bound``."""
    for name in names:
        if getattr(config, name) <= bound:
            raise ValueError(f'{name} must be > {bound:g}, got {getattr(config, name)!r}')


def check_at_least(config: Any, names: Iterable[str], bound: float) -> None:
    """Check that each named setting is >= ``bound``."""
    for name in names:
        if getattr(config, name) < bound:
            raise ValueError(f'{name} must be >= {bound:g}, got {getattr(config, name)!r}')
