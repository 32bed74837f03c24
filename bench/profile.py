"""Where the time goes: py-spy on `aftersales serve` under the benchmark's open-loop load.

    python -m bench.profile [--rate 150] [--seconds 12] [--top 25]

py-spy (a dev tool, `pip install py-spy`; not a dependency of the bot) samples the
running server; the collapsed stacks are summed into the frames that hold the CPU most,
by own time and by inclusive time, and written next to the benchmark results.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench import loadgen, scenarios, servers

RESULTS = servers.ROOT / "bench" / "results"


def summarise(collapsed: str, top: int) -> str:
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    paths: collections.Counter[str] = collections.Counter()
    threads: collections.Counter[str] = collections.Counter()
    samples = loop = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        samples += n
        frames = [f for f in stack.split(";") if f]
        thread = next((f for f in frames if f.startswith("thread (")), "")
        frames = [f for f in frames if not f.startswith(("thread (", "process "))]
        threads[thread] += n
        if "MainThread" in thread:  # the loop's; SQLAlchemy's greenlets show only their own frames
            loop += n
            paths[_path(frames)] += n
        if frames:
            own[_short(frames[-1])] += n
        for frame in {_short(f) for f in frames}:
            total[frame] += n
    lines = [f"{samples} samples in {len(threads)} threads; {loop} on the event loop's thread"]
    lines += ["", "the loop's samples by path (the innermost of these a stack passes through):"]
    lines += [f"{100 * n / max(1, loop):5.1f}%  {name}" for name, n in paths.most_common()]
    lines += ["", "own time:"]
    lines += [f"{100 * n / samples:5.1f}%  {f}" for f, n in own.most_common(top)]
    lines += ["", "inclusive:"]
    lines += [f"{100 * n / samples:5.1f}%  {f}" for f, n in total.most_common(top)]
    return "\n".join(lines)


# Where a stack belongs: the innermost of these files it passes through (its nearest owner).
PATHS = (
    ("intake: webhook request", ("bot/web/webhooks.py", "bot/web/body.py", "web_protocol.py")),
    ("intake: group commit", ("bot/core/writer.py",)),
    ("handling", ("bot/core/engine.py", "bot/core/turns.py")),
    ("delivery", ("bot/core/delivery.py", "bot/core/outbox.py", "bot/core/sent.py")),
    ("waiting (epoll)", ("select (selectors.py",)),
    ("SQLAlchemy in a greenlet (its caller not shown)", ("sqlalchemy/",)),
)


def _path(frames: list[str]) -> str:
    for frame in reversed(frames):  # py-spy's raw format lists the innermost frame last
        for name, marks in PATHS:
            if any(mark in frame for mark in marks):
                return name
    return "other"


def _short(frame: str) -> str:
    """`fn (path/to/file.py:12)` → `fn (file.py)`: lines differ, functions are what we act on."""
    name, _, where = frame.partition(" (")
    path = where.split(":")[0]
    parts = Path(path).parts
    short = "/".join(parts[-2:]) if parts else path
    return f"{name} ({short})"


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rate", type=float, default=150)
    parser.add_argument("--seconds", type=float, default=12)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", default="profile-latest.txt", help="file name under bench/results/")
    parser.add_argument("--raw", type=Path, help="also keep py-spy's collapsed stacks here")
    parser.add_argument("--gil", action="store_true", help="only the thread holding the GIL (CPU in Python)")
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(servers.sys.executable).parent / "py-spy")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        target = scenarios.Target("this", servers.ROOT, "sqlite")
        async with scenarios.running(target, tmp) as (bot, _log):
            pid = bot.pid
            raw = tmp / "profile.txt"
            record = subprocess.Popen(
                [spy, "record", "--pid", str(pid), "--format", "raw", "--output", str(raw),
                 "--duration", str(int(args.seconds)), "--rate", "200", "--nonblocking", "--threads",
                 *(["--gil"] if args.gil else [])],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            await loadgen.open_loop(scenarios.url_of(bot), bot.secret, args.rate, args.seconds)
            await asyncio.to_thread(record.wait)
            text = summarise(raw.read_text(), args.top)
            if args.raw:
                shutil.copy(raw, args.raw)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / args.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    asyncio.run(main())
