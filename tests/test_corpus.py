"""Real inputs nobody here wrote, posted through each channel's real signed route.

Each channel's inputs live in `tests/corpus/<channel>/` with an `INDEX.md` naming the
project, licence and path every file came from; `tests/corpus/<channel>_driver.py` posts
them and judges what the repositories hold (see `tests/corpus/judge.py`). Run with `-s` to
see the per-channel "N inputs, sensible X" lines.
"""

from __future__ import annotations

# ---- telegram ----

# ---- whatsapp ----

# ---- wechat ----

# ---- email ----
