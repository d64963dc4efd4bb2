"""``python -m emergence.tasks`` prints this folder, for ``lm_eval --include_path``.

    $ lm_eval --tasks age_rating --include_path "$(python -m emergence.tasks)" ...
"""
from emergence.tasks import TASKS_DIR

print(TASKS_DIR)
