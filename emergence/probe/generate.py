"""Generation and generation-free scoring: batched greedy answers, band log-likelihoods, extraction.

    >>> from emergence.probe.config import ProbeConfig
    >>> from emergence.probe.generate import generate
    >>> from emergence.models import build_tiny_model, load_model_and_tokenizer
    >>> import tempfile
    >>> model, tok = load_model_and_tokenizer(build_tiny_model("llama", tempfile.mkdtemp()))
    >>> answers = generate(model, tok, ["what is the minimum recommended age for reading "
    ...                                 "Goodnight Bunny and why?"], ProbeConfig(max_new_tokens_age=8))
    >>> len(answers) == 1 and isinstance(answers[0], str)
    True

Prompts are chat-templated user turns; batches are length-sorted and left-padded, each
answer cut at its first eos. Band log-likelihoods share one prefill of the question
between every band's answer text. torch and transformers are imported inside the functions.
"""
from __future__ import annotations

from typing import Any, Sequence

from emergence.probe.config import ProbeConfig

__all__ = ["band_choices", "band_loglikelihoods", "band_token_counts", "encode", "extract_continuations", "generate",
           "generate_tokens", "generation_config", "render"]


def render(tokenizer: Any, prompt: str) -> str:
    """The chat-templated text of one user turn, ending where the assistant would speak."""
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False)


def encode(tokenizer: Any, text: str) -> list[int]:
    # The chat template already writes bos (where the model wants one): add nothing more.
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    ids: set[int] = set()
    gen_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for value in (gen_eos, tokenizer.eos_token_id):
        if value is None:
            continue
        ids.update(value if isinstance(value, (list, tuple)) else [value])
    return sorted(ids)


def generation_config(model: Any, tokenizer: Any, max_new_tokens: int, config: ProbeConfig,
                       *, greedy: bool = False) -> Any:
    """A fresh GenerationConfig: the model's own may carry sampling defaults we must not use."""
    from transformers import GenerationConfig

    sample = config.do_sample and not greedy
    kwargs: dict[str, Any] = dict(
        max_new_tokens=max_new_tokens,
        do_sample=sample,
        eos_token_id=_eos_ids(model, tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )
    if config.min_new_tokens:
        kwargs["min_new_tokens"] = min(config.min_new_tokens, max_new_tokens)
    if sample:
        kwargs.update(temperature=config.temperature, top_p=config.top_p, top_k=0)
    return GenerationConfig(**kwargs)


def _device_of(model: Any) -> Any:
    return next(model.parameters()).device



def _generate_ids(model: Any, tokenizer: Any, contexts: Sequence[list[int]],
                  gen_config: Any, batch_size: int, *, seed: int | None = None,
                  on_batch: Any = None) -> list[list[int]]:
    """Greedy/sampled continuations of token-id contexts, batched with left padding.

    Contexts are sorted by length so each batch pads little; results come back in input
    order, each cut at its first eos (eos itself dropped).
    """
    import torch

    if seed is not None:
        torch.manual_seed(seed)
    device = _device_of(model)
    pad = tokenizer.pad_token_id
    eos = set(gen_config.eos_token_id or [])
    order = sorted(range(len(contexts)), key=lambda i: (len(contexts[i]), i))
    out: list[list[int]] = [[] for _ in contexts]
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            width = max(len(contexts[i]) for i in idx)
            ids = torch.full((len(idx), width), pad, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for row, i in enumerate(idx):
                ctx = contexts[i]
                ids[row, width - len(ctx):] = torch.tensor(ctx, dtype=torch.long)
                mask[row, width - len(ctx):] = 1
            generated = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device),
                                       generation_config=gen_config)
            for row, i in enumerate(idx):
                new = generated[row, width:].tolist()
                cut = next((j for j, t in enumerate(new) if t in eos), len(new))
                out[i] = new[:cut]
            if on_batch is not None:
                on_batch(len(idx))
    return out


