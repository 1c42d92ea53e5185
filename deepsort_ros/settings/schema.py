"""
The parameter schema both nodes' settings are written in: one implementation, ROS-free.

A node's own settings are a frozen dataclass whose fields are declared with :func:`param`
(default, description, range, choices, read-only); :func:`check_fields` validates an instance
against them. A core's settings (``TrackerConfig``, ``FusionConfig``) are exposed under a
prefix (``tracker.``, ``fusion.``), described by their class docstring
(:func:`docstring_descriptions`) and validated by the core's own class (:func:`build_core`).
:func:`route_values` sorts flat ``name -> value`` parameters into those parts, naming unknown
ones with the closest known name. ``deepsort_ros.ros.common.parameters`` turns the same
declarations into ROS parameter descriptors; the offline runners read the same YAML files
through :func:`load_params_file`.
"""

from dataclasses import Field, field, fields
import difflib
import inspect
import math
from pathlib import Path
import re
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import yaml

# A choice YAML turns into a boolean when written bare; accepted as false too.
YAML_OFF = 'off'
# Parameters every rclpy node declares itself.
ROS_OWN_PARAMETERS = ('use_sim_time', 'start_type_description_service')


def param(default: Any, description: str, *, low: Optional[float] = None,
          high: Optional[float] = None, choices: Sequence[str] = (),
          read_only: bool = True) -> Any:
    """
    Declare one node setting as a dataclass field.

    Parameters
    ----------
    default : Any
        Its default; its type is the parameter's (a list is copied for each instance).
    description : str
        What it does, with its unit: the ROS descriptor's description.
    low, high : float, optional
        Its inclusive range (numbers only).
    choices : sequence of str
        The only values allowed, when it is a choice.
    read_only : bool
        False for the few settings that may change while the node runs.

    """
    metadata = {'description': description, 'low': low, 'high': high,
                'choices': tuple(choices), 'read_only': read_only}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def default_of(f: Field) -> Any:
    """Return the default value of a dataclass field (a fresh one for a list)."""
    return f.default_factory() if callable(f.default_factory) else f.default


def check_fields(config: Any) -> None:
    """
    Validate every :func:`param` field of a frozen settings dataclass, in ``__post_init__``.

    A bare YAML ``off`` (read as false) becomes ``'off'`` where that is a choice.

    Raises
    ------
    ValueError
        Naming the field and the reason: not a boolean, not one of the choices, not finite,
        out of range.

    """
    for f in fields(config):
        value = getattr(config, f.name)
        meta = f.metadata
        choices = meta.get('choices', ())
        if value is False and YAML_OFF in choices:
            # YAML (PyYAML and ROS's parser alike) reads a bare `off` as false.
            value = YAML_OFF
            object.__setattr__(config, f.name, value)
        if isinstance(f.default, bool) and not isinstance(value, bool):
            raise ValueError(f'{f.name} must be true or false, got {value!r}')
        if choices and value not in choices:
            raise ValueError(f'{f.name} must be one of {", ".join(choices)}, got {value!r}')
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise ValueError(f'{f.name} must be finite, got {value!r}')
            if meta.get('low') is not None and value < meta['low']:
                raise ValueError(f'{f.name} must be >= {meta["low"]}, got {value}')
            if meta.get('high') is not None and value > meta['high']:
                raise ValueError(f'{f.name} must be <= {meta["high"]}, got {value}')


def runtime_names(config_class: type) -> List[str]:
    """Return the names of the settings that may change while the node runs."""
    return [f.name for f in fields(config_class) if not f.metadata.get('read_only', True)]


def docstring_descriptions(config_class: type) -> Dict[str, str]:
    """
    Return ``name -> description`` of a core config's settings, from its docstring.

    The core documents each setting in the numpydoc ``Attributes`` (or ``Parameters``)
    section; reading it here keeps one description per setting instead of a second copy in
    the node.
    """
    doc = inspect.getdoc(config_class) or ''
    descriptions: Dict[str, str] = {}
    current: Optional[str] = None
    in_attributes = False
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped in ('Attributes', 'Parameters'):
            in_attributes = True
            continue
        if not in_attributes or set(stripped) == {'-'}:
            continue
        if line and not line.startswith(' ') and ':' in line:
            current = line.split(':', 1)[0].strip()
            descriptions[current] = ''
        elif line and not line.startswith(' '):
            in_attributes = False
            current = None
        elif current is not None and stripped:
            descriptions[current] = (descriptions[current] + ' ' + stripped).strip()
    return descriptions


def is_ros_own_parameter(name: str) -> bool:
    """Tell whether rclpy itself declares ``name`` (use_sim_time, qos_overrides.*)."""
    return name in ROS_OWN_PARAMETERS or name.startswith('qos_overrides.')


