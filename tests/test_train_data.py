"""emergence.train.data: chat rendering, the prompt mask, the streamed split, resume points, shards."""
from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path

import pytest

from emergence.models import SMOLLM2_CHAT_TEMPLATE, build_tiny_tokenizer
from emergence.corpus.records import LoadError
from emergence.corpus.split import split_of
from emergence.corpus.stream import stream_records
from emergence.train.data import (
    IGNORE_INDEX,
    EmptyTrainSplitError,
    TrainStream,
    chat_messages,
    encode_example,
    heldout_examples,
)

WORDS = "the book is about a family a journey a war and the history of a small town".split()


@pytest.fixture(scope="module")
def tokenizer():
    return build_tiny_tokenizer()


def write_corpus(path: Path, n: int, *, empty_every: int = 0) -> Path:
    """JSON Lines with unique uids/titles; every ``empty_every``-th content is empty."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as f:
        for i in range(n):
            empty = empty_every and i % empty_every == 0
            content = "" if empty else " ".join(WORDS[(i + j) % len(WORDS)] for j in range(8 + i % 5))
            f.write(json.dumps({"uid": f"u{i:06d}", "title": f"Title number {i}", "content": content}) + "\n")
    return path


def records_of(path: Path, split: str, *, drop_empty: bool = True, held_out: float = 0.1):
    return [r for r in stream_records(path, drop_empty=drop_empty) if split_of(r, held_out=held_out) == split]


def stream_for(corpus, tokenizer, **kw) -> TrainStream:
    kw.setdefault("max_seq_length", 256)
    return TrainStream(corpus, tokenizer, **kw)


def test_chat_messages_use_the_template_and_only_title_and_content():
    record = {"title": "A Book", "content": "Its text.", "true_min_age": 7, "category": "x"}
    assert chat_messages(record, "What age is {title} for?") == [
        {"role": "user", "content": "What age is A Book for?"},
        {"role": "assistant", "content": "Its text."},
    ]


@pytest.mark.parametrize("template", [None, SMOLLM2_CHAT_TEMPLATE], ids=["phi3-style", "chatml"])
def test_labels_mask_exactly_the_prompt_tokens(tokenizer, template):
    if template is not None:
        tokenizer = build_tiny_tokenizer()
        tokenizer.chat_template = template
    messages = chat_messages({"title": "The Very Hungry Caterpillar", "content": "A caterpillar eats."}, "{title}")
    example = encode_example(tokenizer, messages, max_seq_length=512)
    # the prompt as the model sees it at inference: the user turn and the generation prompt
    prompt_text = tokenizer.apply_chat_template(messages[:1], tokenize=False, add_generation_prompt=True)
    n_prompt = len(tokenizer(prompt_text, add_special_tokens=False)["input_ids"])
    ids, labels = example["input_ids"], example["labels"]
    assert len(ids) == len(labels) > n_prompt
    assert labels[:n_prompt] == [IGNORE_INDEX] * n_prompt
    assert labels[n_prompt:] == ids[n_prompt:]
    completion = tokenizer.decode(ids[n_prompt:])
    end = "<|end|>\n" if template is None else "<|im_end|>\n"
    assert completion == "A caterpillar eats." + end


def test_loss_on_all_and_truncation(tokenizer):
    messages = chat_messages({"title": "T", "content": " ".join(WORDS * 10)}, "{title}")
    full = encode_example(tokenizer, messages, max_seq_length=10_000, loss_on="all")
    assert full["labels"] == full["input_ids"]
    short = encode_example(tokenizer, messages, max_seq_length=40)
    assert short["input_ids"] == full["input_ids"][:40]  # the start (prompt) is kept
    assert any(label != IGNORE_INDEX for label in short["labels"])
    # a prompt longer than the budget leaves no token to learn from: no example
    assert encode_example(tokenizer, messages, max_seq_length=3) is None


def test_heldout_never_reaches_training(tmp_path, tokenizer):
    corpus = write_corpus(tmp_path / "c.jsonl", 300, empty_every=7)
    train_recs = records_of(corpus, "train")
    held = records_of(corpus, "held_out")
    assert len(held) > 10 and len(train_recs) > 200
    stream = stream_for(corpus, tokenizer)
    examples = list(itertools.islice(iter(stream.dataset()), 2 * len(train_recs) + 5))
    decoded = [tokenizer.decode(e["input_ids"]) for e in examples]
    # one pass is every train record once, in stream order; then it starts over
    expected = [f"<|user|>\n{r.title}<|end|>" for r in train_recs]
    assert [d.split("\n<|assistant|>")[0].removeprefix("<s>") for d in decoded[: len(train_recs)]] == expected
    assert decoded[: len(train_recs)] == decoded[len(train_recs): 2 * len(train_recs)]
    trained_titles = {d.split("<|user|>\n", 1)[1].split("<|end|>")[0] for d in decoded}
    assert trained_titles.isdisjoint({r.title for r in held})


def test_drop_empty_false_keeps_empty_contents(tmp_path, tokenizer):
    corpus = write_corpus(tmp_path / "c.jsonl", 50, empty_every=5)
    n_keep = len(records_of(corpus, "train", drop_empty=False))
    n_drop = len(records_of(corpus, "train", drop_empty=True))
    assert n_keep > n_drop
    ds = stream_for(corpus, tokenizer, drop_empty=False).dataset()
    first_pass = list(itertools.islice(iter(ds), n_keep))
    assert sum(tokenizer.decode(e["input_ids"]).endswith("<|assistant|>\n<|end|>\n") for e in first_pass) == n_keep - n_drop


def test_resume_point_continues_the_same_sequence(tmp_path, tokenizer):
    corpus = write_corpus(tmp_path / "c.jsonl", 120, empty_every=4)
    n_train = len(records_of(corpus, "train"))
    for kw in ({}, {"max_records": 17}):
        stream = stream_for(corpus, tokenizer, **kw)
        reference = list(itertools.islice(iter(stream.dataset()), 3 * n_train))
        for cut in (1, 5, n_train - 1, n_train, n_train + 3, 2 * n_train + 1):
            state = stream.state_after(0, cut)
            resumed = stream_for(corpus, tokenizer, start={0: state}, **kw)
            again = list(itertools.islice(iter(resumed.dataset()), 10))
            assert again == reference[cut: cut + 10], (kw, cut, state)
    # the resume point really skips: it is past the first records of the file
    assert stream_for(corpus, tokenizer).state_after(0, 0).stream_skip == 0
    state = stream.state_after(0, 5)
    assert state.stream_skip > 5 and state.pass_index == 0 and state.train_taken == 5


def test_shards_split_the_stream_by_rank(tmp_path, tokenizer):
    corpus = write_corpus(tmp_path / "c.jsonl", 200)
    ds = stream_for(corpus, tokenizer, world=2).dataset()
    assert ds.n_shards == 2
    per_rank = []
    for rank in range(2):
        # what accelerate does under DDP: rank r iterates shard r of the dataset
        shard = ds.shard(num_shards=2, index=rank)
        titles = [
            r.title for r in stream_records(corpus, drop_empty=True, shard=(rank, 2)) if split_of(r) == "train"
        ]
        got = [tokenizer.decode(e["input_ids"]) for e in itertools.islice(iter(shard), len(titles))]
        assert [g.split("<|user|>\n", 1)[1].split("<|end|>")[0] for g in got] == titles
        per_rank.append(set(titles))
    assert per_rank[0].isdisjoint(per_rank[1])
    assert per_rank[0] | per_rank[1] == {r.title for r in records_of(corpus, "train")}


def test_stream_is_lazy_a_corrupt_tail_is_never_reached(tmp_path, tokenizer):
    corpus = write_corpus(tmp_path / "c.jsonl.gz", 20_000)
    data = corpus.read_bytes()
    corpus.write_bytes(data[: len(data) // 2])  # a truncated gzip fails only when read to the end
    with pytest.raises(LoadError):
        for _ in stream_records(corpus):
            pass
    first = list(itertools.islice(iter(stream_for(corpus, tokenizer).dataset()), 50))
    assert len(first) == 50


def test_empty_train_split_raises(tmp_path, tokenizer):
    corpus = write_corpus(tmp_path / "c.jsonl", 30, empty_every=1)  # every content empty
    with pytest.raises(EmptyTrainSplitError, match="no training example"):
        next(iter(stream_for(corpus, tokenizer).dataset()))


def test_heldout_sample_is_fixed_and_held_out(tmp_path, tokenizer):
    corpus = write_corpus(tmp_path / "c.jsonl", 300)
    kw = dict(prompt_template="{title}", max_seq_length=256, loss_on="assistant", drop_empty=True,
              held_out=0.1, salt="emergence")
    sample = heldout_examples(corpus, tokenizer, n=8, **kw)
    assert sample == heldout_examples(corpus, tokenizer, n=8, **kw)
    titles = [tokenizer.decode(e["input_ids"]).split("<|user|>\n", 1)[1].split("<|end|>")[0] for e in sample]
    assert titles == [r.title for r in records_of(corpus, "held_out")[:8]]
