"""Run the benchmarks: `python -m bench [--quick] [startup|polling|uploads|many|batch] ...`.

Each benchmark prints its figures beside a baseline measured in the same run,
the ratio, and whether the target of its issue (7, or 14 for batch) is met. Exit status 0 when every
selected target is met, 1 otherwise. See bench/README.md.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

BENCHES = {
    "startup": "bench.startup",
    "polling": "bench.polling",
    "uploads": "bench.uploads",
    "many": "bench.many_runs",
    "batch": "bench.batch",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", choices=[[], *BENCHES], metavar="NAME",
                        help=f"benchmarks to run (default: all): {', '.join(BENCHES)}")
    parser.add_argument("--quick", action="store_true",
                        help="fewer repetitions and shorter runs (~2 min in all)")
    args = parser.parse_args(argv)
    names = args.names or list(BENCHES)
    results = {}
    for name in names:
        t0 = time.perf_counter()
        module = importlib.import_module(BENCHES[name])
        results[name] = module.main(quick=args.quick)
        print(f"   ({name}: {time.perf_counter() - t0:.0f} s)\n", flush=True)
    print("summary: " + ", ".join(f"{n} {'met' if ok else 'MISSED'}" for n, ok in results.items()))
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
