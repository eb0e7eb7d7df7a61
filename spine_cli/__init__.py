"""spine: the command-line client for the Spine runs API."""

__version__ = "0.1.0"
