"""
Images: ``sensor_msgs/Image`` / ``CompressedImage`` to and from numpy arrays.

Also the checks that come before converting: an image's declared size against the node's
bound, read from its header (a compressed one's from its PNG or JPEG header), nothing decoded.

The conversion here handles the common encodings itself (checked: step, size, byte order) and
reads any object with the fields of ``sensor_msgs/Image`` (rclpy messages and rosbags'
deserialised messages alike). For other encodings (Bayer, YUV, ...) it uses ROS 2's cv_bridge
where a working one is installed; PyPI's ``cv-bridge`` is an old ROS 1 copy that crashes on
numpy 2, so a bridge counts as working only once it converted a probe image.
"""

import functools
import sys
from typing import Any, Optional, Tuple

import cv2
import numpy as np
import numpy.typing as npt
from sensor_msgs.msg import CompressedImage, Image

# encoding -> (channels, dtype); 16UC1 is depth in millimetres on most cameras.
SUPPORTED_ENCODINGS = {
    'bgr8': (3, np.uint8),
    'rgb8': (3, np.uint8),
    'mono8': (1, np.uint8),
    'bgra8': (4, np.uint8),
    'rgba8': (4, np.uint8),
    '16UC1': (1, np.uint16),
    'mono16': (1, np.uint16),
}


class ImageConversionError(ValueError):
    """
    An image message cannot be turned into an array; the message says why.

    Parameters
    ----------
    text : str
        What is wrong, with the values.
    kind : str
        The kind of problem, without values (one log line and one count per kind).

    """

    def __init__(self, text: str, kind: str = 'bad image') -> None:
        super().__init__(text)
        self.kind = kind


def _as_bytes(data: Any) -> npt.NDArray[np.uint8]:
    # rclpy gives array.array or bytes, rosbags a numpy array: all expose the buffer protocol.
    if isinstance(data, list):
        data = bytes(data)
    return np.frombuffer(data, dtype=np.uint8)


