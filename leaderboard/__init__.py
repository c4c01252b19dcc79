"""The Flask face of Arena: pages and a JSON API over the ``arena`` core."""

from .app import create_app

__all__ = ["create_app"]