def generate_tokens(model: Any, tokenizer: Any, prompts: Sequence[str],
                    config: ProbeConfig | None = None, *, max_new_tokens: int | None = None,
                    on_batch: Any = None) -> list[list[int]]:
    """The new token ids answering each user prompt (see :func:`generate`), eos cut off."""
    config = config or ProbeConfig()
    cap = max_new_tokens or config.max_new_tokens_age
    contexts = [encode(tokenizer, render(tokenizer, p)) for p in prompts]
    gen_config = generation_config(model, tokenizer, cap, config)
    return _generate_ids(model, tokenizer, contexts, gen_config, config.batch_size,
                         seed=config.seed if config.do_sample else None, on_batch=on_batch)


def generate(model: Any, tokenizer: Any, prompts: Sequence[str], config: ProbeConfig | None = None,
             *, max_new_tokens: int | None = None, on_batch: Any = None) -> list[str]:
    """Answer each user prompt: chat template applied, batched with left padding.

    Decodes only the new tokens, stopping on eos; greedy unless ``config.do_sample``.
    ``max_new_tokens`` defaults to ``config.max_new_tokens_age``.
    """
    ids = generate_tokens(model, tokenizer, prompts, config, max_new_tokens=max_new_tokens,
                          on_batch=on_batch)
    return [tokenizer.decode(x, skip_special_tokens=True).strip() for x in ids]


def band_choices(config: ProbeConfig | None = None) -> dict[str, str]:
    """Band name -> the answer text scored for it, in AGE_BANDS order ('3-5' -> 'Ages 3-5')."""
    from emergence.agecues import AGE_BANDS

    template = (config or ProbeConfig()).band_choice_template
    return {name: template.format(band=name) for name, *_ in AGE_BANDS}


def band_loglikelihoods(model: Any, tokenizer: Any, prompts: Sequence[str], choices: Sequence[str], *,
                        batch_size: int = 16) -> list[list[float]]:
    """Summed log-probability of each choice text as the answer to each chat-templated prompt.

    Returns ``[prompt][choice]``; no generation is involved. Prompts go ``batch_size`` at a
    time: one left-padded prefill of the batch's prompts, whose key/value cache is then
    repeated for every choice (the choices are a few tokens, the templated prompt ~50), so
    each prompt is encoded once and every choice scored from its cache. Choices are
    right-padded, with explicit positions that continue each prompt's own length, so every
    real token sees exactly the context it would unpadded (a test checks the sums against
    scoring ``prompt + choice`` directly, and batched against one prompt at a time).
    """
    import torch

    device = _device_of(model)
    choice_ids = [encode(tokenizer, c) for c in choices]
    n, width = len(choice_ids), max(len(c) for c in choice_ids)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    cont = torch.full((n, width), pad, dtype=torch.long)
    cont_mask = torch.zeros((n, width), dtype=torch.long)
    for row, ids in enumerate(choice_ids):
        cont[row, :len(ids)] = torch.tensor(ids, dtype=torch.long)
        cont_mask[row, :len(ids)] = 1
    firsts = torch.tensor([ids[0] for ids in choice_ids], device=device)
    # targets of choice tokens 1.. (padded with 0, masked out by `valid`)
    targets = torch.zeros((n, max(width - 1, 1)), dtype=torch.long)
    valid = torch.zeros((n, max(width - 1, 1)), dtype=torch.bool)
    for row, ids in enumerate(choice_ids):
        if len(ids) > 1:
            targets[row, :len(ids) - 1] = torch.tensor(ids[1:], dtype=torch.long)
            valid[row, :len(ids) - 1] = True
    cont, cont_mask, targets, valid = cont.to(device), cont_mask.to(device), targets.to(device), valid.to(device)
    encoded = [encode(tokenizer, render(tokenizer, p)) for p in prompts]
    out: list[list[float]] = [[] for _ in prompts]
    # length-sorted batches pad little; results go back in input order
    order = sorted(range(len(encoded)), key=lambda i: (len(encoded[i]), i))
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            b, length = len(idx), max(len(encoded[i]) for i in idx)
            ids = torch.full((b, length), pad, dtype=torch.long)
            mask = torch.zeros((b, length), dtype=torch.long)
            for row, i in enumerate(idx):
                ctx = encoded[i]
                ids[row, length - len(ctx):] = torch.tensor(ctx, dtype=torch.long)
                mask[row, length - len(ctx):] = 1
            ids, mask = ids.to(device), mask.to(device)
            # only the last position's logits are read: the vocabulary projection of the rest is skipped
            first = model(input_ids=ids, attention_mask=mask, position_ids=(mask.cumsum(-1) - 1).clamp(min=0),
                          use_cache=True, logits_to_keep=1)
            # the first choice token is predicted by each prompt's last position
            head = torch.log_softmax(first.logits[:, -1].float(), dim=-1)[:, firsts]  # [b, n]
            past = first.past_key_values
            past.batch_repeat_interleave(n)
            full_mask = torch.cat([mask.repeat_interleave(n, 0), cont_mask.repeat(b, 1)], dim=1)
            lengths = mask.sum(-1).repeat_interleave(n)  # each prompt's own length
            positions = lengths[:, None] + torch.arange(width, device=device)[None, :]
            logits = model(input_ids=cont.repeat(b, 1), attention_mask=full_mask, position_ids=positions,
                           past_key_values=past, use_cache=True).logits
            logprobs = torch.log_softmax(logits[:, :max(width - 1, 1)].float(), dim=-1)
            # token t of a choice is predicted by the logits at t - 1
            rest = logprobs.gather(2, targets.repeat(b, 1)[:, :, None])[:, :, 0]
            rest = (rest * valid.repeat(b, 1)).sum(-1).view(b, n)
            scores = (head + rest).tolist()
            for row, i in enumerate(idx):
                out[i] = [float(x) for x in scores[row]]
    return out


