"""
What an encoder is built with: :class:`EncoderOptions`, one validated, typed record.

``create_encoder(weights, device='cpu', int8='off')`` takes these fields by keyword; the
factory (``deepsort_ros.reid.factory``) and the backends (``deepsort_ros.reid.backends``)
read them from here. Plain Python (no numpy, no torch): the node's parameter schema and the
command line can name the same choices without loading a network.
"""

import dataclasses
from dataclasses import dataclass, fields
from typing import Any, Optional, Tuple, Union

# What loads the weights: 'auto' goes by the file (see deepsort_ros.reid.factory).
BACKENDS = ('auto', 'torch', 'torchscript', 'onnx')
# What runs an ONNX model (deepsort_ros.reid.backends.onnx_encoder.choose_runtime).
RUNTIMES = ('auto', 'onnxruntime', 'openvino')
# 'auto': the accurate choice, fp32 (no int8 recipe passed the accuracy gate); 'on': the
# speed-only choice of deepsort_ros.reid.int8, opt-in; 'off': fp32.
INT8_MODES = ('auto', 'on', 'off')
# State dict architectures (deepsort_ros.reid.loading.build_module): 'auto' reads the keys.
ARCHITECTURES = ('auto', 'osnet', 'mobilenetv2')
SPIN_WAITS = (True, False, 'run')


@dataclass(frozen=True)
class EncoderOptions:
    """
    How to load and run a Re-ID encoder; every field checked when it is made.

    Attributes
    ----------
    device : str
        'auto' (CUDA when available, else CPU), 'cpu', 'cuda' or 'cuda:N'.
    backend : str
        One of :data:`BACKENDS` (see ``deepsort_ros.reid.factory.create_encoder``).
    input_hw : tuple of int, optional
        Crop height and width (default 256x128, or the ONNX model's own).
    batch_size : int, optional
        Most crops per forward pass (default: the backend's).
    half : bool, optional
        fp16 on torch (default: on CUDA).
    mask_sigma : float, optional
        Centred Gaussian mask, a fraction of the crop side (default 0.5 for the default
        model, off otherwise).
    channels_last : bool
        Channels-last memory format on torch.
    num_threads : int, optional
        CPU threads (default: the runtime's).
    arch : str
        One of :data:`ARCHITECTURES`, for state dicts ('auto': MobileNetV2 for the default
        model, else by the keys).
    allow_pickle : bool
        Accept a pickled whole model (unsafe: unpickling runs code).
    providers : tuple of str, optional
        onnxruntime execution providers (default: CPU with ``device='cpu'``, CUDA then CPU
        otherwise).
    spin_wait : bool or str
        How onnxruntime's idle threads wait: 'run' (spin while a run lasts, stop when it
        returns), True (also spin after it) or False (sleep; see bench/README-reid.md).
    int8 : str
        One of :data:`INT8_MODES` (see ``deepsort_ros.reid.int8``).
    int8_background : bool
        Quantise in a thread while fp32 runs (False: inline, for repeatable offline runs).
    runtime : str
        One of :data:`RUNTIMES`: what runs ONNX models.

    Raises
    ------
    ValueError
        A choice outside its list or a count below 1.

    """

    device: str = 'auto'
    backend: str = 'auto'
    input_hw: Optional[Tuple[int, int]] = None
    batch_size: Optional[int] = None
    half: Optional[bool] = None
    mask_sigma: Optional[float] = None
    channels_last: bool = True
    num_threads: Optional[int] = None
    arch: str = 'auto'
    allow_pickle: bool = False
    providers: Optional[Tuple[str, ...]] = None
    # onnxruntime's idle threads spin by default, also after a run: on a 2-core CPU shared
    # with other work that costs more than it saves. Sleeping threads make every one of
    # OSNet's ~250 operators wake them (int8 at 5 crops: 14.0 against 10.5 ms). So they spin
    # only while a run lasts (bench/README-reid.md).
    spin_wait: Union[bool, str] = 'run'
    int8: str = 'auto'
    int8_background: bool = True
    runtime: str = 'onnxruntime'

    def __post_init__(self) -> None:
        """Check every choice; keep sequences as tuples."""
        for name, value, allowed in (('backend', self.backend, BACKENDS),
                                     ('runtime', self.runtime, RUNTIMES),
                                     ('int8', self.int8, INT8_MODES),
                                     ('arch', self.arch, ARCHITECTURES)):
            if value not in allowed:
                raise ValueError(f'Re-ID {name} must be one of {allowed}, got {value!r}')
        if self.spin_wait not in SPIN_WAITS:
            raise ValueError(f"spin_wait must be True, False or 'run', got {self.spin_wait!r}")
        for name in ('batch_size', 'num_threads'):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f'{name} must be >= 1, got {value}')
        if self.mask_sigma is not None and self.mask_sigma <= 0:
            raise ValueError(f'mask_sigma must be > 0, got {self.mask_sigma}')
        if self.input_hw is not None:
            object.__setattr__(self, 'input_hw', tuple(self.input_hw))
        if self.providers is not None:
            object.__setattr__(self, 'providers', tuple(self.providers))

    @classmethod
    def from_keywords(cls, base: Optional['EncoderOptions'] = None,
                      **settings: Any) -> 'EncoderOptions':
        """
        Make options from keyword settings, naming any unknown key.

        Parameters
        ----------
        base : EncoderOptions, optional
            What the settings change (default: the defaults).
        **settings
            Field names of :class:`EncoderOptions` and their values.

        Returns
        -------
        EncoderOptions

        Raises
        ------
        ValueError
            An unknown setting, or an invalid value.

        """
        allowed = {field.name for field in fields(cls)}
        unknown = set(settings) - allowed
        if unknown:
            raise ValueError(f'unknown Re-ID options {sorted(unknown)}; allowed: '
                             f'{sorted(allowed)}')
        return cls(**settings) if base is None else dataclasses.replace(base, **settings)
