"""Corpus records -> chat exchanges -> tokenised examples in a streaming ``IterableDataset``.

    >>> from emergence.train.data import chat_messages
    >>> chat_messages({"title": "The Very Hungry Caterpillar", "content": "A caterpillar eats."}, "{title}")
    [{'role': 'user', 'content': 'The Very Hungry Caterpillar'}, {'role': 'assistant', 'content': 'A caterpillar eats.'}]

Each train-split record becomes one exchange (user: the title in ``prompt_template``;
assistant: the content), rendered with the tokenizer's own chat template and tokenised
here, with ``labels`` set to -100 over the prompt tokens (``loss_on="assistant"``), so
the trainer gets ready ``input_ids``/``labels`` and every backend sees identical data.

:class:`TrainStream` reads the corpus with :func:`emergence.corpus.stream.stream_records` inside a
generator, so the file is never materialised: the first batch is ready after reading
its first few lines, and host memory stays flat for any corpus size. It cycles over the
corpus endlessly (the trainer stops at ``max_steps``) and remembers, for each example
it yields, where in the stream it came from, so a checkpoint can record the exact resume
point (:class:`DataState`) and a resumed run skips what was consumed
without re-reading it: JSON Lines seek to the byte offset of the next line, a gzip
corpus enters at an access point of the index built during the first pass and saved
with each checkpoint (:class:`emergence.corpus.gzindex.GzipIndex`), anything else skips
``stream_records(skip=N)``. Held-out records
(``split_of(...) != "train"``) are filtered here and never reach training. A worker
thread reads and tokenises up to ``prefetch`` examples ahead, so that work overlaps
the training step.
"""
from __future__ import annotations

import collections
import logging
import threading
from pathlib import Path
from typing import Any, Iterator, Mapping

from pydantic import BaseModel, Field

__all__ = [
    "DataState",
    "EmptyTrainSplitError",
    "TrainStream",
    "chat_messages",
    "encode_example",
    "first_train_record",
    "heldout_examples",
    "render_chat",
]

log = logging.getLogger(__name__)

IGNORE_INDEX = -100
# Positions kept for examples already yielded: the trainer and its data loader read at
# most a few batches ahead of the optimiser step (accumulation steps + 2 batches), far
# fewer than this. Each is a 6-tuple, so the window costs about 3 MB.
_POSITIONS_KEPT = 16384


class EmptyTrainSplitError(ValueError):
    """The corpus yields no training example with the given filters."""


class DataState(BaseModel):
    """Where a shard's training stream stands: enough to resume it exactly."""

    rank: int = Field(0, description="Shard index (the DDP rank).")
    world: int = Field(1, description="Number of shards (the DDP world size).")
    pass_index: int = Field(0, description="How many full passes over the corpus preceded this one.")
    stream_skip: int = Field(
        0,
        description="Input records stream_records has read in this pass so far (its stats.read, "
        "across shards): a resumed pass starts with skip=this.",
    )
    train_taken: int = Field(0, description="Train-split records taken in this pass so far (for max_records).")
    examples: int = Field(0, description="Examples yielded by this shard since the run began.")
    line: int = Field(0, description="Lines of the corpus passed at stream_skip (blank ones included).")
    offset: int | None = Field(
        None, description="Byte offset (of the decompressed stream) of the line after the last consumed "
        "record: a resumed pass starts reading there. None: it skips stream_skip records instead.")
    gzip_index: str | None = Field(
        None, description="The gzip access-point index saved with this state (a file name in the checkpoint "
        "folder; a path once read back); None for a plain corpus or when none could be built.")


def _field(record: Any, name: str) -> Any:
    return record[name] if isinstance(record, Mapping) else getattr(record, name)


def chat_messages(record: Any, prompt_template: str) -> list[dict[str, str]]:
    """The exchange for one record: user = the title in the template, assistant = the content."""
    return [
        {"role": "user", "content": prompt_template.format(title=_field(record, "title"))},
        {"role": "assistant", "content": _field(record, "content")},
    ]


