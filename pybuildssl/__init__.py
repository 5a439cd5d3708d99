"""pybuildssl: relocatable Python builds that trust the target system's CA store."""

__version__ = "0.1.0"
