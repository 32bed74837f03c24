"""The staff console: a small server-rendered web app under /console/ for phones.

`Console(...).routes()` is all the composition root needs; see views.py.
"""

from bot.web.console.views import Console

__all__ = ["Console"]
