"""The model zoo: registry, structure of the families, bad input, reference parameter counts.

Building, training a step, predicting and saving/loading every family (TINY below) on this
backend and on the other two is in test_models_portability.py, in one pass."""

import keras
import numpy as np
import pytest

from kerasnets import models

# One small configuration per family (and per distinct pattern): tiny inputs, slim widths.
# test_models_portability.py reuses them. On JAX every new weight shape compiles a random
# initializer kernel and every new op shape an eager kernel (seconds each on a busy CPU), so
# widths are chosen to repeat shapes (e.g. GoogLeNet's channels collapse to 1-3).
TINY = {
    "mlp": ("mlp", dict(input_shape=(8, 8, 1), num_classes=3, width=8)),
    "mlp_layerwise": (
        "mlp_deep",
        dict(
            input_shape=(6,),
            num_classes=3,
            depth=3,
            width=8,
            activation=["selu", "prelu", "swish"],
            normalization="layer",
            dropout=0.1,
        ),
    ),
    "mlp_residual": (
        "mlp",
        dict(
            input_shape=(6,), num_classes=3, width=8, connection="residual", normalization="batch"
        ),
    ),
    "mlp_highway": ("mlp", dict(input_shape=(6,), num_classes=3, width=8, connection="highway")),
    "resnet18": ("resnet18", dict(input_shape=(8, 8, 3), num_classes=3, width=4)),
    "resnet18_preact": (
        "resnet18",
        dict(input_shape=(8, 8, 3), num_classes=3, width=4, preactivation=True),
    ),
    "resnet50": ("resnet50", dict(input_shape=(8, 8, 3), num_classes=3, width=1)),
    "plainnet18": ("plainnet18", dict(input_shape=(8, 8, 3), num_classes=3, width=4)),
    "densenet_bc": (
        "densenet_bc",
        dict(input_shape=(8, 8, 3), num_classes=3, blocks=(2, 2), growth_rate=2),
    ),
    "googlenet": (
        "googlenet",
        dict(input_shape=(8, 8, 3), num_classes=3, width_multiplier=0.01),
    ),
    "mobilenet": ("mobilenet", dict(input_shape=(16, 16, 3), num_classes=3, alpha=0.0625)),
    "baseline_cnn": ("baseline_cnn", dict(input_shape=(8, 8, 3), num_classes=3, width=4)),
    "efficient_cnn": (
        "efficient_cnn",
        dict(input_shape=(8, 8, 3), num_classes=3, width=4, squeeze_excite=True),
    ),
}


def test_registry_lists_described_names():
    names = models.available()
    assert names == sorted(names)
    for expected in [
        "mlp",
        "mlp_shallow_wide",
        "mlp_deep_narrow",
        "mlp_deep",
        "plainnet18",
        "plainnet34",
        "resnet18",
        "resnet34",
        "resnet50",
        "resnet101",
        "resnet152",
        "densenet121",
        "densenet169",
        "densenet201",
        "densenet_bc",
        "googlenet",
        "mobilenet",
        "baseline_cnn",
        "efficient_cnn",
    ]:
        assert expected in names
    for name in names:
        assert models.describe(name) and models.REGISTRY[name] == models.describe(name)


SLIM = {"width": 2, "growth_rate": 2, "width_multiplier": 0.0625, "alpha": 0.125}
DEEP = ("resnet101", "resnet152", "densenet169", "densenet201")  # built in the slow tests


@pytest.mark.slow  # the registry is backend-neutral; the families are built on every backend above
def test_every_registry_name_builds_small():
    for name in models.available():
        if name in DEEP:
            continue
        if name.startswith("mlp"):
            opts = dict(input_shape=(4,), width=4)
        else:
            side = 16 if name == "mobilenet" else 8
            opts = {k: v for k, v in SLIM.items() if k in models.options(name)}
            opts.update(input_shape=(side, side, 3), stem="cifar")
        model = models.build(name, num_classes=2, **opts)
        assert model.output_shape == (None, 2), name
        assert models.family(name) in model.__class__.__name__.lower() or name.endswith("cnn")
        keras.backend.clear_session()


