"""How one call of the study spends its `--minutes`.

Up front, `generator_share * minutes` trains the generators, `g` of them trained here, equal time
each: `t_gen = generator_share * minutes / g` (the training stops at its time budget, with a
checkpoint). The rest, `(1 - generator_share) * minutes`, is for the data, the segmenters and the
synthesis, whose cost is not set but estimated from measured speed once the segmenters on R and
the untrained control's synthesis ran (both before any generator trains):

    rest ~ n_segmenters_left * t_segmenter + n_candidates_left * t_candidate

and logged with a warning when it overruns its share (the study then takes longer than
`--minutes`; fewer `--segmenter-steps` or candidates shorten it). A generator never gets a token
budget silently: below `MIN_GENERATOR_MINUTES` each, the plan warns, and results and report say so.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_GENERATOR_MINUTES = 3.0
"""Below this much training per generator the plan warns: its samples say little about it."""


@dataclass(frozen=True)
class BudgetPlan:
    """The split of `minutes`: `generator_minutes` for each of `generators` trained here."""

    minutes: float
    generator_share: float
    generators: tuple[str, ...]

    @property
    def generator_minutes(self) -> float:
        """Training time of each generator trained here (0 without any)."""
        if not self.generators:
            return 0.0
        return self.generator_share * self.minutes / len(self.generators)

    @property
    def rest_minutes(self) -> float:
        """What the data, the segmenters and the synthesis may take."""
        return self.minutes - self.generator_minutes * len(self.generators)

    @property
    def warning(self) -> str | None:
        """Why the generators' share is too small to mean much, or None."""
        if not self.generators or self.generator_minutes >= MIN_GENERATOR_MINUTES:
            return None
        return (
            f"each generator trains for {self.generator_minutes:.1f} min only, below the "
            f"{MIN_GENERATOR_MINUTES:.0f}-minute minimum: its synthetic data says little about "
            "the model (raise --minutes or --generator-share)"
        )

    def describe(self) -> str:
        if not self.generators:
            return f"budget {self.minutes:.1f} min, no generator trained here"
        trained = ", ".join(f"{g} {self.generator_minutes:.1f}" for g in self.generators)
        return (
            f"budget {self.minutes:.1f} min: generators {self.generator_share:.0%} ({trained} "
            f"min), data + segmenters + synthesis {self.rest_minutes:.1f} min"
        )


@dataclass(frozen=True)
class RestEstimate:
    """The predicted time of what is left but the generators' training, from measured speed."""

    segmenters: int
    segmenter_seconds: float
    candidates: int
    candidate_seconds: float

    @property
    def minutes(self) -> float:
        return (
            self.segmenters * self.segmenter_seconds + self.candidates * self.candidate_seconds
        ) / 60

    def describe(self) -> str:
        return (
            f"{self.segmenters} segmenters x {self.segmenter_seconds:.0f} s + {self.candidates} "
            f"candidates x {self.candidate_seconds:.2f} s = {self.minutes:.1f} min"
        )
