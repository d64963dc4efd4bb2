"""The seed study at full scale on one GPU: `--profile seed` end to end on a Phi-3-medium-shaped model.

    $ python benchmarks/bench_seed_gpu.py --prepare            # the random model and a 2,248,619-line corpus
    $ python benchmarks/bench_seed_gpu.py --run --out /tmp/emergence-bench/seed-run   # resumable
    $ python benchmarks/bench_seed_gpu.py --table --out /tmp/emergence-bench/seed-run  # the stage table

No real weights reach the GPU machine: the model is the random-init Phi-3-medium shape of
``benchmarks/gpu_models.py`` (40 layers, ~14B parameters, bf16 safetensors) and the corpus
is ``benchmarks/bench_loader.py``'s trn.json-shaped generator (labels from the age cues in
held-out descriptions, as on the real corpus). Answers of a random model are noise; the
point is that every stage runs at full scale, and how long each takes. ``--run`` calls
:func:`emergence.experiment.runner.run_experiment` on the seed profile with the model and
corpus swapped in, so a run cut off by a time limit resumes where it stopped; ``--table``
prints the per-stage wall time and peak GPU memory from the run's ``run.json``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for path in (REPO, REPO / "benchmarks"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

ROOT = Path("/tmp/emergence-bench")
LINES = 2_248_619


def prepare(lines: int) -> tuple[Path, Path]:
    from bench_loader import generate_corpus
    from gpu_models import PHI3_MEDIUM, make_random_model

    corpus = ROOT / f"trn-{lines}.json"
    if not corpus.is_file():
        t = time.perf_counter()
        generate_corpus(corpus, lines)
        print(f"corpus: {lines:,} lines in {time.perf_counter() - t:.0f} s -> {corpus}", flush=True)
    t = time.perf_counter()
    model = make_random_model("phi3", None, device="cuda", **PHI3_MEDIUM)
    print(f"model: {model} ({time.perf_counter() - t:.0f} s)", flush=True)
    return Path(model), corpus


def run(out: Path, lines: int, overrides: list[str]) -> None:
    from emergence.configio import parse_set
    from emergence.experiment.config import load_profile
    from emergence.experiment.runner import run_experiment
    from gpu_models import PHI3_MEDIUM, make_random_model

    model = make_random_model("phi3", None, device="cuda", **PHI3_MEDIUM)  # reused when built
    config = load_profile("seed", {"train.model": str(model), "train.corpus": str(ROOT / f"trn-{lines}.json"),
                                   **parse_set(overrides)})
    run_experiment(config, out_dir=out, progress=False)


def table(out: Path) -> None:
    state = json.loads((out / "run.json").read_text())
    total = 0.0
    print(f"{'stage':<12} {'seconds':>9} {'peak alloc GiB':>15} {'peak reserved GiB':>18}")
    for name, rec in state["stages"].items():
        if not rec.get("fingerprint"):
            print(f"{name:<12} {'(not finished)':>9}")
            continue
        total += rec["seconds"]
        print(f"{name:<12} {rec['seconds']:>9.1f} {str(rec.get('peak_gpu_allocated_gib')):>15} "
              f"{str(rec.get('peak_gpu_reserved_gib')):>18}")
    print(f"{'total':<12} {total:>9.1f}")
    summary = out / "summary.json"
    if summary.is_file():
        print(summary.read_text())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--prepare", action="store_true")
    p.add_argument("--run", action="store_true")
    p.add_argument("--table", action="store_true")
    p.add_argument("--out", type=Path, default=ROOT / "seed-run")
    p.add_argument("--lines", type=int, default=LINES)
    p.add_argument("--set", dest="sets", action="append", default=[], help="config overrides, as emergence run")
    a = p.parse_args(argv)
    if a.prepare:
        prepare(a.lines)
    if a.run:
        run(a.out, a.lines, a.sets)
    if a.table:
        table(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
