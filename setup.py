"""Build hook for the one compiled piece: C twins of three loader loops (emergence/_speedups.c).

    $ pip install -e .        # builds emergence/_speedups*.so where a C compiler and SSE2 exist

Everything else is in pyproject.toml. The extension is optional: where it cannot be
built (no compiler, no Python headers, no SSE2) the install goes on and the loader
uses the Python twins, with the same results, more slowly
(`emergence.corpus.stream.SPEEDUPS` says which run).
"""
from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("emergence._speedups", ["emergence/_speedups.c"], extra_compile_args=["-O3"], optional=True),
    ]
)
