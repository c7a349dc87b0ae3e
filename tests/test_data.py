"""kerasnets.data: the embedded digits, the synthetic shapes, and the real keras.datasets loaders
exercised on tiny files written into the Keras cache in the real formats (only the download step
and the hash check are stubbed: there is no network here)."""

import gzip
import io as _io
import os
import pickle
import tarfile
import urllib.error

import keras
import numpy as np
import pytest

from kerasnets import data


def test_digits_is_the_embedded_default():
    (x_train, y_train), (x_test, y_test) = data.load()
    assert x_train.shape == (1437, 8, 8, 1) and x_test.shape == (360, 8, 8, 1)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int32
    assert 0.0 <= x_train.min() and x_train.max() == 1.0
    assert set(np.unique(y_train)) == set(range(10)) == set(np.unique(y_test))
    # Stratified: every class keeps ~20% of its samples in the test set.
    counts = np.bincount(y_test, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37


def test_digits_options():
    (x, y), (xt, yt) = data.load("digits", flatten=True)
    assert x.shape == (1437, 64)
    (x, y), (xt, yt) = data.load("digits", size=16, channels=3, subset=100, test_subset=50)
    assert x.shape == (100, 16, 16, 3) and xt.shape == (50, 16, 16, 3)
    np.testing.assert_array_equal(x[..., 0], x[..., 2])  # grey repeated to RGB
    assert 0.0 <= x.min() and x.max() <= 1.0
    (a, b), (c, d), (e, f) = data.load("digits", validation_split=0.2, seed=3)
    assert len(a) + len(c) == 1437 and len(c) == 287 and len(e) == 360
    (a2, _), (c2, _), _ = data.load("digits", validation_split=0.2, seed=3)
    np.testing.assert_array_equal(a, a2)
    np.testing.assert_array_equal(c, c2)


def test_shapes_are_seeded_balanced_and_sized():
    (x, y), (xt, yt) = data.load("shapes", size=12, subset=30, test_subset=9, seed=5)
    assert x.shape == (30, 12, 12, 3) and xt.shape == (9, 12, 12, 3)
    assert np.bincount(y).tolist() == [10, 10, 10]
    (x2, y2), _ = data.load("shapes", size=12, subset=30, test_subset=9, seed=5)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    (x3, _), _ = data.load("shapes", size=12, subset=30, test_subset=9, seed=6)
    assert not np.array_equal(x, x3)
    assert not np.array_equal(x[:9], xt)  # the test set is drawn independently
    (x4, _), _ = data.load("shapes", size=(10, 14), subset=3)
    assert x4.shape == (3, 10, 14, 3)


def test_shapes_classes_differ_in_pixel_area():
    # Same radius r: circle πr² > square (1.7r)² > triangle 2r², so the classes differ in area.
    x, y = data.make_shapes(300, 32, seed=0)
    bright = (x.max(-1) > 0.5).mean(axis=(1, 2))
    means = [bright[y == c].mean() for c in range(3)]
    assert means[1] > means[0] > means[2]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"name": "imagenet"}, "unknown dataset 'imagenet'; available: digits, mnist"),
        ({"size": 0}, "size must be a positive integer, got 0"),
        ({"size": (8, 8, 8)}, "size must be an int or"),
        ({"channels": 2}, "channels must be 1 or 3, got 2"),
        ({"subset": 0}, "subset must be a positive integer, got 0"),
        ({"subset": 5000}, "subset=5000 is larger than the 1437 samples"),
        ({"test_subset": -1}, "test_subset must be a positive integer"),
        ({"validation_split": 1.0}, r"validation_split must be in \(0, 1\)"),
        ({"name": "shapes", "size": 4}, "at least 8×8"),
        ({"subset": 1, "validation_split": 0.5}, "empty training or validation set"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.load(**kwargs)


def test_num_classes_and_names():
    assert data.num_classes("cifar100") == 100
    assert len(data.CLASS_NAMES["fashion_mnist"]) == 10
    with pytest.raises(ValueError, match="unknown dataset"):
        data.num_classes("nope")


# --- the real keras.datasets loaders on tiny files in the real formats -------------------------


@pytest.fixture
def keras_cache(tmp_path, monkeypatch):
    """Point the Keras cache at a temp dir and accept our tiny files' hashes; a download fails
    the way it does without network."""
    from keras.src.backend import config
    from keras.src.utils import file_utils

    monkeypatch.setattr(config, "_KERAS_DIR", str(tmp_path))
    monkeypatch.setattr(file_utils, "validate_file", lambda *a, **k: True)

    def no_network(url, *args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(file_utils, "urlretrieve", no_network)
    cache = tmp_path / "datasets"
    cache.mkdir()
    return cache


def _images(rng, n, shape):
    return rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)


def test_mnist_loads_from_the_real_cache_file(keras_cache, rng):
    x_train, x_test = _images(rng, 12, (28, 28)), _images(rng, 4, (28, 28))
    y_train, y_test = np.arange(12) % 10, np.arange(4)
    np.savez(
        keras_cache / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test
    )
    (x, y), (xt, yt) = data.load("mnist")
    assert x.shape == (12, 28, 28, 1) and xt.shape == (4, 28, 28, 1)
    np.testing.assert_allclose(x[..., 0], x_train / 255.0, atol=1e-7)
    np.testing.assert_array_equal(y, y_train)
    (x, _), _ = data.load("mnist", size=14, flatten=True, subset=5)
    assert x.shape == (5, 196)


def _idx(path, array, magic):
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


def test_fashion_mnist_loads_from_the_real_idx_files(keras_cache, rng):
    folder = keras_cache / "fashion-mnist"
    folder.mkdir()
    x_train, x_test = _images(rng, 6, (28, 28)), _images(rng, 3, (28, 28))
    _idx(folder / "train-images-idx3-ubyte.gz", x_train, 2051)
    _idx(folder / "t10k-images-idx3-ubyte.gz", x_test, 2051)
    _idx(folder / "train-labels-idx1-ubyte.gz", np.arange(6, dtype=np.uint8), 2049)
    _idx(folder / "t10k-labels-idx1-ubyte.gz", np.array([9, 8, 7], np.uint8), 2049)
    (x, y), (xt, yt) = data.load("fashion_mnist")
    assert x.shape == (6, 28, 28, 1) and yt.tolist() == [9, 8, 7]
    np.testing.assert_allclose(xt[..., 0], x_test / 255.0, atol=1e-7)


def _cifar_archive(path, top, members, rng, label_key, n):
    with tarfile.open(path, "w:gz") as tar:
        for member in members:
            # Repetitive pixels keep the 10,000-image batches cheap to gzip.
            batch = {
                b"data": np.tile(_images(rng, 10, (3072,)), (n // 10 + 1, 1))[:n],
                label_key.encode(): [int(v) for v in rng.integers(0, 10, n)],
            }
            payload = pickle.dumps(batch, protocol=4)
            info = tarfile.TarInfo(f"{top}/{member}")
            info.size = len(payload)
            tar.addfile(info, _io.BytesIO(payload))


def test_cifar10_loads_from_the_real_archive(keras_cache, rng):
    members = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    # keras' loader preallocates 50,000 training images and fills 10,000 per batch file.
    _cifar_archive(
        keras_cache / "cifar-10-batches-py-target_archive",
        "cifar-10-batches-py",
        members,
        rng,
        "labels",
        10000,
    )
    (x, y), (xt, yt) = data.load("cifar10", subset=20, test_subset=10)
    assert x.shape == (20, 32, 32, 3) and xt.shape == (10, 32, 32, 3)
    assert x.dtype == np.float32 and 0.0 <= x.min() and x.max() <= 1.0
    assert y.dtype == np.int32 and y.max() < 10


def test_cifar100_loads_from_the_real_archive(keras_cache, rng):
    _cifar_archive(
        keras_cache / "cifar-100-python-target_archive",
        "cifar-100-python",
        ["train", "test"],
        rng,
        "fine_labels",
        7,
    )
    (x, y), (xt, yt) = data.load("cifar100")
    assert x.shape == (7, 32, 32, 3) and xt.shape == (7, 32, 32, 3)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("mnist", "mnist.npz"),
        ("fashion_mnist", os.path.join("fashion-mnist", "train-labels-idx1-ubyte.gz")),
        ("cifar10", "cifar-10-batches-py-target_archive"),
        ("cifar100", "cifar-100-python-target_archive"),
    ],
)
def test_offline_error_says_which_file_to_place_where(keras_cache, name, expected):
    with pytest.raises(data.DatasetUnavailableError) as info:
        data.load(name)
    message = str(info.value)
    assert "\n" not in message
    assert os.path.join(str(keras_cache), expected) in message
    assert "https://" in message and "name resolution" in message


def test_keras_cache_dir_follows_keras_home(keras_cache):
    assert data.keras_cache_dir() == str(keras_cache)
    assert keras.backend.backend() in ("tensorflow", "jax", "torch")


def test_a_corrupt_cached_file_is_reported_as_such(keras_cache):
    (keras_cache / "mnist.npz").write_bytes(b"not an npz file")
    with pytest.raises(data.DatasetUnavailableError, match="could not be read"):
        data.load("mnist")