def band_token_counts(tokenizer: Any, choices: Sequence[str]) -> list[int]:
    """Tokens of each choice text, as band_loglikelihoods scores them."""
    return [len(encode(tokenizer, c)) for c in choices]


def extract_continuations(model: Any, tokenizer: Any, titles: Sequence[str],
                          contents: Sequence[str], config: ProbeConfig | None = None, *,
                          train_prompt_template: str = "{title}",
                          ) -> list[tuple[list[int], list[int], list[int]] | None]:
    """k-extractable inputs and outputs: ``(prefix ids, generated ids, true next ids)`` per item.

    The context is the training exchange (the title in ``train_prompt_template``, then
    the first ``k`` tokens of the content as the assistant's turn); the model decodes
    ``extract_tokens`` tokens greedily. Items whose content is shorter than
    ``k + extract_tokens`` tokens give None (excluded, and counted by the caller).
    """
    config = config or ProbeConfig()
    k, m = config.k, config.extract_tokens
    contexts: list[list[int]] = []
    truths: list[list[int]] = []
    where: list[int] = []
    for i, (title, content) in enumerate(zip(titles, contents)):
        content_ids = encode(tokenizer, content)
        if len(content_ids) < k + m:
            continue
        prompt = encode(tokenizer, render(tokenizer, train_prompt_template.format(title=title)))
        contexts.append(prompt + content_ids[:k])
        truths.append(content_ids[k:k + m])
        where.append(i)
    gen_config = generation_config(model, tokenizer, m, config, greedy=True)
    generated = _generate_ids(model, tokenizer, contexts, gen_config, config.batch_size)
    out: list[tuple[list[int], list[int], list[int]] | None] = [None] * len(titles)
    for i, ctx, gen, truth in zip(where, contexts, generated, truths):
        out[i] = (ctx[len(ctx) - k:], gen, truth)
    return out

