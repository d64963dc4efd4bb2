"""lm-eval tasks of emergence: ``age_rating``, ``age_rating_mc``, ``author_intent`` (group).

    $ lm_eval --model hf --model_args pretrained=HuggingFaceTB/SmolLM2-135M-Instruct \
        --tasks emergence --include_path "$(python -m emergence.tasks)" --apply_chat_template

The YAML files and ``utils.py`` in this folder are the tasks; this package exists so that
they ship inside the ``emergence`` wheel (as ``emergence.tasks``) and so that
``python -m emergence.tasks`` prints the folder to hand to ``--include_path``.
See README.md here for the tasks, their metrics and ``--metadata '{"eval_dir": ...}'``.
"""
from __future__ import annotations

from pathlib import Path

TASKS_DIR: Path = Path(__file__).resolve().parent
