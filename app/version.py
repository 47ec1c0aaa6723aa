"""The Dockhook version (named in the User-Agent of every delivery)."""

__version__ = "0.1.0"
