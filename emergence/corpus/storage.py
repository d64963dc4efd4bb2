"""How to reach a corpus URL's storage: `StorageOptions`, from the config, never shown.

    >>> from emergence.corpus.storage import StorageOptions
    >>> options = StorageOptions(profile="lab", endpoint_url="http://127.0.0.1:9000")
    >>> options, options.fsspec_options("s3")
    (StorageOptions(***), {'profile': 'lab', 'endpoint_url': 'http://127.0.0.1:9000'})

The values are masked on the way in (pydantic's errors echo inputs, under whatever model
holds this one), and `secrets()` lists them for `emergence.corpus.remote` to mask in the
messages of the libraries it calls.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["BACKENDS", "StorageOptions"]

BACKENDS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "hf": "hf", "http": "http", "https": "http"}


class StorageOptions(BaseModel):
    """How to reach a corpus URL's storage; never shown (repr, messages, dumps, env.json)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _masked(cls, data: Any) -> Any:
        # pydantic's errors echo the input (input_value=...), under whatever model holds this
        # one: every value comes in masked, its repr '***'
        return _mask(data)

    profile: str | None = Field(None, description="AWS credentials profile for s3:// (a section of ~/.aws/credentials).")
    endpoint_url: str | None = Field(
        None, description="Endpoint of an S3-compatible store (MinIO, R2, a moto server) for s3://, of the "
        "Hugging Face Hub for hf://, of a GCS emulator for gs://.")
    anonymous: bool = Field(False, description="Read without credentials (public buckets and datasets).")
    options: dict[str, Any] = Field(
        {}, description="Any other keyword of the URL's fsspec filesystem (s3fs, gcsfs, HfFileSystem), "
        "e.g. {requester_pays = true}; they win over the fields above.")

    def __repr__(self) -> str:
        return "StorageOptions(***)"

    __str__ = __repr__

    def fsspec_options(self, protocol: str) -> dict[str, Any]:
        """The filesystem keywords for `protocol` (s3, gs, hf, http, file, ...)."""
        backend = BACKENDS.get(protocol, protocol)
        out: dict[str, Any] = {}
        if self.profile is not None:
            if backend != "s3":
                raise ValueError(f"storage option 'profile' is for s3:// URLs, not {protocol}://")
            out["profile"] = self.profile
        if self.endpoint_url is not None:
            if backend not in ("s3", "gcs", "hf"):
                raise ValueError(f"storage option 'endpoint_url' is for s3://, gs:// and hf:// URLs, not {protocol}://")
            out["endpoint" if backend == "hf" else "endpoint_url"] = self.endpoint_url
        if self.anonymous:
            out.update({"s3": {"anon": True}, "gcs": {"token": "anon"}, "hf": {"token": False}}.get(backend, {}))
        return {**out, **self.options}

    def secrets(self) -> list[str]:
        """Every string value in the options (masked wherever a message might show it)."""
        found: list[str] = []

        def walk(value: Any) -> None:
            if isinstance(value, str) and len(value) >= 3:
                found.append(value)
            elif isinstance(value, dict):
                for v in value.values():
                    walk(v)
            elif isinstance(value, (list, tuple)):
                for v in value:
                    walk(v)

        walk([self.profile, self.endpoint_url, self.options])
        return sorted(set(found), key=len, reverse=True)


class _MaskedStr(str):
    def __repr__(self) -> str:
        return "'***'"


class _MaskedDict(dict):
    def __repr__(self) -> str:
        return "{***}"


class _MaskedList(list):
    def __repr__(self) -> str:
        return "[***]"


def _mask(value: Any) -> Any:
    if isinstance(value, StorageOptions):
        return value
    if isinstance(value, dict):
        return _MaskedDict({k: _mask(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return _MaskedList(_mask(v) for v in value)
    if isinstance(value, str):
        return _MaskedStr(value)
    return value
