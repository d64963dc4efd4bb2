"""Read any stage's pydantic config from TOML / YAML / JSON, with dotted-key overrides.

    >>> from emergence.configio import load_config
    >>> from emergence.train.config import TrainConfig
    >>> cfg = load_config(TrainConfig, overrides={
    ...     "lora_r": "8", "target_modules": "[q_proj, v_proj]", "prompt_template": "Book: {title}"})
    >>> (cfg.lora_r, cfg.target_modules, cfg.prompt_template)
    (8, ['q_proj', 'v_proj'], 'Book: {title}')

Files map onto the model one to one (``[inner]`` tables for nested models). Override
values may be typed already or be strings as typed on a command line (``--set key=value``):
a string goes to a string field as is, and is read as a YAML scalar or flow list
(``8``, ``2e-4``, ``true``, ``[q_proj, v_proj]``, ``null``) for any other field.
An unknown key, on the command line or in a file, fails with the closest known names.

TOML has no null: :func:`dump_config` lists the dotted keys whose value is None under a
top-level ``null`` key (``null = ["train.save_total_limit"]``), and reading a TOML file
sets them back to None, so a dump reads back to the same config whatever its profile.
"""
from __future__ import annotations

import difflib
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any, Mapping, TypeVar

from pydantic import BaseModel

__all__ = ["ConfigError", "NULL_KEY", "dump_config", "load_config", "parse_set", "read_config_file"]

M = TypeVar("M", bound=BaseModel)
# the top-level TOML key listing the dotted keys whose value is None
NULL_KEY = "null"


class ConfigError(ValueError):
    """A config file or override that cannot be read; the message names the fix."""


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The raw mapping in a ``.toml``, ``.yaml``/``.yml`` or ``.json`` file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    suffix = path.suffix.lower()
    text = path.read_text(encoding="utf-8")
    if suffix == ".toml":
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - Python 3.10
            import tomli as tomllib
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    elif suffix in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
    elif suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: invalid JSON: {exc}") from exc
    else:
        raise ConfigError(f"{path}: unknown config format {suffix!r}; use .toml, .yaml or .json")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a table/mapping, got {type(data).__name__}")
    if suffix == ".toml" and NULL_KEY in data:
        _apply_nulls(data, data.pop(NULL_KEY), path)
    return data


def _null_paths(value: Any, prefix: str = "") -> list[str]:
    """Dotted paths (list items by index) of the None leaves of a dumped config."""
    out: list[str] = []
    if isinstance(value, dict):
        for key, child in value.items():
            out.extend(_null_paths(child, f"{prefix}{key}."))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            if isinstance(child, (dict, list)):
                out.extend(_null_paths(child, f"{prefix}{index}."))
    elif value is None:
        out.append(prefix[:-1])
    return out


def _apply_nulls(data: dict[str, Any], paths: Any, source: Path) -> None:
    if not isinstance(paths, list) or not all(isinstance(p, str) and p for p in paths):
        raise ConfigError(f"{source}: {NULL_KEY!r} must list dotted keys whose value is None, got {paths!r}")
    for dotted in paths:
        node: Any = data
        parts = dotted.split(".")
        for part in parts[:-1]:
            if isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            elif isinstance(node, dict):
                node = node.setdefault(part, {})
            else:
                raise ConfigError(f"{source}: {NULL_KEY} entry {dotted!r} does not name a key")
        if not isinstance(node, dict):
            raise ConfigError(f"{source}: {NULL_KEY} entry {dotted!r} does not name a key")
        node[parts[-1]] = None


def _check_keys(model_cls: type[BaseModel], data: Any, source: Path, prefix: str = "") -> None:
    """Every key of a file's mapping names a field (nested models and lists of them too);
    an unknown one fails with the closest known names, as ``--set`` does."""
    if not isinstance(data, Mapping) or model_cls.model_config.get("extra") == "allow":
        return
    fields = model_cls.model_fields
    for key, value in data.items():
        name = f"{prefix}{key}"
        if key not in fields:
            known = sorted(fields)
            close = difflib.get_close_matches(str(key), known, n=3)
            hint = (f"did you mean {', '.join(prefix + c for c in close)}?" if close
                    else f"known keys{' of ' + prefix[:-1] if prefix else ''}: {', '.join(known)}")
            raise ConfigError(f"{source}: unknown config key {name!r}; {hint}")
        annotation = fields[key].annotation
        inner = _model_member(annotation)
        if inner is not None:
            _check_keys(inner, value, source, f"{name}.")
            continue
        item = _list_item_model(annotation)
        if item is not None and isinstance(value, list):
            for index, element in enumerate(value):
                _check_keys(item, element, source, f"{name}[{index}].")


def _list_item_model(annotation: Any) -> type[BaseModel] | None:
    for member in _unwrap_optional(annotation):
        if typing.get_origin(member) in (list, tuple):
            args = typing.get_args(member)
            if args:
                return _model_member(args[0])
    return None


