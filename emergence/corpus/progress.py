"""The progress bar of a pass over a corpus (`stream_records(progress=True)`), on standard error.

    >>> from emergence.corpus.progress import PassBar
    >>> PassBar.__name__
    'PassBar'
"""
from __future__ import annotations

from pathlib import Path

from emergence.corpus.records import LoadStats

__all__ = ["PassBar"]


class PassBar:
    """A rich progress bar on standard error: MB read (of the file size when known), records, records/s, time."""

    def __init__(self, name: str, total: int | None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

        columns = [TextColumn("[bold]{task.description}"), *([BarColumn(20), TaskProgressColumn()] if total else []),
                   DownloadColumn(), TextColumn("{task.fields[records]:,} rec {task.fields[rate]:,.0f} rec/s"),
                   TimeElapsedColumn()]
        self.progress = Progress(*columns, console=Console(stderr=True))
        self.task = self.progress.add_task(Path(name).name or name, total=total, records=0, rate=0.0)
        self.progress.start()

    def update(self, done: int, records: int) -> None:
        elapsed = self.progress.tasks[0].elapsed
        self.progress.update(self.task, completed=done, records=records, rate=records / elapsed if elapsed else 0.0)

    def stop(self, stats: LoadStats) -> None:
        self.update(stats.bytes_read, stats.yielded)
        self.progress.stop()
