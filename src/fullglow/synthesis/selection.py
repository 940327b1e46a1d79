"""Choosing which of `k` synthesized candidates of a label to keep, by a recorded score.

Rules (`SELECTION_RULES`):

- `all`: keep every candidate (the score is not used);
- `likelihood`: the candidates with the highest `log p(x | label)`, i.e. the lowest conditional
  bits per dimension (flows only);
- `agreement`: the candidates on which a judge segmenter best recovers the label, scored by the
  mean IoU of the judge's prediction on the candidate against the label.

A diverged candidate (non-finite values) has no score and is never kept. Ties go to the earlier
candidate, so the choice is a pure function of the scores.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from fullglow.errors import UserInputError

SELECTION_RULES = ("all", "likelihood", "agreement")


def check_selection(
    select: str, per_label: int, keep: int, has_likelihood: bool, judge: bool
) -> None:
    """Raise `UserInputError` for a rule, count or judge that does not fit (one line each)."""
    if select not in SELECTION_RULES:
        raise UserInputError(
            f"--select must be one of {', '.join(SELECTION_RULES)}, got {select!r}"
        )
    if per_label < 1:
        raise UserInputError(f"--per-label must be >= 1, got {per_label}")
    if not 1 <= keep <= per_label:
        raise UserInputError(f"--keep must be between 1 and --per-label ({per_label}), got {keep}")
    if select == "all" and keep != per_label:
        raise UserInputError(
            f"--select all keeps every candidate: --keep ({keep}) must equal --per-label "
            f"({per_label}), or choose --select likelihood or agreement"
        )
    if select == "likelihood" and not has_likelihood:
        raise UserInputError(
            "--select likelihood needs a flow: this model (pix2pix) has no likelihood; "
            "use --select agreement with --judge SEG"
        )
    if select == "agreement" and not judge:
        raise UserInputError("--select agreement needs a judge segmenter: pass --judge SEG")


def select_top(scores: Sequence[float | None], keep: int) -> list[bool]:
    """Which of the candidates to keep: the `keep` highest scores (None or NaN never kept).

    Returns one flag per candidate; fewer than `keep` are set only when fewer candidates have a
    score. Equal scores keep the earlier candidate.
    """
    valid = [(i, s) for i, s in enumerate(scores) if s is not None and not math.isnan(float(s))]
    ranked = sorted(valid, key=lambda item: (-float(item[1]), item[0]))
    chosen = {i for i, _ in ranked[:keep]}
    return [i in chosen for i in range(len(scores))]


def rule_score(select: str, bits_per_dim: float | None, agreement: float | None) -> float | None:
    """The score `select` ranks by (higher is better): `-bpd`, the agreement, or 0 for `all`."""
    if select == "likelihood":
        return None if bits_per_dim is None else -bits_per_dim
    if select == "agreement":
        return agreement
    return 0.0
