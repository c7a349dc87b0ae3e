"""``kerasnets info`` and ``kerasnets tour``."""

from __future__ import annotations

from importlib import metadata

from kerasnets.cli import int_at_least

ORDER = 0


def register(sub):
    p = sub.add_parser("info", help="versions of Keras and the backends, active backend, device")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=info)

    p = sub.add_parser("tour", help="train, evaluate and save a model on the embedded digits data")
    p.add_argument("--out", help="run directory to write (default: runs/tour-<time>)")
    p.add_argument("--epochs", type=int_at_least(1), default=15, help="training epochs (15)")
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")
    p.add_argument(
        "--steps",
        default="train,diagnostics,deploy,experiments",
        help="comma-separated steps to run: train, diagnostics, deploy, experiments (default: all)",
    )
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=tour)


def _version(dist):
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def collect_info() -> dict:
    """Versions of kerasnets, Keras and each backend package, the active backend and device."""
    import keras

    import kerasnets

    backend = keras.backend.backend()
    return {
        "kerasnets": kerasnets.__version__,
        "keras": keras.__version__,
        "backend": backend,
        "device": _device(backend),
        "installed": {
            name: _version(dist)
            for name, dist in [
                ("tensorflow", "tensorflow"),
                ("jax", "jax"),
                ("torch", "torch"),
                ("ai-edge-litert", "ai-edge-litert"),
                ("tf-keras", "tf-keras"),
                ("tensorflow-model-optimization", "tensorflow-model-optimization"),
            ]
        },
    }


def _device(backend):
    if backend == "jax":
        import jax

        return ", ".join(f"{d.platform}:{d.id}" for d in jax.devices())
    if backend == "torch":
        import torch

        return f"cuda:{torch.cuda.current_device()}" if torch.cuda.is_available() else "cpu"
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return ", ".join(d.name for d in gpus) if gpus else "cpu"


def info(args):
    from kerasnets.cli import print_json

    data = collect_info()
    if args.json:
        print_json(data)
        return 0
    print(f"kerasnets {data['kerasnets']}, keras {data['keras']}")
    print(f"active backend: {data['backend']} on {data['device']}")
    for name, version in data["installed"].items():
        print(f"  {name:<30} {version or 'not installed'}")
    return 0


def tour(args):
    from kerasnets.cli import print_json
    from kerasnets.tour import run_tour

    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    summary = run_tour(
        args.out,
        steps=steps,
        epochs=args.epochs,
        seed=args.seed,
        force=args.force,
        verbose=0 if args.json else 1,
    )
    if args.json:
        print_json(summary)
    return 0