def test_plainnet_is_resnet_without_skips():
    res = models.build("resnet18", input_shape=(16, 16, 3), num_classes=4, width=4)
    plain = models.build("plainnet18", input_shape=(16, 16, 3), num_classes=4, width=4)
    adds = [layer for layer in res.layers if isinstance(layer, keras.layers.Add)]
    assert len(adds) == 8  # 2 blocks x 4 stages
    assert not [layer for layer in plain.layers if isinstance(layer, keras.layers.Add)]
    convs = lambda m: [c.name for c in m.layers if isinstance(c, keras.layers.Conv2D)]  # noqa: E731
    assert [c for c in convs(res) if "proj" not in c] == convs(plain)


def test_resnet_shortcut_options():
    kw = dict(input_shape=(8, 8, 3), num_classes=2, width=4)
    b = models.ResNet(18, **kw)  # option B: projections only where the shape changes
    c = models.ResNet(18, shortcut="projection", **kw)  # option C: everywhere
    proj = lambda m: sum("proj_conv" in layer.name for layer in m.layers)  # noqa: E731
    assert proj(b) == 3 and proj(c) == 8


@pytest.mark.slow  # parameter counts are backend-neutral
def test_mlp_presets_match_the_lecture():
    wide = models.build("mlp_shallow_wide", input_shape=(784,))
    narrow = models.build("mlp_deep_narrow", input_shape=(784,))
    # 784*1000+1000 + 1000*10+10 vs 784*100+100 + 2*(100*100+100) + 100*10+10
    assert wide.count_params() == 795_010
    assert narrow.count_params() == 99_710
    deep = models.build("mlp_deep", input_shape=(784,))
    assert sum(isinstance(layer, keras.layers.Dense) for layer in deep.layers) >= 11


def test_mlp_initializer_follows_activation():
    model = models.MLP((4,), 2, depth=3, width=4, activation=["relu", "selu", "tanh"])
    inits = [
        type(model.get_layer(f"hidden{i}_dense").kernel_initializer).__name__ for i in (1, 2, 3)
    ]
    assert inits == ["HeNormal", "LecunNormal", "GlorotUniform"]
    dropped = models.MLP((4,), 2, depth=1, width=4, activation="selu", dropout=0.1)
    assert isinstance(dropped.get_layer("hidden1_dropout"), keras.layers.AlphaDropout)


@pytest.mark.slow  # parameter counts are backend-neutral
def test_efficient_cnn_is_smaller_than_baseline():
    base, eff = models.build("baseline_cnn"), models.build("efficient_cnn")
    assert eff.count_params() < 500_000 < base.count_params()


def test_default_stem_follows_input_size():
    small = models.build("resnet18", input_shape=(32, 32, 3), num_classes=3, width=4)
    large = models.build("resnet18", input_shape=(128, 128, 3), num_classes=3, width=4)
    assert small.get_config()["stem"] == "cifar" and large.get_config()["stem"] == "imagenet"
    assert "pool1_pool" in [layer.name for layer in large.layers]


