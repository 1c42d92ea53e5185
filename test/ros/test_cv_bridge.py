"""Our image conversions equal ROS 2's cv_bridge on every encoding we convert ourselves."""

from deepsort_ros.ros.convert.images import (bgr_to_compressed_msg, compressed_msg_to_bgr,
                                             image_msg_to_array, image_msg_to_bgr,
                                             SUPPORTED_ENCODINGS, working_cv_bridge)
import numpy as np
import pytest
from sensor_msgs.msg import Image

HEIGHT, WIDTH = 5, 7
PADDING_PIXELS = 2  # cv_bridge reads row padding only in whole pixels; ours takes any


@pytest.fixture(scope='module')
def bridge():
    bridge = working_cv_bridge()
    if bridge is None:
        pytest.skip('no working cv_bridge here (it is built into install_overlay/ when '
                    '../shared/ros2-src and the Debian OpenCV/Boost headers are present)')
    return bridge


def _message(encoding: str, bigendian: bool = False) -> Image:
    channels, dtype = SUPPORTED_ENCODINGS[encoding]
    rng = np.random.default_rng(len(encoding))
    top = 256 if np.dtype(dtype).itemsize == 1 else 65536
    pixels = rng.integers(0, top, (HEIGHT, WIDTH, channels)).astype(dtype)
    if bigendian:
        pixels = pixels.astype(np.dtype(dtype).newbyteorder('>'))
    rows = pixels.reshape(HEIGHT, -1).view(np.uint8)
    padding = PADDING_PIXELS * channels * np.dtype(dtype).itemsize
    padded = np.zeros((HEIGHT, rows.shape[1] + padding), dtype=np.uint8)
    padded[:, :rows.shape[1]] = rows
    msg = Image(height=HEIGHT, width=WIDTH, encoding=encoding, is_bigendian=int(bigendian),
                step=padded.shape[1])
    msg.data = padded.tobytes()
    return msg


@pytest.mark.parametrize('encoding', sorted(SUPPORTED_ENCODINGS))
def test_pixels_equal_cv_bridge_passthrough(bridge, encoding):
    msg = _message(encoding)
    ours = image_msg_to_array(msg)
    theirs = np.asarray(bridge.imgmsg_to_cv2(msg, 'passthrough'))
    assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs.reshape(ours.shape))


@pytest.mark.parametrize('encoding', ['bgr8', 'rgb8', 'mono8', 'bgra8', 'rgba8'])
def test_bgr_equals_cv_bridge_bgr8(bridge, encoding):
    msg = _message(encoding)
    assert np.array_equal(image_msg_to_bgr(msg), np.asarray(bridge.imgmsg_to_cv2(msg, 'bgr8')))


def test_big_endian_16_bit_reads_as_the_little_endian_copy():
    # cv_bridge itself fails here on numpy 2 (ndarray.newbyteorder is gone): ours must not.
    little, big = _message('16UC1'), _message('16UC1', bigendian=True)
    assert np.array_equal(image_msg_to_array(big), image_msg_to_array(little))


def test_compressed_equals_cv_bridge(bridge):
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    msg = bgr_to_compressed_msg(image, 95)
    assert np.array_equal(compressed_msg_to_bgr(msg),
                          np.asarray(bridge.compressed_imgmsg_to_cv2(msg, 'bgr8')))


def test_encodings_we_do_not_take_go_through_cv_bridge(bridge):
    rng = np.random.default_rng(2)
    yuv = rng.integers(0, 256, (HEIGHT, WIDTH * 2), dtype=np.uint8)
    msg = Image(height=HEIGHT, width=WIDTH, encoding='yuv422_yuy2', step=WIDTH * 2)
    msg.data = yuv.tobytes()
    assert np.array_equal(image_msg_to_bgr(msg), np.asarray(bridge.imgmsg_to_cv2(msg, 'bgr8')))
