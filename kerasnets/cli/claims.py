"""``kerasnets claims``: the lecture's quantitative claims, measured, with computed verdicts.

    kerasnets claims [--only ID ...] [--analytic] [--out DIR] [--json] [--list]

One library call, :func:`kerasnets.claims.measure`; the table (claim | slide says | measured |
how | verdict) is printed, ``--out`` also writes ``report.md`` and ``claims.json``.
"""

from __future__ import annotations

ORDER = 60


def register(sub):
    p = sub.add_parser(
        "claims",
        help="measure the lecture's quantitative claims and say which hold",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("--only", nargs="+", metavar="ID", help="measure only these claim ids")
    p.add_argument(
        "--analytic",
        action="store_true",
        help="skip the training rows (the compression and INT8 conversion runs)",
    )
    p.add_argument("--out", help="directory for report.md and claims.json")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument("--list", action="store_true", help="list the claim ids and stop")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=run)


def run(args):
    from kerasnets import claims, io
    from kerasnets.cli import print_json

    if args.list:
        rows = [
            {"id": c.id, "slide": c.slide, "kind": c.kind, "claim": c.claim} for c in claims.CLAIMS
        ]
        if args.json:
            print_json(rows)
        else:
            for r in rows:
                print(f"{r['id']:<28} {r['slide']:<10} {r['kind']:<9} {r['claim']}")
        return 0
    if args.only:
        claims.check_ids(args.only)
    if args.out:
        io.check_output_dir(args.out, args.force)
    import keras

    rows = claims.measure(args.only, training=not args.analytic)
    backend = keras.backend.backend()
    if args.out:
        claims.write_report(rows, args.out, force=args.force, backend=backend)
    if args.json:
        print_json({"backend": backend, "claims": rows})
        return 0
    print(claims.table(rows, detail=False))
    n_ok = sum(r["verdict"] == "reproduced" for r in rows)
    print(f"\nmeasured on {backend}: {n_ok} of {len(rows)} reproduced, {len(rows) - n_ok} differ")
    if args.out:
        print(f"report: {args.out}/report.md, {args.out}/claims.json")
    return 0
