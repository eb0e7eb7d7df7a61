"""Reading and writing config.toml.

The file holds API keys, so it is written atomically (temp file + rename in
the same directory), with mode 0600, in a directory created 0700, and under
an advisory lock so two `spine config set` at once cannot lose an update.
It is parsed with `tomllib` and written with `tomli-w`: comments in a
hand-edited file do not survive a write (documented in docs/configuration.md).
Reading a file that other users can read prints one warning per file, and a
config directory that other users can write prints one warning per directory.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import stat
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

from spine_cli.errors import ConfigError

_LINE_RE = re.compile(r"at line (\d+), column (\d+)")

# Paths already warned about in this process: one warning per file is enough.
_warned_modes: set[str] = set()


def _tomllib() -> Any:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    return tomllib


Warn = Callable[[str], None]


def read_config(path: Path, warn: Warn | None = None) -> dict[str, Any]:
    """The parsed file ({} when absent); ConfigError with the line at fault.

    `warn` receives a one-time warning when the file is readable by others, or its
    directory writable by them."""
    tomllib = _tomllib()
    _warn_if_dir_writable(path.parent, warn)
    try:
        with open(path, "rb") as fh:
            _warn_if_exposed(path, os.fstat(fh.fileno()).st_mode, warn)
            raw = fh.read()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"Cannot read config file {path}: {exc.strerror}",
                          hint=f"Check the permissions of {path}.") from None
    try:
        parsed: dict[str, Any] = tomllib.loads(raw.decode("utf-8"))
        return parsed
    except UnicodeDecodeError:
        raise ConfigError(f"Malformed config file {path}: not UTF-8 text.",
                          hint=f"Fix or remove {path}.") from None
    except tomllib.TOMLDecodeError as exc:
        raise malformed(path, str(exc), _error_line(exc), raw.decode("utf-8")) from None


def _error_line(exc: Exception) -> int | None:
    lineno = getattr(exc, "lineno", None)  # Python >= 3.14 has it
    if lineno:
        return int(lineno)
    match = _LINE_RE.search(str(exc))
    return int(match.group(1)) if match else None


def malformed(path: Path, problem: str, lineno: int | None, text: str | None = None) -> ConfigError:
    """A ConfigError naming the file, the line number and the line itself."""
    where = f"{path}, line {lineno}" if lineno else str(path)
    hint = f"Fix or remove {path}."
    if lineno and text is not None:
        lines = text.splitlines()
        if 0 < lineno <= len(lines):
            # The line may hold a secret: never echo the value of an api_key or
            # webhook_secret line.
            shown = lines[lineno - 1].strip()
            if any(word in shown for word in ("api_key", "sk_spine_", "webhook_secret", "whsec_")):
                shown = shown.split("=", 1)[0].strip() + " = …"
            hint = f"  {lineno} | {shown[:120]}\n{hint}"
    return ConfigError(f"Malformed config file {where}: {problem}", hint=hint)


def find_key_line(path: Path, table: str | None, key: str) -> int | None:
    """Best-effort line number of `key` inside `[table]` (None at top level)."""
    try:
        lines = path.read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    current: str | None = None
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("["):
            current = stripped.strip("[]").strip().replace('"', "")
        elif re.match(rf'^"?{re.escape(key)}"?\s*=', stripped):
            if current == table:
                return number
        if table and re.match(rf'^{re.escape(table)}\.{re.escape(key)}\s*=', stripped):
            return number
    return None


def _warn_if_exposed(path: Path, mode: int, warn: Warn | None) -> None:
    if warn is None or os.name != "posix" or not mode & (stat.S_IRWXG | stat.S_IRWXO):
        return
    if str(path) in _warned_modes:
        return
    _warned_modes.add(str(path))
    warn(f"{path} is accessible by other users (mode {stat.S_IMODE(mode):04o}) and may hold "
         f"API keys.\nRestrict it with: chmod 600 {path}")


def _warn_if_dir_writable(directory: Path, warn: Warn | None) -> None:
    # Whoever can write the directory can replace config.toml, e.g. with a base_url of
    # their own that would then receive the API key: warn even when there is no file yet.
    try:
        mode = os.stat(directory).st_mode
    except OSError:
        return
    if warn is None or os.name != "posix" or not mode & (stat.S_IWGRP | stat.S_IWOTH):
        return
    if str(directory) in _warned_modes:
        return
    _warned_modes.add(str(directory))
    warn(f"the config directory {directory} is writable by other users "
         f"(mode {stat.S_IMODE(mode):04o}); they could replace config.toml.\n"
         f"Restrict it with: chmod 700 {directory}")


def ensure_private_dir(directory: Path) -> None:
    """Create `directory` (and parents) with mode 0700."""
    if directory.is_dir():
        return
    # mkdir's mode is filtered by the umask, which only removes bits: 0700 stays 0700.
    directory.mkdir(parents=True, mode=0o700, exist_ok=True)
    with contextlib.suppress(OSError):
        os.chmod(directory, 0o700)


def write_config(path: Path, data: dict[str, Any]) -> None:
    """Write `data` atomically as TOML with mode 0600."""
    import tomli_w

    ensure_private_dir(path.parent)
    payload = tomli_w.dumps(data).encode("utf-8")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)  # O_CREAT's mode is ignored if the temp file already existed
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    ensure_private_dir(path.parent)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: atomic rename only
        yield
        return
    fd = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def update_config(path: Path, mutate: Callable[[dict[str, Any]], Any],
                  warn: Warn | None = None) -> Any:
    """Read, mutate in place and write back under a lock; returns mutate's result."""
    try:
        with _locked(path):
            data = read_config(path, warn)
            before = copy.deepcopy(data)
            result = mutate(data)
            if data != before:  # an unchanged file keeps its comments and formatting
                write_config(path, data)
            return result
    except OSError as exc:
        raise ConfigError(f"Cannot write config file {path}: {exc.strerror}",
                          hint=f"Check the permissions of {path.parent}.") from None
