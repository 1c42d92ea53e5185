"""Image messages become numpy arrays correctly, for every supported encoding."""

import cv2
from deepsort_ros.ros.convert.images import (bgr_to_compressed_msg, bgr_to_image_msg,
                                             compressed_msg_to_bgr, image_msg_to_array,
                                             image_msg_to_bgr, ImageConversionError)
import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage, Image


def _image(array, encoding, pad=0):
    msg = Image()
    msg.height, msg.width = array.shape[:2]
    msg.encoding = encoding
    row = array.reshape(array.shape[0], -1).view(np.uint8)
    msg.step = row.shape[1] + pad
    data = np.zeros((array.shape[0], msg.step), dtype=np.uint8)
    data[:, :row.shape[1]] = row
    msg.data = data.tobytes()
    return msg


@pytest.fixture
def bgr():
    rng = np.random.default_rng(3)
    return rng.integers(0, 255, (6, 5, 3), dtype=np.uint8)


@pytest.mark.parametrize('encoding,convert', [
    ('bgr8', None), ('rgb8', cv2.COLOR_BGR2RGB), ('bgra8', cv2.COLOR_BGR2BGRA),
    ('rgba8', cv2.COLOR_BGR2RGBA)])
def test_colour_encodings_round_trip_to_bgr(bgr, encoding, convert):
    source = bgr if convert is None else cv2.cvtColor(bgr, convert)
    out = image_msg_to_bgr(_image(source, encoding, pad=3))
    np.testing.assert_array_equal(out, bgr)


def test_mono8_and_16uc1(bgr):
    grey = bgr[:, :, 0].copy()
    np.testing.assert_array_equal(image_msg_to_array(_image(grey, 'mono8')), grey)
    depth = (grey.astype(np.uint16) * 200)
    np.testing.assert_array_equal(image_msg_to_array(_image(depth, '16UC1')), depth)
    assert image_msg_to_bgr(_image(depth, '16UC1')).shape == (6, 5, 3)


def test_unsupported_encoding_names_it():
    msg = _image(np.zeros((2, 2), dtype=np.float32), '32FC1')
    with pytest.raises(ImageConversionError, match='32FC1'):
        image_msg_to_bgr(msg)


def test_truncated_data_is_an_error(bgr):
    msg = _image(bgr, 'bgr8')
    msg.data = bytes(msg.data)[:-1]
    with pytest.raises(ImageConversionError, match='expected'):
        image_msg_to_bgr(msg)


def test_compressed_and_back(bgr):
    msg = CompressedImage()
    msg.format = 'png'
    msg.data = cv2.imencode('.png', bgr)[1].tobytes()
    np.testing.assert_array_equal(compressed_msg_to_bgr(msg), bgr)
    msg.data = b'not an image'
    with pytest.raises(ImageConversionError):
        compressed_msg_to_bgr(msg)
    out = bgr_to_image_msg(bgr)
    np.testing.assert_array_equal(image_msg_to_bgr(out), bgr)
    jpeg = bgr_to_compressed_msg(bgr, 100)
    assert 'jpeg' in jpeg.format
    expected = cv2.imdecode(cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, 100])[1],
                            cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(compressed_msg_to_bgr(jpeg), expected)
