"""The Spine emulator: a local, persistent, protocol-faithful Spine API server.

Modules (server stack imported only by `spine emulator` commands):

    config.py      EmulatorConfig: options and their defaults
    errors.py      EmulatorError (the CLI turns it into a usage error)
    store.py       SQLite state: runs, clock, secrets, webhook deliveries
    catalog.py     block types, templates, what each template builds
    simulation.py  a run's deterministic timeline (tasks, blocks, outcome)
    views.py       JSON shapes of a plan at a given emulator time
    artifacts.py   real docx/xlsx/pptx/html/png files, generated with the stdlib
    shelf.py       artifact files on disk and their pre-signed, expiring URLs
    state.py       live state: plans cache, faults, request log, rate limiter
    uploads.py     streaming multipart / url-encoded parsing with limits
    server.py      the /v1 routes and the Starlette app
    control.py     /_emulator/ test control, faults, request log (ASGI middleware)
    webhooks.py    signed deliveries with retries
    runner.py      binding, startup banner, signals, in-thread serving for `exec`

Nothing here is imported by `spine --version` or `--help`.
"""