def _unwrap_optional(annotation: Any) -> list[Any]:
    """The member types of a union (``X | None`` -> ``[X, NoneType]``), else ``[annotation]``."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return list(typing.get_args(annotation))
    return [annotation]


def _takes_plain_string(annotation: Any) -> bool:
    """True when a raw command-line string should reach this field unparsed."""
    for member in _unwrap_optional(annotation):
        if member is str or member is Path or (isinstance(member, type) and issubclass(member, Path)):
            return True
        if typing.get_origin(member) is typing.Literal and all(
            isinstance(v, str) for v in typing.get_args(member)
        ):
            return True
    return False


def _model_member(annotation: Any) -> type[BaseModel] | None:
    for member in _unwrap_optional(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel):
            return member
    return None


def _field_annotation(model_cls: type[BaseModel], dotted: str) -> Any:
    """The annotation of a dotted field path; ConfigError with suggestions when unknown."""
    cls: type[BaseModel] | None = model_cls
    parts = dotted.split(".")
    annotation: Any = None
    for i, part in enumerate(parts):
        if cls is None:
            raise ConfigError(f"unknown config key {dotted!r}: {'.'.join(parts[:i])} has no sub-keys")
        fields = cls.model_fields
        if part not in fields:
            known = sorted(fields)
            close = difflib.get_close_matches(part, known, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else f"; known keys: {', '.join(known)}"
            raise ConfigError(f"unknown config key {dotted!r} for {cls.__name__}{hint}")
        annotation = fields[part].annotation
        cls = _model_member(annotation)
    return annotation


def _coerce(annotation: Any, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    members = _unwrap_optional(annotation)
    if type(None) in members and value.strip().lower() in ("null", "none", "~"):
        return None
    if _takes_plain_string(annotation):
        return value
    import yaml

    try:
        return yaml.safe_load(value)
    except yaml.YAMLError:
        return value  # let pydantic report the type error with the field's name


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    node = data
    parts = dotted.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {} if child is None else (child.model_dump() if isinstance(child, BaseModel) else child)
            node[part] = child
        node = child
    node[parts[-1]] = value


def _merge(dst: dict[str, Any], src: Mapping[str, Any]) -> None:
    """Deep-merge ``src`` into ``dst``: a file's ``[train]`` table updates, not replaces."""
    for key, value in src.items():
        if isinstance(value, Mapping) and isinstance(dst.get(key), dict):
            _merge(dst[key], value)
        else:
            dst[key] = value


def load_config(
    model_cls: type[M],
    path: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    base: M | None = None,
) -> M:
    """Build ``model_cls`` from ``base`` (or its defaults), then a file, then overrides.

    ``overrides`` maps dotted keys (``"lora_r"``, ``"train.max_steps"``) to values; string
    values are parsed as described in the module docstring. Later layers win.
    """
    from pydantic import ValidationError

    data: dict[str, Any] = base.model_dump() if base is not None else {}
    if path is not None:
        raw = read_config_file(path)
        _check_keys(model_cls, raw, Path(path))
        _merge(data, raw)
    for dotted, value in (overrides or {}).items():
        annotation = _field_annotation(model_cls, dotted)
        _set_dotted(data, dotted, _coerce(annotation, value))
    try:
        return model_cls.model_validate(data)
    except ValidationError as exc:
        where = f" (from {path})" if path is not None else ""
        raise ConfigError(f"invalid {model_cls.__name__}{where}:\n{exc}") from exc


def parse_set(items: list[str] | None) -> dict[str, str]:
    """``["lora_r=8", "corpus=a=b.jsonl"]`` -> ``{"lora_r": "8", "corpus": "a=b.jsonl"}``."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got {item!r}")
        out[key.strip()] = value
    return out


def _drop_none(value: Any) -> Any:
    # TOML has no null: a None value is left out here and listed under NULL_KEY
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value if v is not None]
    return value


def _toml_text(data: dict[str, Any]) -> str:
    try:
        import tomli_w
    except ImportError as exc:
        raise ConfigError("writing TOML needs tomli-w: pip install tomli-w (or write .json)") from exc

    if NULL_KEY in data:
        raise ConfigError(f"a config with a field named {NULL_KEY!r} cannot be written as TOML")
    nulls = _null_paths(data)
    head = ""
    if nulls:  # before every table, so it stays a top-level key
        head = ("# TOML has no null: these keys are None (emergence.configio reads them back)\n"
                + tomli_w.dumps({NULL_KEY: nulls}) + "\n")
    return head + tomli_w.dumps(_drop_none(data))


def dump_config(cfg: BaseModel, path: str | Path) -> Path:
    """Write ``cfg`` as ``.json``, ``.yaml``/``.yml`` or ``.toml`` (by suffix); returns the path.

    What is written loads back with :func:`load_config` to an equal config.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = cfg.model_dump(mode="json")
    suffix = path.suffix.lower()
    if suffix == ".json":
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    elif suffix in (".yaml", ".yml"):
        import yaml

        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    elif suffix == ".toml":
        text = _toml_text(data)
    else:
        raise ConfigError(f"{path}: unknown config format {suffix!r}; use .toml, .yaml or .json")
    path.write_text(text, encoding="utf-8")
    return path
