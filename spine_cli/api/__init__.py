"""The Spine API over HTTP: the only package that imports httpx (docs/architecture.md).

httpx imports its own command-line tool (click, rich.syntax, pygments) whenever
click is installed (uvicorn brings it): ~0.1 s and 6 MiB on every `spine` call,
for code we never run. A None entry makes that import fail, as httpx allows.
It is set here, before any module of the package can import httpx.
"""

import sys

sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
