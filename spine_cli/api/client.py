"""The Spine API's five endpoints, as typed calls (`SpineClient`).

Each method returns a model parsed once from the answer (`api.models`,
`api.canvas`); the session below it (`api.session`) speaks HTTP, the
envelope, retries and deadlines, and never prints. A create that may have
reached the server is never resent: every ambiguous outcome is a
`CreateUncertainError`; one that certainly never left says no run was created.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import httpx

from spine_cli.api.canvas import Dag, Task, TaskTree
from spine_cli.api.exchange import describe_transport_error, streamed
from spine_cli.api.models import CreatedRun, Run
from spine_cli.api.session import (
    CONNECT_TIMEOUT, CREATE_PATH, NO_RUN, ApiSession, masked_key, normalize_base_url,
)
from spine_cli.api.transfer import UploadReader
from spine_cli.errors import APIError, CreateUncertainError, MalformedResponseError, NetworkError

__all__ = ["FilePart", "Probe", "SpineClient", "masked_key", "normalize_base_url"]


@dataclass(frozen=True)
class Probe:
    """What `SpineClient.probe` learnt from one answer."""

    status: int
    latency: float          # seconds from sending to the answer's headers
    date: str | None        # the answer's Date header, as sent
    request_id: str | None  # its X-Request-ID


@dataclass
class FilePart:
    """One uploaded file: where it is read from and what the server is told."""

    path: Path
    filename: str
    content_type: str
    sha256: str | None = None  # set by create_run once the whole file was sent


class SpineClient(ApiSession):
    """One connection pool; endpoint methods return typed models."""

    def probe(self, path: str, timeout: float = CONNECT_TIMEOUT) -> "Probe":
        """One GET of `path`, no retries, whatever the status (for `spine doctor`).

        The answer's status, round-trip time, `Date` and request id; never its body or
        headers beyond those, and never the key. A connection that fails is a
        NetworkError.
        """
        request = self._http.build_request("GET", self.base_url + path,
                                           timeout=httpx.Timeout(timeout))
        started = time.monotonic()
        try:
            with streamed(lambda: self._http.send(request, stream=True,
                                                  follow_redirects=False)) as response:
                latency = time.monotonic() - started
                return Probe(response.status_code, latency, response.headers.get("date"),
                             response.headers.get("x-request-id"))
        except httpx.HTTPError as exc:
            raise NetworkError(f"Cannot reach the Spine API at {self.base_url}: "
                               f"{describe_transport_error(exc)}.") from None
    # -- endpoints ---------------------------------------------------------
    def create_run(self, fields: dict[str, str], files: Iterable[FilePart] = (),
                   on_upload: Callable[[int], None] | None = None,
                   deadline: float | None = None) -> CreatedRun:
        """POST /v1/run (multipart when files are attached, url-encoded otherwise)."""
        parts = list(files)
        readers = [UploadReader(p.path, on_upload) for p in parts]
        multipart = [("files", (p.filename, r, p.content_type)) for p, r in zip(parts, readers)]
        try:
            data = self.request_json("POST", CREATE_PATH, idempotent=False, data=fields,
                                     files=multipart or None, deadline=deadline)
        except MalformedResponseError as exc:
            # An answer that is not the API's (a proxy's page, a body too large): the
            # request got through, so a run may exist.
            raise CreateUncertainError(
                f"{exc.message} A run may have been created; the request was not resent, to "
                "avoid a duplicate run.") from None
        except APIError as exc:
            if exc.status_code is not None and exc.status_code >= 500:
                raise CreateUncertainError(
                    f"{exc.message} (HTTP {exc.status_code}). A run may have been created; the "
                    "request was not resent, to avoid a duplicate run.") from None
            if exc.status_code == 429:
                exc.message += f". {NO_RUN}"
            raise
        finally:
            for p, r in zip(parts, readers):
                p.sha256 = r.sha256
                r.close()
        try:
            return CreatedRun.parse(data)
        except MalformedResponseError as exc:
            raise CreateUncertainError(
                f"{exc.message} A run may have been created; the request was not resent, to "
                "avoid a duplicate run.") from None

    def get_run(self, run_id: str, max_retries: int | None = None,
                deadline: float | None = None) -> Run:
        run = Run.parse(self.request_json("GET", f"/run/{run_id}", max_retries=max_retries,
                                          deadline=deadline))
        if run.run_id != run_id.lower():
            raise MalformedResponseError(f"The API answered for another run ({run.run_id}) "
                                         f"when asked for {run_id}.")
        return run

    def get_dag(self, canvas_id: str) -> Dag:
        return Dag.parse(self.request_json("GET", f"/canvas/{canvas_id}/dag"))

    def get_tasks(self, canvas_id: str, max_retries: int | None = None,
                  deadline: float | None = None) -> TaskTree:
        return TaskTree.parse(self.request_json("GET", f"/canvas/{canvas_id}/tasks",
                                                max_retries=max_retries, deadline=deadline))

    def get_task(self, canvas_id: str, task_id: str) -> Task:
        return Task.parse(self.request_json("GET", f"/canvas/{canvas_id}/tasks/{task_id}"))
