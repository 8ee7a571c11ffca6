"""Kith: the service, store and command line."""

__version__ = "0.1.0"
