"""``kerasnets export`` and ``kerasnets evaluate-tflite``: the TFLite pipeline on the command line.

Example:
    kerasnets export mlp.keras --quantize int8 --calibration digits --out runs/mlp-int8
    kerasnets export m.keras --calibration x.npy --input-scale 0.00392157 --out runs/m-int8
    kerasnets export cnn.keras --quantize int8 --prune 0.8 --qat --calibration digits --out runs/x
    kerasnets evaluate-tflite runs/mlp-int8/bundle/model.tflite --data digits --json
"""

from __future__ import annotations

import argparse
import sys

from kerasnets.cli import int_at_least

ORDER = 60

QUANTIZE = ("none", "float16", "dynamic", "int8", "int8-full")
# --scales -> kerasnets.tflite's per_channel (see kerasnets.tflite.conversion)
SCALES = {"conv": "conv", "channel": True, "tensor": False}


def _sparsity(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a sparsity in [0, 1), got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a sparsity in [0, 1), got {text!r}")
    return value


def _finite(nonzero=False):
    """An argparse ``type`` accepting finite floats (and not 0 with ``nonzero``)."""

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if value != value or value in (float("inf"), float("-inf")) or (nonzero and value == 0):
            wanted = "a finite non-zero number" if nonzero else "a finite number"
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
        return value

    return parse


def _data_error(err):
    """Dataset-not-cached errors (a RuntimeError) as the one line the CLI prints."""
    from kerasnets.cli import UsageError

    return UsageError(str(err))


def register(sub):
    p = sub.add_parser(
        "export",
        help="convert a .keras model to quantized/pruned .tflite variants, bundle and report",
    )
    p.add_argument("model", metavar="MODEL.keras", help="any Keras 3 model file")
    p.add_argument("--quantize", choices=QUANTIZE, default="int8", help="PTQ mode (int8)")
    p.add_argument("--io-dtype", choices=("int8", "uint8"), help="int8-full I/O type (int8)")
    p.add_argument(
        "--scales",
        choices=tuple(SCALES),
        default="conv",
        help="int8 weight scales: per channel for conv kernels and per tensor for Dense "
        "(conv, default), per channel everywhere (channel) or per tensor everywhere (tensor)",
    )
    p.add_argument(
        "--prune",
        type=_sparsity,
        metavar="SPARSITY",
        help="prune to this sparsity with fine-tuning, e.g. 0.8",
    )
    p.add_argument(
        "--cluster",
        type=int_at_least(2),
        metavar="K",
        help="cluster each kernel to K shared values with fine-tuning",
    )
    p.add_argument(
        "--qat",
        action="store_true",
        help="quantization-aware training with tfmot (through the tf_keras twin)",
    )
    p.add_argument(
        "--calibration",
        metavar="DATA",
        help="dataset name (digits, shapes, ...) shaped to the model input, or .npy",
    )
    p.add_argument(
        "--input-scale",
        type=_finite(nonzero=True),
        metavar="S",
        help="for .npy calibration data: the samples are raw * S + OFFSET (written to the "
        "bundle; a dataset name brings its own)",
    )
    p.add_argument("--input-offset", type=_finite(), metavar="OFFSET", help="see --input-scale (0)")
    p.add_argument(
        "--epochs", type=int_at_least(1), default=2, metavar="N", help="fine-tuning epochs (2)"
    )
    p.add_argument(
        "--runs", type=int_at_least(1), default=50, metavar="N", help="timed runs per latency (50)"
    )
    p.add_argument("--out", required=True, help="run directory to create")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument("--verbose", action="store_true", help="show the converter log on failure")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=export)

    p = sub.add_parser("evaluate-tflite", help="accuracy, size and latency of a .tflite file")
    p.add_argument("file", metavar="FILE.tflite")
    p.add_argument("--data", default="digits", help="dataset name or .npy samples (digits)")
    p.add_argument("--labels", metavar="Y.npy", help="labels for a .npy --data")
    p.add_argument(
        "--runs", type=int_at_least(1), default=50, metavar="N", help="timed runs per latency (50)"
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=evaluate_tflite)


def export(args) -> int:
    from kerasnets.cli import UsageError, print_json
    from kerasnets.data import DatasetUnavailableError
    from kerasnets.tflite import ConversionError, export_model

    try:
        result = export_model(
            args.model,
            args.out,
            quantize=args.quantize,
            calibration=args.calibration,
            prune=args.prune,
            cluster=args.cluster,
            qat=args.qat,
            io_dtype=args.io_dtype,
            per_channel=SCALES[args.scales],
            input_scale=args.input_scale,
            input_offset=args.input_offset,
            epochs=args.epochs,
            runs=args.runs,
            force=args.force,
        )
    except DatasetUnavailableError as err:
        raise _data_error(err) from None
    except ConversionError as err:
        if args.verbose:
            print(err.detail, file=sys.stderr)
        raise UsageError(f"{err} (--verbose shows the converter log)") from None
    if args.json:
        print_json(result)
    else:
        print(result["markdown"])
        print(
            f"\nwrote {result['out']}: report.md, report.json, bundle/ "
            f"(python {result['bundle']}/example.py)"
        )
    return 0


def evaluate_tflite(args) -> int:
    from kerasnets import data
    from kerasnets.cli import UsageError, print_json
    from kerasnets.tflite import TFLiteModel, evaluate

    if args.labels and not args.data.endswith(".npy"):
        raise UsageError(f"--labels is for .npy --data; dataset {args.data!r} has its own")
    shape = TFLiteModel(args.file).input_shape
    try:
        shaped = data.for_model(args.data, shape, labels=args.labels, what="--data")
    except data.DatasetUnavailableError as err:
        raise _data_error(err) from None
    x, y = shaped.test if shaped.test is not None else shaped.train
    result = evaluate(args.file, x, y, runs=args.runs)
    if args.json:
        print_json(result)
    else:
        print(
            f"{args.file}: {result['bytes']:,} bytes ({result['gzip_bytes']:,} gzip), "
            f"input {result['input']['dtype']} {result['input']['shape']}"
        )
        if "accuracy" in result:
            print(
                f"accuracy on {result['samples']} {args.data} samples: "
                f"{100 * result['accuracy']:.2f}%"
            )
        for threads, ms in result["latency_ms"].items():
            print(f"latency, batch 1, {threads} thread(s): {ms:.3f} ms (median)")
    return 0
