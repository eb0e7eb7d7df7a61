"""spine: the command-line client for the Spine runs API."""

__version__ = "0.1.0"


def version_text() -> str:
    """What `spine --version` prints: the version, Python and platform."""
    import platform

    return (f"spine {__version__} (Python {platform.python_version()}, "
            f"{platform.system()}-{platform.machine()})")
