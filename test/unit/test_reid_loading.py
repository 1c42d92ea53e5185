"""Safe loading: pickled models refused, broken files named in one clear error."""

from pathlib import Path

from deepsort_ros.reid import create_encoder, EncoderLoadError
import pytest

torch = pytest.importorskip('torch')


class PickledNet(torch.nn.Module):
    """A whole module saved with torch.save(model): loading it means unpickling."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3)

    def forward(self, x):
        return self.conv(x).mean(dim=(2, 3))


@pytest.fixture
def osnet_state_path(tmp_path: Path) -> Path:
    from deepsort_ros.reid.osnet import osnet_x0_25

    path = tmp_path / 'osnet.pth'
    torch.save(osnet_x0_25(num_classes=5).state_dict(), path)
    return path


def test_pickled_module_is_refused_unless_allowed(tmp_path: Path) -> None:
    path = tmp_path / 'whole_model.pth'
    torch.save(PickledNet(), path)
    with pytest.raises(EncoderLoadError) as error:
        create_encoder(str(path), device='cpu')
    assert str(path) in str(error.value) and 'allow_pickle' in str(error.value)
    encoder = create_encoder(str(path), device='cpu', allow_pickle=True)
    assert encoder.feature_dim == 8


def test_truncated_file(osnet_state_path: Path, tmp_path: Path) -> None:
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(osnet_state_path.read_bytes()[:20000])
    with pytest.raises(EncoderLoadError, match='truncated.pth.*unreadable'):
        create_encoder(str(truncated), device='cpu')


def test_mismatched_state_dict_names_file_and_keys(osnet_state_path: Path,
                                                   tmp_path: Path) -> None:
    state = torch.load(osnet_state_path, weights_only=True)
    state['conv5.conv.weight'] = torch.zeros(7, 128, 1, 1)   # wrong shape
    del state['conv2.0.conv1.bn.bias']                       # missing key
    path = tmp_path / 'mismatched.pth'
    torch.save(state, path)
    with pytest.raises(EncoderLoadError) as error:
        create_encoder(str(path), device='cpu')
    message = str(error.value)
    assert 'mismatched.pth' in message and 'does not match OSNet' in message
    assert 'conv2.0.conv1.bn.bias' in message


def test_unknown_architecture(tmp_path: Path) -> None:
    path = tmp_path / 'other.pth'
    torch.save({'backbone.weight': torch.zeros(3)}, path)
    with pytest.raises(EncoderLoadError, match='other.pth.*no known architecture'):
        create_encoder(str(path), device='cpu')


def test_wrapped_checkpoint_and_module_prefix_load(osnet_state_path: Path,
                                                   tmp_path: Path) -> None:
    state = torch.load(osnet_state_path, weights_only=True)
    path = tmp_path / 'checkpoint.pth.tar'
    torch.save({'state_dict': {'module.' + k: v for k, v in state.items()}, 'epoch': 3}, path)
    assert create_encoder(str(path), device='cpu').feature_dim == 512


@pytest.mark.parametrize('name, content, expected', [
    ('missing.pth', None, 'not found'),
    ('empty.pth', b'', 'empty'),
    ('junk.onnx', b'not a model', 'ONNX'),
    ('junk.ts', b'not a model', 'TorchScript'),
    ('weights.bin', b'x', 'suffix'),
])
def test_broken_files(tmp_path: Path, name: str, content, expected: str) -> None:
    if expected == 'ONNX':
        pytest.importorskip('onnxruntime')
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(EncoderLoadError, match=expected) as error:
        create_encoder(str(path), device='cpu')
    assert name in str(error.value)
