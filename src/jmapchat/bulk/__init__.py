"""Bulk work: exactly-once imports (`AsyncImporter` / `Importer`), sources and export.

See docs/migration.md. The journal (SQLite) makes a re-run after any crash safe.
"""

from ._async import AsyncImporter
from ._export_async import async_export_jsonl
from ._export_sync import export_jsonl
from ._journal import Journal
from ._plan import ChatRef, ImportAborted, Progress, Record, Report
from ._sources import SourceError, read_jsonl, read_slack_export
from ._sync import Importer

__all__ = [
    "AsyncImporter",
    "ChatRef",
    "ImportAborted",
    "Importer",
    "Journal",
    "Progress",
    "Record",
    "Report",
    "SourceError",
    "async_export_jsonl",
    "export_jsonl",
    "read_jsonl",
    "read_slack_export",
]
