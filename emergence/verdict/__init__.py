"""From probe answers to verdicts: hypotheses, the decision rule, routing rows to effects, controls."""
