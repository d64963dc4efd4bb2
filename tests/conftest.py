"""Shared fixtures: tiny seeded models built in code (no hub), markers for slow/gpu tests."""
from __future__ import annotations

import contextlib

import pytest


def _has_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def _has_smollm2() -> bool:
    from emergence.models import smollm2_available

    return smollm2_available()


def pytest_collection_modifyitems(config, items):
    # gpu tests need a CUDA device; slow tests need the bundled SmolLM2 package. Both are
    # skipped with a reason rather than failing on machines that lack them.
    no_gpu = pytest.mark.skip(reason="needs a CUDA GPU")
    no_smol = pytest.mark.skip(reason="needs the SmolLM2 GGUF: emergence models fetch smollm2 (make test does)")
    cuda = _has_cuda()
    smol = _has_smollm2()
    for item in items:
        if "gpu" in item.keywords and not cuda:
            item.add_marker(no_gpu)
        if "slow" in item.keywords and not smol:
            item.add_marker(no_smol)


@contextlib.contextmanager
def _torch_threads(n: int):
    """Pin torch's intra-op threads, restoring the count afterwards. A fixed count keeps
    float reductions in one order on any machine (goldens compare to 1e-6), and one
    thread spares a shared 2-core box OpenMP's spin-waiting (measured here under load:
    SmolLM2 generation 160 s with 2 threads, 18 s with 1)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture
def one_torch_thread():
    """One torch thread for the test (tiny models gain nothing from more)."""
    with _torch_threads(1):
        yield


@pytest.fixture(scope="module")
def one_torch_thread_per_module():
    """One torch thread for a whole module, module-scoped fixtures included."""
    with _torch_threads(1):
        yield


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory):
    """Path to a tiny random-init Llama-architecture chat model (seeded, built in code)."""
    from emergence.models import build_tiny_model

    return build_tiny_model("llama", tmp_path_factory.mktemp("tiny-llama"), seed=0)


@pytest.fixture(scope="session")
def tiny_phi3(tmp_path_factory):
    """Path to a tiny random-init Phi-3-architecture chat model (fused qkv / gate_up)."""
    from emergence.models import build_tiny_model

    return build_tiny_model("phi3", tmp_path_factory.mktemp("tiny-phi3"), seed=0)