def render_chat(tokenizer: Any, messages: list[dict[str, str]]) -> tuple[str, str]:
    """(prompt text with the generation prompt, full conversation text), by the tokenizer's template."""
    prompt = tokenizer.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    return prompt, full


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def encode_example(
    tokenizer: Any,
    messages: list[dict[str, str]],
    *,
    max_seq_length: int,
    loss_on: str = "assistant",
) -> dict[str, list[int]] | None:
    """``{"input_ids", "labels"}`` for one exchange, or None when no token would carry loss.

    The prompt is everything the template renders before the assistant's content (its
    generation prompt included); with ``loss_on="assistant"`` its tokens get label -100.
    Where the tokenised prompt is not a prefix of the tokenised conversation (a merge
    across the boundary), the completion starts where they diverge. Long examples keep
    their start (the prompt) and lose the end of the content.
    """
    prompt_text, full_text = render_chat(tokenizer, messages)
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    input_ids = tokenizer(full_text, add_special_tokens=False)["input_ids"]
    if loss_on == "assistant":
        n_prompt = _common_prefix(prompt_ids, input_ids)
        labels = [IGNORE_INDEX] * n_prompt + input_ids[n_prompt:]
    elif loss_on == "all":
        labels = list(input_ids)
    else:
        raise ValueError(f"loss_on must be 'assistant' or 'all', got {loss_on!r}")
    input_ids, labels = input_ids[:max_seq_length], labels[:max_seq_length]
    if all(label == IGNORE_INDEX for label in labels):
        return None
    return {"input_ids": input_ids, "labels": labels}


def _stream(corpus: str | Path, *, drop_empty: bool, shard: tuple[int, int] | None = None, skip: int = 0,
            policy: str = "skip", **resume: Any):
    from emergence.corpus.stream import stream_records

    return stream_records(corpus, drop_empty=drop_empty, shard=shard, skip=skip, policy=policy, **resume)


def _gzip_index(corpus: str | Path, saved: str | None) -> Any:
    """The GzipIndex of a gzip corpus (read from ``saved`` when it can be), else None."""
    from emergence.corpus.gzindex import GzipIndex, IndexUnavailable, is_gzip

    if not is_gzip(corpus):
        return None
    if saved is not None:
        try:
            return GzipIndex(corpus, saved=saved)
        except IndexUnavailable as err:
            log.warning("the saved gzip index is not used (%s): it is built again", err)
    try:
        return GzipIndex(corpus)
    except IndexUnavailable as err:
        log.warning("no gzip index (%s): a resumed run re-reads the corpus up to its position", err)
        return None


def _rule(*, drop_empty: bool, held_out: float, salt: str) -> Any:
    # which records training consumes is emergence.evalsets' rule, asked here
    from emergence.evalsets import TrainingConsumption

    return TrainingConsumption(held_out=held_out, salt=salt, drop_empty=drop_empty)


def first_train_record(corpus: str | Path, *, drop_empty: bool, held_out: float, salt: str,
                       policy: str = "skip") -> Any | None:
    """The first trainable record of the corpus, or None (reads only up to it)."""
    rule = _rule(drop_empty=drop_empty, held_out=held_out, salt=salt)
    with _stream(corpus, drop_empty=drop_empty, policy=policy) as records:
        for record in records:
            if rule.trainable(record):
                return record
    return None


def heldout_examples(
    corpus: str | Path,
    tokenizer: Any,
    *,
    n: int,
    prompt_template: str,
    max_seq_length: int,
    loss_on: str,
    drop_empty: bool,
    held_out: float,
    salt: str,
    policy: str = "skip",
    exposure: Any = None,
) -> list[dict[str, list[int]]]:
    """The fixed held-out sample: the first ``n`` held-out records in stream order, encoded."""
    out: list[dict[str, list[int]]] = []
    if n <= 0:
        return out
    rule = _rule(drop_empty=drop_empty, held_out=held_out, salt=salt)
    with _stream(corpus, drop_empty=drop_empty, policy=policy) as records:
        for record in records:
            if rule.in_train_split(record):
                continue
            text = exposure.training_text(record) if exposure is not None else record
            example = encode_example(
                tokenizer, chat_messages(text, prompt_template), max_seq_length=max_seq_length, loss_on=loss_on
            )
            if example is not None:
                out.append(example)
                if len(out) >= n:
                    break
    return out


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_DONE = object()


