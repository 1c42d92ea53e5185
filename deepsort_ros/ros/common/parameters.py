"""
A node's parameters from its settings schema: declared with descriptors, checked on every set.

The schema is ROS-free (:mod:`deepsort_ros.settings.schema`); this module is its one ROS
side, shared by both nodes: :func:`descriptor` turns a :func:`~deepsort_ros.settings.schema.param`
field into a ``ParameterDescriptor`` (description, choices, ranges, read-only, dynamic typing
for a choice YAML may write as a boolean), and :class:`SchemaParameters` declares a node's
parameters and validates every change through the settings' own ``split_parameters``.
"""

from dataclasses import Field, replace
from typing import Any, Callable, Dict, Iterable, List, Optional

from deepsort_ros.settings import schema
from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                SetParametersResult)
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException


def descriptor(f: Field) -> ParameterDescriptor:
    """Return the ROS descriptor of a node setting declared with ``schema.param``."""
    meta = f.metadata
    text = meta.get('description', '')
    if meta.get('choices'):
        text += f' (one of: {", ".join(meta["choices"])})'
    result = ParameterDescriptor(description=text, read_only=bool(meta.get('read_only', True)),
                                 dynamic_typing=schema.YAML_OFF in meta.get('choices', ()))
    low, high = meta.get('low'), meta.get('high')
    if low is not None and high is not None:
        if isinstance(f.default, float):
            result.floating_point_range = [FloatingPointRange(
                from_value=float(low), to_value=float(high))]
        elif isinstance(f.default, int) and not isinstance(f.default, bool):
            result.integer_range = [IntegerRange(
                from_value=int(low), to_value=int(high), step=1)]
    return result


class SchemaParameters:
    """
    Mixin of a node whose parameters are a settings schema (``deepsort_ros.settings``).

    The node calls :meth:`_declare_settings` and :meth:`_declare_core_settings` once, then
    :meth:`_watch_parameters`. Every change is checked by ``split`` (the settings'
    ``split_parameters``) with the node's other values; a refusal is logged with its reason,
    also those rclpy answers itself (read-only, unknown name, out of range). The run-time
    settings that pass update ``self.config`` (and :meth:`_config_changed`).
    """

    def _init_schema(self, split: Callable[[Dict[str, Any]], Any],
                     unknown_text: Callable[[str], str]) -> None:
        self._split = split
        self._unknown_text = unknown_text
        # A start-up value rclpy refuses (out of its range, of the wrong type) would end the
        # process with a traceback: it is kept aside instead, and configure says why it fails.
        self._refused_at_start: Dict[str, str] = {}

    def _declare_settings(self, settings: Iterable[Field]) -> None:
        """Declare the node's own settings with their defaults and descriptors."""
        for f in settings:
            self._declare(f.name, schema.default_of(f), descriptor(f))

    def _declare_core_settings(self, prefix: str, settings: Iterable[Field],
                               descriptions: Dict[str, str], dynamic_typing: bool) -> None:
        """Declare a core's settings as ``<prefix><name>``, read-only, described by the core."""
        for f in settings:
            default = schema.default_of(f)
            if default is None:
                continue
            description = descriptions.get(f.name) or f'{prefix.rstrip(".")} setting {f.name}'
            self._declare(prefix + f.name, default, ParameterDescriptor(
                description=description, read_only=True, dynamic_typing=dynamic_typing))

    def _declare(self, name: str, default: Any, described: ParameterDescriptor) -> None:
        try:
            self.declare_parameter(name, default, described)
        except (InvalidParameterTypeException, InvalidParameterValueException) as error:
            given = self._parameter_overrides[name].value
            try:
                self._split({name: given})
                reason = str(error)
            except ValueError as invalid:
                reason = str(invalid)
            self._refused_at_start[name] = reason
            self.declare_parameter(name, default, described, ignore_override=True)

    def _watch_parameters(self, runtime: Iterable[str]) -> None:
        """Check every change; let the ``runtime`` settings change ``self.config``."""
        self._runtime_names = set(runtime)
        self.add_pre_set_parameters_callback(self._say_why_refused)
        self.add_on_set_parameters_callback(self._validate_parameters)
        self.add_post_set_parameters_callback(self._apply_parameters)

    def _parameter_values(self, overrides: Optional[List[Any]] = None) -> Dict[str, Any]:
        values = {name: param.value for name, param in self._parameters.items()}
        for param in overrides or []:
            values[param.name] = param.value
        return values

    def _unknown_overrides(self) -> List[str]:
        """Return the names given at start (-p, params file) that the node never declared."""
        return sorted(name for name in set(self._parameter_overrides) - set(self._parameters)
                      if not schema.is_ros_own_parameter(name))

    def _validate_parameters(self, params: List[Any]) -> SetParametersResult:
        try:
            self._split(self._parameter_values(params))
        except ValueError as error:
            return SetParametersResult(successful=False, reason=str(error))
        return SetParametersResult(successful=True)

    def _say_why_refused(self, params: List[Any]) -> List[Any]:
        # Runs before rclpy checks ranges and read-only flags, which refuse without a word in
        # the node's log: the refusal is logged here, the answer still comes from rclpy or
        # _validate_parameters.
        for param in params:
            if param.name not in self._parameters:
                reason = self._unknown_text(param.name)
            elif self._descriptors[param.name].read_only:
                reason = f'{param.name} is read-only: set it at start'
            else:
                continue
            self.get_logger().warning(f'parameter change refused: {reason}')
            return params
        try:
            self._split(self._parameter_values(params))
        except ValueError as error:
            self.get_logger().warning(f'parameter change refused: {error}')
        return params

    def _apply_parameters(self, params: List[Any]) -> None:
        # Only the run-time parameters can get here once configured (the others are
        # read-only); they take effect from the next message.
        runtime = {p.name: p.value for p in params if p.name in self._runtime_names}
        if self.config is None or not runtime:
            return
        self.config = replace(self.config, **runtime)
        self._config_changed()
        self.get_logger().info('parameters changed: ' + ', '.join(
            f'{name}={value!r}' for name, value in runtime.items()))

    def _config_changed(self) -> None:
        """Hand a changed ``self.config`` to what holds a copy (the node's pipeline)."""
