"""monitord: the online-safety monitoring daemon a school runs on its own server."""

__version__ = "0.1.0"