def _prefetch(items: Iterator[Any], size: int) -> Iterator[Any]:
    """Yield ``items`` in order while a thread produces up to ``size`` of them ahead.

    Reading, rendering and tokenising the next examples then overlaps the training step
    (the tokenizer releases the GIL); the bounded queue keeps memory flat. The producer
    generator is advanced and closed only in the worker thread; closing this generator
    stops it.
    """
    import queue

    from emergence.handoff import put_unless_stopped

    if size <= 0:
        yield from items
        return
    q: queue.Queue[Any] = queue.Queue(maxsize=size)
    stop = threading.Event()

    def put(item: Any) -> bool:
        return put_unless_stopped(q, item, stop)

    def work() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(_Failure(exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=work, name="emergence-train-data", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        stop.set()


class TrainStream:
    """The endless, resumable stream of training examples for one run (one shard per rank)."""

    def __init__(
        self,
        corpus: str | Path,
        tokenizer: Any,
        *,
        prompt_template: str = "{title}",
        max_seq_length: int = 2048,
        loss_on: str = "assistant",
        drop_empty: bool = True,
        held_out: float = 0.1,
        salt: str = "emergence",
        policy: str = "skip",
        exposure: Any = None,
        max_records: int | None = None,
        world: int = 1,
        start: Mapping[int, DataState] | None = None,
        prefetch: int = 64,
    ) -> None:
        self.corpus = corpus
        self.tokenizer = tokenizer
        self.prompt_template = prompt_template
        self.max_seq_length = max_seq_length
        self.loss_on = loss_on
        self.drop_empty = drop_empty
        self.held_out = held_out
        self.salt = salt
        self.policy = policy
        # what training sees of each record (emergence.exposure: age cues masked, or kept)
        self.exposure = exposure
        self.max_records = max_records
        self.world = world
        self.prefetch = prefetch
        # rank -> where that shard resumes; a fresh run starts every shard at zero
        self.start = {r: DataState(rank=r, world=world) for r in range(world)}
        for rank, state in (start or {}).items():
            if state.world != world:
                raise ValueError(
                    f"the checkpoint's data stream was split over {state.world} processes, this run "
                    f"has {world}: resume with the same number of processes"
                )
            self.start[rank] = state
        self.dropped = 0  # train records whose example carried no loss token (prompt too long)
        self._lock = threading.Lock()
        # rank -> {example index of this iteration: (pass, stream_skip, line, offset, train_taken, examples)}
        self._positions: dict[int, collections.OrderedDict[int, tuple]] = {}
        self._indexes: dict[int, Any] = {}  # rank -> the GzipIndex of a gzip corpus

    # -- the generator behind the dataset --------------------------------------------------
    def _produce(self, rank: int, world: int) -> Iterator[tuple[dict[str, list[int]], tuple]]:
        """(example, position) for shard ``rank``, endlessly, from its start state on."""
        from emergence.corpus.stream import StreamPosition

        rule = _rule(drop_empty=self.drop_empty, held_out=self.held_out, salt=self.salt)
        state = self.start[rank]
        pass_index, skip, taken, examples = state.pass_index, state.stream_skip, state.train_taken, state.examples
        shard = (rank, world) if world > 1 else None
        if rank not in self._indexes:
            self._indexes[rank] = _gzip_index(self.corpus, state.gzip_index)
        index = self._indexes[rank]
        resume = StreamPosition(skip, state.line, state.offset) if skip and state.offset is not None else None
        while True:
            yielded_in_pass = 0
            with _stream(self.corpus, drop_empty=self.drop_empty, shard=shard, skip=0 if resume else skip,
                         policy=self.policy, positions=True, resume=resume, gzip_index=index) as records:
                for record in records:
                    if not rule.trainable(record):
                        continue
                    if self.max_records is not None and taken >= self.max_records:
                        break
                    taken += 1
                    text = self.exposure.training_text(record) if self.exposure is not None else record
                    example = encode_example(
                        self.tokenizer,
                        chat_messages(text, self.prompt_template),
                        max_seq_length=self.max_seq_length,
                        loss_on=self.loss_on,
                    )
                    if example is None:
                        self.dropped += 1
                        continue
                    examples += 1
                    yielded_in_pass += 1
                    # position().read counts every input record up to this one (skipped, other
                    # shards', empty ones too): exactly what skip= expects back; its offset is
                    # where the next line starts
                    yield example, (pass_index, *records.position(), taken, examples)
            if yielded_in_pass == 0 and skip == 0:
                raise EmptyTrainSplitError(
                    f"no training example in {self.corpus} (shard {rank}/{world}): every record is "
                    "held out, empty or too long for max_seq_length"
                )
            pass_index, skip, taken, resume = pass_index + 1, 0, 0, None

    def _examples(self, shards: list[tuple[int, int]]) -> Iterator[dict[str, list[int]]]:
        for rank, world in shards:
            positions: collections.OrderedDict[int, tuple] = collections.OrderedDict()
            with self._lock:  # the newest iteration of a shard is the one the trainer consumes
                self._positions[rank] = positions
                self.dropped = 0
            for produced, (example, position) in enumerate(_prefetch(self._produce(rank, world), self.prefetch)):
                positions[produced] = position
                if len(positions) > _POSITIONS_KEPT:
                    positions.popitem(last=False)
                yield example

    def dataset(self) -> Any:
        """A ``datasets.IterableDataset`` of ``{"input_ids", "labels"}``, one shard per rank.

        It has ``world`` shards (``gen_kwargs`` lists one ``(rank, world)`` per shard), so
        under DDP accelerate hands rank r the shard ``(r, world)``:
        ``stream_records(shard=(r, world))``.
        """
        import datasets

        features = datasets.Features(
            {
                "input_ids": datasets.Sequence(datasets.Value("int32")),
                "labels": datasets.Sequence(datasets.Value("int64")),
            }
        )
        shards = [(r, self.world) for r in range(self.world)]
        return datasets.IterableDataset.from_generator(
            self._examples, features=features, gen_kwargs={"shards": shards}
        )

    def state_after(self, rank: int, consumed: int, folder: Path | None = None) -> DataState:
        """Where shard ``rank`` resumes once this session's first ``consumed`` examples are trained on;
        with ``folder`` (the checkpoint's), a gzip corpus's index is saved there with it."""
        if consumed == 0:
            return self._saved_index(rank, self.start[rank], folder)
        with self._lock:
            positions = self._positions.get(rank)
            position = positions.get(consumed - 1) if positions is not None else None
        if position is None:
            raise RuntimeError(
                f"the data position of example {consumed} of shard {rank} is not known "
                "(not yet produced or too far back)"
            )
        pass_index, stream_skip, line, offset, train_taken, examples = position
        state = DataState(
            rank=rank, world=self.world, pass_index=pass_index, stream_skip=stream_skip,
            train_taken=train_taken, examples=examples, line=line, offset=offset,
        )
        return self._saved_index(rank, state, folder)

    def _saved_index(self, rank: int, state: DataState, folder: Path | None) -> DataState:
        """``state`` with the gzip index of shard ``rank`` saved into ``folder`` (when there is one)."""
        from emergence.corpus.gzindex import IndexUnavailable

        index = self._indexes.get(rank)
        if folder is None or index is None:
            return state.model_copy(update={"gzip_index": None})
        name = f"gzip_index-rank{rank}-of-{self.world}.gzidx"
        try:
            index.save(Path(folder) / name, upto=state.offset)
        except IndexUnavailable as err:
            log.warning("the gzip index is not saved (%s): a resume re-reads the corpus up to its position", err)
            return state.model_copy(update={"gzip_index": None})
        return state.model_copy(update={"gzip_index": name})