BAD_INPUT = [
    ("resnet19", {}, r"unknown model 'resnet19'; available: .*resnet18"),
    ("resnet18", {"depth": 20}, r"depth 20; allowed: 18, 34, 50, 101, 152"),
    ("plainnet18", {"depth": 7}, r"PlainNet depth 7"),
    ("resnet18", {"input_shape": (16, 16, 3), "stem": "imagenet"}, r"too small .*at least 32"),
    ("resnet18", {"input_shape": (4, 4, 3)}, r"\(4, 4, 3\) is too small .*at least 8"),
    ("resnet18", {"width": 0}, r"width must be a positive integer, got 0"),
    ("resnet18", {"stem": "mnist"}, r"unknown stem 'mnist'; allowed"),
    ("resnet18", {"shortcut": "dense"}, r"unknown shortcut 'dense'; allowed"),
    ("resnet18", {"activation": "relu7"}, r"unknown activation 'relu7'; available: .*gelu"),
    ("resnet18", {"foo": 1}, r"no option\(s\) foo; allowed: depth"),
    ("mlp", {"width": -3}, r"width must be a positive integer, got -3"),
    ("mlp", {"depth": 0}, r"depth must be a positive integer, got 0"),
    ("mlp", {"activation": ["relu"], "depth": 2}, r"activation list has 1 entries"),
    ("mlp", {"activation": "swishy"}, r"unknown activation 'swishy'"),
    ("mlp", {"normalization": "group"}, r"unknown normalization 'group'"),
    ("mlp", {"connection": "dense"}, r"unknown connection 'dense'"),
    ("mlp", {"connection": "residual", "width": [4, 8, 8]}, r"needs a single width"),
    ("mlp", {"connection": "highway", "normalization": "batch"}, r"not supported with"),
    ("mlp", {"dropout": 1.5}, r"dropout must be a number"),
    ("mlp", {"initializer": "nope"}, r"unknown initializer 'nope'"),
    ("mlp", {"input_shape": (0, 3)}, r"input_shape must be"),
    ("mlp", {"classifier_activation": "relu"}, r"unknown classifier_activation 'relu'"),
    ("baseline_cnn", {"input_shape": (32, 32)}, r"input_shape must be \(height, width"),
    ("efficient_cnn", {"width": 2.5}, r"width must be a positive integer, got 2.5"),
    ("densenet121", {"depth": 122}, r"unsupported DenseNet depth 122; allowed: 121, 169, 201"),
    ("densenet_bc", {"growth_rate": 0}, r"growth_rate must be a positive integer, got 0"),
    ("densenet_bc", {"blocks": (4, -1)}, r"layers per dense block must be .* got -1"),
    ("densenet_bc", {"compression": 1.5}, r"compression must be a number > 0.0 and <= 1.0"),
    ("densenet121", {"input_shape": (16, 16, 3), "stem": "imagenet"}, r"at least 32"),
    ("googlenet", {"input_shape": (2, 2, 3)}, r"too small .* at least 4"),
    ("googlenet", {"large_kernel": 7}, r"large_kernel must be 5 \(paper\) or 3"),
    ("googlenet", {"width_multiplier": 0}, r"width_multiplier must be a number > 0"),
    ("mobilenet", {"alpha": -1.0}, r"alpha must be a number > 0"),
    ("mobilenet", {"input_shape": (8, 8, 3)}, r"too small for the 'cifar' stem .* at least 16"),
]


def test_bad_input_raises_value_error_before_building():
    for name, options, match in BAD_INPUT:
        with pytest.raises(ValueError, match=match):
            models.build(name, **options)


def trainable_count(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


REFERENCE_COUNTS = [
    # torchvision.models "num_params" (https://pytorch.org/vision/stable/models.html):
    # parameters only (BN running statistics are buffers there, non-trainable weights in
    # Keras), no conv biases, BN-convs in GoogLeNet, aux_logits=False.
    ("resnet18", {}, None, 11_689_512),
    ("resnet34", {}, None, 21_797_672),
    ("googlenet", {"large_kernel": 3}, None, 6_624_904),
    # The paper's 5x5 paths: 16 more weights per (reduce, out) channel pair, summed over the
    # nine modules: 16 * 23,808 = 380,928.
    ("googlenet", {}, None, 6_624_904 + 380_928),
    # Keras Applications, keras.applications.X(weights=None).count_params() (checked with
    # keras 3.15; https://keras.io/api/applications/): BN moving statistics included,
    # conv biases in ResNet.
    ("resnet50", {}, 25_636_712, None),
    ("resnet101", {}, 44_707_176, None),
    ("resnet152", {}, 60_419_944, None),
    ("densenet121", {}, 8_062_504, None),
    ("densenet169", {}, 14_307_880, None),
    ("densenet201", {}, 20_242_984, None),
    ("mobilenet", {"alpha": 1.0}, 4_253_864, None),
]


@pytest.mark.slow
def test_imagenet_parameter_counts():
    for name, options, total, trainable in REFERENCE_COUNTS:
        model = models.build(name, **options)
        assert model.input_shape == (None, 224, 224, 3), name
        assert model.get_config()["stem"] == "imagenet", name
        assert model.output_shape == (None, 1000), name
        if total is not None:
            assert model.count_params() == total, name
        if trainable is not None:
            assert trainable_count(model) == trainable, name
        del model
        keras.backend.clear_session()


@pytest.mark.slow
def test_densenet_bc_is_the_papers_small_network():
    model = models.build("densenet_bc")  # DenseNet-BC (L=100, k=12): "0.8M" in Huang et al.
    assert model.input_shape == (None, 32, 32, 3)
    assert 750_000 < model.count_params() < 850_000


@pytest.mark.slow
def test_plainnet_has_the_resnet_parameters_minus_projections():
    res, plain = models.build("resnet34"), models.build("plainnet34")
    proj = sum(layer.count_params() for layer in res.layers if "proj" in layer.name)
    assert plain.count_params() == res.count_params() - proj
