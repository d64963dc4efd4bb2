"""When asking a storage again can help, and how long to wait first.

    >>> from emergence.corpus.retry import Retry, transient
    >>> Retry(first_wait=0.5).wait(3, None, None), Retry().wait(1, 503, None), Retry().wait(1, 429, 12.0)
    (2.0, 5.0, 12.0)
    >>> transient(ConnectionResetError()), transient(FileNotFoundError()), transient(ValueError("bad"))
    (True, False, False)

A dropped connection, a timeout, 408/425/429 and 5xx are worth another try; a missing
object, a refused credential and any other 4xx are not. The status is looked for on the
error and its causes, as aiohttp (fsspec's HTTP, s3fs), botocore and requests/httpx
(huggingface_hub) carry it; back-off doubles from `first_wait` up to `max_wait`, waits at
least `throttled_wait` on 429/503, and follows Retry-After when the server sends it.
"""
from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["Retry", "status_of", "transient"]

_TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_THROTTLED = frozenset({429, 503})
_PERMANENT_OS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)
_TRANSIENT_NAMES = ("ClientPayloadError", "ClientConnectionError", "ClientOSError", "ServerDisconnectedError",
                    "ServerTimeoutError", "ConnectionError", "Timeout", "TimeoutError", "IncompleteRead",
                    "ResponseStreamingError", "ProtocolError", "EndpointConnectionError", "ConnectionClosedError",
                    "ReadTimeoutError", "ContentLengthError", "ChunkedEncodingError")


class Retry(BaseModel):
    """Back-off of the requests of one read: tries in a row without progress, and the waits between them."""

    tries: int = Field(10, ge=1, description="Failed requests in a row (no byte gained) before giving up.")
    first_wait: float = Field(0.5, ge=0, description="Seconds before the first retry; doubled each time.")
    max_wait: float = Field(30.0, ge=0, description="The longest wait between two tries (seconds).")
    throttled_wait: float = Field(5.0, ge=0, description="The shortest wait after a 429 or 503 (seconds), "
                                  "unless Retry-After asks for another.")

    def wait(self, attempt: int, status: int | None, retry_after: float | None) -> float:
        """Seconds to wait before try `attempt` + 1 (attempt counts from 1)."""
        wait = min(self.first_wait * 2 ** (attempt - 1), self.max_wait)
        if retry_after is not None:
            wait = max(wait, retry_after)
        elif status in _THROTTLED:
            wait = max(wait, self.throttled_wait)
        return min(wait, self.max_wait)


def status_of(err: BaseException) -> tuple[int | None, float | None]:
    """(HTTP status, Retry-After seconds) found on the error or its causes."""
    seen = 0
    while err is not None and seen < 8:
        status = getattr(err, "status", None) or getattr(err, "status_code", None)
        response = getattr(err, "response", None)
        headers = getattr(err, "headers", None)
        if status is None and isinstance(response, dict):  # botocore ClientError
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            headers = response.get("ResponseMetadata", {}).get("HTTPHeaders")
        elif status is None and response is not None:  # requests / httpx (huggingface_hub)
            status, headers = getattr(response, "status_code", None), getattr(response, "headers", None)
        if isinstance(status, int):
            after = None
            try:
                after = float((headers or {}).get("Retry-After") or (headers or {}).get("retry-after"))
            except (TypeError, ValueError, AttributeError):
                pass
            return status, after
        err, seen = err.__cause__ or err.__context__, seen + 1
    return None, None


def transient(err: BaseException) -> bool:
    """Whether asking again can help: dropped connections, timeouts, 408/425/429/5xx."""
    status, _ = status_of(err)
    if status is not None:
        return status in _TRANSIENT_STATUS
    if isinstance(err, _PERMANENT_OS):
        return False
    names = {c.__name__ for c in type(err).__mro__}
    if isinstance(err, (OSError, TimeoutError)) or any(n in name for name in names for n in _TRANSIENT_NAMES):
        return True
    return "SlowDown" in str(err) or "reduce your request rate" in str(err)
