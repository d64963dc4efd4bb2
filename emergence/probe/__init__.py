"""Probes: the questions (config), generation and band scoring (generate), answer rows (run).

    >>> from emergence.probe import ProbeConfig
    >>> ProbeConfig().band_normalise
    'domain'
"""
from emergence.probe.config import AGE_SETS, INTENT_PROMPT, INTENT_SETS, SEED_AGE_PROMPT, ProbeConfig
from emergence.probe.run import ProbeResults, ProbeRow, run_probes

__all__ = ["AGE_SETS", "INTENT_PROMPT", "INTENT_SETS", "ProbeConfig", "ProbeResults", "ProbeRow",
           "SEED_AGE_PROMPT", "run_probes"]
