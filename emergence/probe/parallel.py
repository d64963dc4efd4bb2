"""Probing on several processes: each rank answers a shard of the items, rank 0 gathers the rows in order.

    >>> from emergence.probe.parallel import shard
    >>> shard({"age_heldout": list("abcde")}, rank=1, world=2)
    {'age_heldout': ['b', 'd']}

Under ``accelerate launch --num_processes N`` (or torchrun) every rank loads the model on
its own device, answers items ``i`` with ``i % N == rank`` of every set, and sends its rows
to rank 0, which sorts them into exactly the order one process would have produced
(model, set, question variant, item), so the run directory is the same as a single
process's. Band log-likelihoods are computed per item, so they do not depend on the shard;
greedy answers depend only on the prompt and the batch's padding (a length-sorted batch is
the same within a shard up to padding, which greedy decoding with left padding and masks
ignores).
"""
from __future__ import annotations

import os
from typing import Any

__all__ = ["distributed", "gather", "row_order", "shard"]


class Group:
    """This process's place among the launched ones (torch.distributed under the hood)."""

    def __init__(self) -> None:
        import torch
        import torch.distributed as dist

        cuda = torch.cuda.is_available()
        if not dist.is_initialized():
            # NCCL between GPUs, gloo between CPU processes (the launcher set RANK, WORLD_SIZE,
            # MASTER_ADDR and MASTER_PORT)
            dist.init_process_group(backend="nccl" if cuda else "gloo")
        self.process_index = dist.get_rank()
        self.num_processes = dist.get_world_size()
        local = int(os.environ.get("LOCAL_RANK", self.process_index))
        self.device = torch.device(f"cuda:{local}") if cuda else torch.device("cpu")
        if cuda:
            torch.cuda.set_device(self.device)

    def wait_for_everyone(self) -> None:
        import torch.distributed as dist

        dist.barrier()


_GROUP: Group | None = None


def distributed() -> tuple[int, int, Any]:
    """(rank, world size, the process group or None) of this process: one group per process,
    made on first use when a launcher started several (WORLD_SIZE > 1)."""
    global _GROUP
    if int(os.environ.get("WORLD_SIZE", "1") or 1) <= 1:
        return 0, 1, None
    if _GROUP is None:
        _GROUP = Group()
    return _GROUP.process_index, _GROUP.num_processes, _GROUP


def shard(sets: dict[str, list[Any]], *, rank: int, world: int) -> dict[str, list[Any]]:
    """Every set's items ``i`` with ``i % world == rank``."""
    return {name: items[rank::world] for name, items in sets.items()}


def row_order(results: Any, sets: dict[str, list[Any]], train_prompt_template: str) -> Any:
    """The sort key that puts rows in the order one process writes them."""
    from emergence.probe.config import AGE_SETS

    config = results.config
    model_pos = {m: i for i, m in enumerate(results.models)}
    set_pos = {name: i for i, name in enumerate(sets)}
    item_pos = {(name, it.id): i for name, items in sets.items() for i, it in enumerate(items)}
    age_variants = {"bands": -1, **{v: i for i, v in enumerate(config.age_prompts(train_prompt_template))}}
    # membership rows come before a set's extract rows, as intent answers do
    other_variants = {"intent": 0, "membership": 0, "extract": 1}

    def key(row: Any) -> tuple[int, int, int, int]:
        variants = age_variants if row.set in AGE_SETS else other_variants
        return (model_pos[row.model], set_pos[row.set], variants[row.variant], item_pos[(row.set, row.item_id)])

    return key


def gather(results: Any, sets: dict[str, list[Any]], *, world: int, state: Any,
           train_prompt_template: str) -> Any:
    """Rank 0: every rank's rows in single-process order (with exclusions summed, timings the
    slowest rank's); other ranks: None."""
    import torch.distributed as dist

    parts: list[Any] = [None] * world
    dist.all_gather_object(parts, results.model_dump(mode="python"))
    if state.process_index != 0:
        return None
    merged = [type(results).model_validate(p) for p in parts]  # ProbeResults, without importing its module
    rows = [r for p in merged for r in p.rows]
    rows.sort(key=row_order(results, sets, train_prompt_template))
    excluded = {name: sum(p.excluded.get(name, 0) for p in merged) for name in {k for p in merged for k in p.excluded}}
    timings = {k: max(p.timings.get(k, 0.0) for p in merged) for k in {k for p in merged for k in p.timings}}
    return results.model_copy(update={"rows": rows, "excluded": excluded, "timings": timings,
                                      "set_sizes": {name: len(items) for name, items in sets.items()}})