def image_msg_to_array(msg: Any) -> npt.NDArray:
    """
    Return the pixels of a ``sensor_msgs/Image`` without copying when the layout allows.

    Parameters
    ----------
    msg : sensor_msgs.msg.Image
        The image; ``step`` may include row padding.

    Returns
    -------
    numpy.ndarray
        (H, W) for one-channel encodings, else (H, W, C), in the message's own encoding.

    Raises
    ------
    ImageConversionError
        For an unsupported encoding or a data buffer that does not match height x step.

    """
    encoding = msg.encoding
    if encoding not in SUPPORTED_ENCODINGS:
        raise ImageConversionError(
            f'unsupported image encoding {encoding!r}; supported: '
            f'{", ".join(sorted(SUPPORTED_ENCODINGS))}', 'unsupported encoding')
    channels, dtype = SUPPORTED_ENCODINGS[encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    itemsize = np.dtype(dtype).itemsize
    row_bytes = width * channels * itemsize
    if height == 0 or width == 0:
        raise ImageConversionError(f'empty image ({width}x{height})', 'empty image')
    if step < row_bytes:
        raise ImageConversionError(
            f'step {step} is smaller than width x channels x {itemsize} = {row_bytes}',
            'step too small')
    buffer = _as_bytes(msg.data)
    if buffer.size < height * step:
        raise ImageConversionError(
            f'image data has {buffer.size} bytes, expected height x step = {height * step}',
            'data too short')
    rows = buffer[:height * step].reshape(height, step)[:, :row_bytes]
    array = rows.view(dtype) if itemsize == 1 else np.ascontiguousarray(rows).view(dtype)
    if itemsize > 1 and bool(msg.is_bigendian) != (sys.byteorder == 'big'):
        array = array.byteswap()
    shape = (height, width) if channels == 1 else (height, width, channels)
    return array.reshape(shape)


# Bytes a pixel may take in any encoding sensor_msgs names (64FC4 has 32); a raw image's data
# beyond max_pixels times this is no image of that size.
MAX_BYTES_PER_PIXEL = 32


def check_image_size(msg: Any, max_pixels: int) -> None:
    """
    Refuse an ``Image`` or ``CompressedImage`` larger than ``max_pixels``, before converting it.

    A raw image is judged by its header (width x height) and its data length; a compressed one
    by the size its PNG or JPEG header declares, and by its payload (a payload larger than the
    raw pixels would be is not a compressed image of an allowed size). Cheap: nothing is
    decoded or copied.

    Parameters
    ----------
    msg : sensor_msgs/Image or sensor_msgs/CompressedImage
        The image.
    max_pixels : int
        Most pixels (width x height) allowed.

    Raises
    ------
    ImageConversionError
        Naming the size and the bound.

    """
    if hasattr(msg, 'format') and not hasattr(msg, 'encoding'):
        size = len(msg.data)
        if size > max_pixels * 3:
            raise ImageConversionError(
                f'compressed image of {size} bytes is larger than max_image_pixels '
                f'{max_pixels} could need', 'too large')
        declared = compressed_image_size(msg.data)
        if declared is not None and declared[0] * declared[1] > max_pixels:
            raise ImageConversionError(
                f'compressed image of {declared[0]}x{declared[1]} is larger than '
                f'max_image_pixels {max_pixels}', 'too large')
        return
    width, height = int(msg.width), int(msg.height)
    if width * height > max_pixels:
        raise ImageConversionError(
            f'image of {width}x{height} is larger than max_image_pixels {max_pixels}',
            'too large')
    if len(msg.data) > max_pixels * MAX_BYTES_PER_PIXEL:
        raise ImageConversionError(
            f'image data of {len(msg.data)} bytes is larger than max_image_pixels '
            f'{max_pixels} could need', 'too large')


_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
# JPEG start-of-frame markers (baseline, progressive, lossless, ...): not DHT, JPG or DAC.
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_JPEG_SCAN_LIMIT = 1 << 20  # the frame header comes before the pixels; stop looking after


def compressed_image_size(data: Any) -> Optional[Tuple[int, int]]:
    """
    Return the (width, height) a PNG or JPEG payload declares, without decoding it.

    Parameters
    ----------
    data : bytes-like
        The ``CompressedImage`` payload.

    Returns
    -------
    (int, int) or None
        None when it is neither, or its header cannot be read (decoding will say why).

    """
    head = bytes(_as_bytes(data)[:_JPEG_SCAN_LIMIT])
    if head.startswith(_PNG_SIGNATURE) and len(head) >= 24 and head[12:16] == b'IHDR':
        return int.from_bytes(head[16:20], 'big'), int.from_bytes(head[20:24], 'big')
    if not head.startswith(b'\xff\xd8'):
        return None
    position = 2
    while position + 9 <= len(head):
        if head[position] != 0xFF:
            return None
        marker = head[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # markers without a length
            position += 2
            continue
        length = int.from_bytes(head[position + 2:position + 4], 'big')
        if marker in _JPEG_SOF:
            height = int.from_bytes(head[position + 5:position + 7], 'big')
            width = int.from_bytes(head[position + 7:position + 9], 'big')
            return width, height
        if length < 2:
            return None
        position += 2 + length
    return None


@functools.lru_cache(maxsize=1)
def working_cv_bridge() -> Optional[Any]:
    """
    Return a ``cv_bridge.CvBridge`` that converts images correctly here, or None.

    Probed once: import it, convert a 2x2 ``bgr8`` image to a message and back.
    """
    try:
        from cv_bridge import CvBridge

        bridge = CvBridge()
        probe = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
        back = bridge.imgmsg_to_cv2(bridge.cv2_to_imgmsg(probe, 'bgr8'), 'bgr8')
        return bridge if np.array_equal(back, probe) else None
    except Exception:  # noqa: B902 - any failure (ImportError, numpy 2 AttributeError) = none
        return None


def image_msg_to_bgr(msg: Any) -> npt.NDArray[np.uint8]:
    """
    Return a ``sensor_msgs/Image`` as an (H, W, 3) uint8 BGR array, the encoder's input.

    16-bit images are scaled to 8 bits by their maximum so that they can still be viewed.
    Encodings not in :data:`SUPPORTED_ENCODINGS` go through a working cv_bridge when there is
    one; without it they raise :class:`ImageConversionError` naming the encoding.
    """
    if msg.encoding not in SUPPORTED_ENCODINGS:
        bridge = working_cv_bridge()
        if bridge is not None:
            try:
                return np.asarray(bridge.imgmsg_to_cv2(msg, 'bgr8'))
            except Exception as error:  # noqa: B902 - CvBridgeError and cv2 errors alike
                raise ImageConversionError(
                    f'cv_bridge cannot convert encoding {msg.encoding!r}: {error}',
                    'unsupported encoding') from None
    array = image_msg_to_array(msg)
    encoding = msg.encoding
    if encoding == 'bgr8':
        return array
    if encoding == 'rgb8':
        return cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    if encoding == 'bgra8':
        return cv2.cvtColor(array, cv2.COLOR_BGRA2BGR)
    if encoding == 'rgba8':
        return cv2.cvtColor(array, cv2.COLOR_RGBA2BGR)
    if array.dtype == np.uint16:
        peak = max(int(array.max()), 1)
        array = (array.astype(np.float32) * (255.0 / peak)).astype(np.uint8)
    return cv2.cvtColor(array, cv2.COLOR_GRAY2BGR)


def compressed_msg_to_bgr(msg: Any) -> npt.NDArray[np.uint8]:
    """
    Decode a ``sensor_msgs/CompressedImage`` (jpeg, png) into an (H, W, 3) uint8 BGR array.

    Raises
    ------
    ImageConversionError
        When the payload cannot be decoded.

    """
    buffer = _as_bytes(msg.data)
    image = cv2.imdecode(buffer, cv2.IMREAD_COLOR) if buffer.size else None
    if image is None:
        raise ImageConversionError(
            f'cannot decode compressed image (format {msg.format!r}, {buffer.size} bytes)',
            'undecodable')
    return image


def bgr_to_image_msg(image_bgr: npt.NDArray[np.uint8], header: Optional[Any] = None) -> Image:
    """
    Build a ``bgr8`` ``sensor_msgs/Image`` from an (H, W, 3) uint8 array.

    Parameters
    ----------
    image_bgr : ndarray of uint8, shape (H, W, 3)
        The pixels.
    header : std_msgs/Header, optional
        Stamp and optical frame; the default header when omitted.

    """
    if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
        raise ImageConversionError(
            f'expected an (H, W, 3) uint8 array, got {image_bgr.shape} {image_bgr.dtype}')
    msg = Image() if header is None else Image(header=header)
    msg.height, msg.width = int(image_bgr.shape[0]), int(image_bgr.shape[1])
    msg.encoding = 'bgr8'
    msg.is_bigendian = 0
    msg.step = int(image_bgr.shape[1] * 3)
    msg.data = np.ascontiguousarray(image_bgr).tobytes()
    return msg


def bgr_to_compressed_msg(image_bgr: npt.NDArray[np.uint8], jpeg_quality: int,
                          header: Optional[Any] = None) -> CompressedImage:
    """
    Build a jpeg ``sensor_msgs/CompressedImage`` from an (H, W, 3) uint8 BGR array.

    Parameters
    ----------
    image_bgr : ndarray of uint8, shape (H, W, 3)
        The pixels.
    jpeg_quality : int
        0 to 100.
    header : std_msgs/Header, optional
        Stamp and optical frame; the default header when omitted.

    """
    ok, jpeg = cv2.imencode('.jpg', image_bgr, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
    if not ok:
        raise ImageConversionError(f'jpeg encoding of a {image_bgr.shape} image failed')
    msg = CompressedImage() if header is None else CompressedImage(header=header)
    msg.format = 'bgr8; jpeg compressed bgr8'
    msg.data = jpeg.tobytes()
    return msg
