"""Telling a corpus URL from a path, and showing a URL without its credentials.

    >>> from emergence.corpus.urls import display_url, is_url
    >>> is_url("s3://bucket/trn.json.gz"), is_url("simplecache::s3://b/k"), is_url("trn.json")
    (True, True, False)
    >>> display_url("https://user:secret@host/trn.json?X-Amz-Signature=abc")
    'https://host/trn.json?…'

Kept apart from `emergence.corpus.remote` so that the loader asks "is this a URL?" without
importing what reading one takes.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

__all__ = ["display_url", "is_url"]

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*(?:://|::)")


def is_url(value: Any) -> bool:
    """True for a URL (`scheme://...`) or an fsspec chain (`a::b://...`); a path is not one."""
    return isinstance(value, str) and not isinstance(value, Path) and _URL.match(value) is not None


def display_url(url: str) -> str:
    """The URL as messages show it: no user:password@, no query string (presigned signatures)."""
    parts = []
    for part in str(url).split("::"):
        part = re.sub(r"^([A-Za-z][A-Za-z0-9+.\-]*://)[^/@]*@", r"\1", part)
        parts.append(part.split("?", 1)[0] + ("?…" if "?" in part else ""))
    return "::".join(parts)
