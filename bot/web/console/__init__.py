"""The staff console: a small server-rendered web app under /console/ for phones.

`Console(...).install(app)` is all the composition root needs (templates and routes); see views.py.
"""

from bot.web.console.views import Console

__all__ = ["Console"]