def closest_name(name: str, names: Sequence[str], prefix: str = '') -> Optional[str]:
    """Return the known name a mistyped or unprefixed ``name`` most likely meant, or None."""
    # An unprefixed core setting (max_age for tracker.max_age) is the usual slip.
    if prefix and prefix + name in names:
        return prefix + name
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if not close:
        tails = {n.rsplit('.', 1)[-1]: n for n in names}
        tail = name.rsplit('.', 1)[-1]
        close = [tails[t] for t in difflib.get_close_matches(tail, tails, n=1, cutoff=0.6)]
    return close[0] if close else None


def unknown_text(name: str, names: Sequence[str], prefix: str = '') -> str:
    """Return what to say about a parameter the node does not have."""
    closest = closest_name(name, names, prefix)
    hint = f'; did you mean {closest!r}?' if closest else ''
    return f'unknown parameter {name!r}{hint}'


def route_values(values: Dict[str, Any], node_class: type, core_prefix: str,
                 core_names: Iterable[str], other_prefix: Optional[str] = None
                 ) -> Tuple[Dict[str, Any], Dict[str, Any], Dict[str, Any]]:
    """
    Sort flat parameter values into the node's, the core's (unprefixed) and other ones.

    Parameters
    ----------
    values : dict
        ``name -> value``; rclpy's own parameters are skipped.
    node_class : type
        The node's settings dataclass.
    core_prefix : str
        The prefix of the core's settings (``tracker.``).
    core_names : iterable of str
        The core's setting names, unprefixed.
    other_prefix : str, optional
        Names under it are returned as they are, for the caller to check (``camera.``).

    Returns
    -------
    node, core, other : dict
        Lists and tuples of node settings become lists; ints for a float setting, floats.

    Raises
    ------
    ValueError
        For an unknown name, with the closest known name.

    """
    node_fields = {f.name: f for f in fields(node_class)}
    core_names = set(core_names)
    node: Dict[str, Any] = {}
    core: Dict[str, Any] = {}
    other: Dict[str, Any] = {}
    for name, value in values.items():
        if name.startswith(core_prefix) and name[len(core_prefix):] in core_names:
            core[name[len(core_prefix):]] = value
        elif name in node_fields:
            if isinstance(value, (list, tuple)):
                value = list(value)
            elif isinstance(node_fields[name].default, float) and isinstance(value, int) \
                    and not isinstance(value, bool):
                value = float(value)
            node[name] = value
        elif other_prefix and name.startswith(other_prefix):
            other[name] = value
        elif is_ros_own_parameter(name):
            continue
        else:
            known = list(node_fields) + [core_prefix + n for n in sorted(core_names)]
            raise ValueError(unknown_text(name, known, core_prefix))
    return node, core, other


def build_core(config_class: type, prefix: str, names: Iterable[str], values: Dict[str, Any],
               **fixed: Any) -> Any:
    """
    Build a core's config from its (unprefixed) values; errors name the full parameters.

    Raises
    ------
    ValueError
        The core's own reason, with its bare setting names (max_age) written as the node's
        parameters (tracker.max_age).

    """
    try:
        return config_class(**fixed, **values)
    except TypeError as error:
        raise ValueError(f'invalid {prefix.rstrip(".")} parameter: {error}') from None
    except ValueError as error:
        alternatives = '|'.join(sorted(names, key=len, reverse=True))
        raise ValueError(re.sub(rf'(?<![\w.])({alternatives})\b', prefix + r'\1',
                                str(error))) from None


def load_params_file(path: Path, node_name: str) -> Dict[str, Any]:
    """
    Read a ROS 2 parameters YAML file into flat ``name -> value`` for one node.

    Takes the ``ros__parameters`` of ``/**``, ``/**/<node_name>`` (the form that also reaches
    a node in a namespace), ``<node_name>`` and ``/<node_name>``, in that order; nested
    dictionaries become dotted names, as ROS does.

    Raises
    ------
    ValueError
        When the file is missing, is not YAML, or holds no parameters for the node.

    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f'parameters file {path} does not exist')
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ValueError(f'parameters file {path} is not valid YAML: {error}') from None
    if not isinstance(document, dict):
        raise ValueError(f'parameters file {path} must map node names to ros__parameters')
    flat: Dict[str, Any] = {}
    found = False
    for key in ('/**', f'/**/{node_name}', node_name, '/' + node_name):
        section = document.get(key)
        if isinstance(section, dict) and isinstance(section.get('ros__parameters'), dict):
            found = True
            _flatten(section['ros__parameters'], '', flat)
    if not found:
        raise ValueError(f'parameters file {path} has no "{node_name}: ros__parameters:" (or '
                         f'"/**/{node_name}: ...") section')
    return flat


def _flatten(tree: Dict[str, Any], prefix: str, out: Dict[str, Any]) -> None:
    for key, value in tree.items():
        name = prefix + str(key)
        if isinstance(value, dict):
            _flatten(value, name + '.', out)
        else:
            out[name] = value
