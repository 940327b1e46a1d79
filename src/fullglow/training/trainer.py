"""The training loop: `train(config, run_dir, resume)`, alone or under `torchrun`.

Read top to bottom: set up the run folder, data and model (data-dependent initialisation on the
first global batch, *before* DistributedDataParallel), resume from the newest checkpoint, then
loop over steps: prepare a batch, take a guarded step, log, validate, sample, checkpoint, and stop
cleanly (with a checkpoint) on SIGINT/SIGTERM or when the time budget is spent.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from fullglow.errors import UserInputError
from fullglow.files import atomic_write_text
from fullglow.models.config import config_from_dict, config_to_dict
from fullglow.training import distributed as dist
from fullglow.training.batches import (
    Batch,
    ResumableSampler,
    check_enough_data,
    fixed_batches,
    open_split,
    prepare_batch,
)
from fullglow.training.checkpoints import (
    FORMAT_VERSION,
    CheckpointStore,
    DataPosition,
    capture_rng,
    load_checkpoint,
    restore_rng,
)
from fullglow.training.config import CONFIG_FILE, TrainConfig, reconcile_config
from fullglow.training.initial import data_initialize, model_config, seeded_model
from fullglow.training.metrics_log import MetricsLog
from fullglow.training.objectives import Objective, StepOutcome, make_objective
from fullglow.training.validation import sample_grid, validate, write_grid_png

log = logging.getLogger(__name__)

SAMPLES_DIR = "samples"


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. too many non-finite steps in a row); the message says why and
    which checkpoint is still good."""


@dataclass(frozen=True)
class TrainResult:
    """What `train` did.

    Attributes:
        steps: optimisation steps done in total (including those of earlier, resumed sessions).
        stopped: "finished", "time budget" or the name of the signal that stopped it.
        metric_name: "val_bpd" (flows) or "val_l1" (pix2pix).
        final_val / best_val: the last and best validation values (None without validation).
        run_dir, last_checkpoint, best_checkpoint: where the results are.
        signal: the number of the signal that stopped training, or None.
    """

    steps: int
    stopped: str
    metric_name: str
    final_val: float | None
    best_val: float | None
    run_dir: Path
    last_checkpoint: Path | None
    best_checkpoint: Path | None
    signal: int | None = None


def train(
    config: TrainConfig, out_dir: Path | str, resume: bool = False, progress: bool = True
) -> TrainResult:
    """Train `config.model` on `config.data`, writing everything into `out_dir` (see the README's
    training section for the layout). Under `torchrun`, every process calls this.

    Like a training script, it seeds torch's global random generator (`config.seed` for the
    model's initialisation, then `seed * world_size + rank`, or the checkpoint's state on a
    resume) and handles SIGINT/SIGTERM while it runs (previous handlers are restored).
    `progress`: show a progress bar (on the main process); False for none.

    Raises:
        UserInputError: a bad configuration, dataset or run folder.
        TrainingError: `config.max_nonfinite` consecutive non-finite steps.
    """
    device = dist.resolve_device(config.device)
    with ExitStack() as stack:
        stack.enter_context(dist.process_group(device))
        stack.enter_context(_backend_flags(config, device))
        stop = stack.enter_context(_stop_signals())
        stack.enter_context(logging_redirect_tqdm())
        return _Run(config, Path(out_dir), resume, device, stop, progress).run()


@dataclass(frozen=True)
class _Timing:
    """Of one step: wall-clock seconds since the previous one, its learning rate and epoch."""

    seconds: float
    lr: float
    epoch: int


class _StopRequest:
    """Set by SIGINT/SIGTERM handlers; the loop stops after the current step."""

    def __init__(self) -> None:
        self.signal: int | None = None


@contextmanager
def _stop_signals() -> Iterator[_StopRequest]:
    """The first SIGINT/SIGTERM asks for a checkpoint and a clean stop; a second SIGINT aborts."""
    request = _StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def handle(signum: int, frame: Any) -> None:  # noqa: ARG001
        if request.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        request.signal = signum
        log.warning(
            "%s received: saving a checkpoint after this step, then stopping",
            signal.Signals(signum).name,
        )

    previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield request
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextmanager
def _backend_flags(config: TrainConfig, device: torch.device) -> Iterator[None]:
    """TF32 and determinism switches for the duration of training, restored afterwards."""
    saved = (
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
        torch.backends.cudnn.benchmark,
        torch.are_deterministic_algorithms_enabled(),
    )
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = config.tf32
        torch.backends.cudnn.allow_tf32 = config.tf32
        torch.backends.cudnn.benchmark = not config.deterministic
    if config.deterministic:
        torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved[:2]
        torch.backends.cudnn.benchmark = saved[2]
        torch.use_deterministic_algorithms(saved[3])


class _Run:
    """State of one training session; `run()` is the loop."""

    def __init__(
        self,
        config: TrainConfig,
        run_dir: Path,
        resume: bool,
        device: torch.device,
        stop: _StopRequest,
        progress: bool = True,
    ) -> None:
        self.config = config
        self.progress = progress
        self.run_dir = run_dir
        self.device = device
        self.stop = stop
        self.started = time.perf_counter()
        self.store = CheckpointStore(run_dir, config.keep_last)
        model_config(config)  # a bad model or option fails before the run folder is touched
        stored, checkpoint_path = self._check_folder(resume)

        # Model: built from the same seed on every process, so all start identical.
        self.module: nn.Module = seeded_model(config, device)
        # Flows see dequantized images (a continuous density); pix2pix sees them as read.
        self.n_bits = self.module.config.n_bits if self.module.has_likelihood else None
        self.image_size = tuple(self.module.config.image_size)

        # Data: each process reads its share of every global batch.
        self.world = dist.world_size()
        if config.batch_size % self.world:
            raise UserInputError(
                f"batch size {config.batch_size} must be divisible by the number of processes "
                f"({self.world})"
            )
        self.local_batch = config.batch_size // self.world
        self.train_set = open_split(config, "train", self.image_size)
        check_enough_data(self.train_set, "train", config.batch_size, "the batch size")
        self.sampler = DistributedSampler(
            self.train_set,
            num_replicas=self.world,
            rank=dist.rank(),
            shuffle=True,
            seed=config.seed,
            drop_last=True,
        )
        self.batches_per_epoch = len(self.sampler) // self.local_batch
        self.total_steps = config.steps or config.epochs * self.batches_per_epoch
        self.val_set = self._open_val_set()
        if self.val_set is not None:
            check_enough_data(self.val_set, "val", 1, "one")

        self.objective: Objective = make_objective(self.module, config, self.total_steps)
        self.step = 0
        self.position = DataPosition(0, 0)
        self.best_val: float | None = None
        self.final_val: float | None = None
        self.validated_at = -1
        self.best_checkpoint: Path | None = None
        self.last_checkpoint: Path | None = None
        self.saved_at = -1
        if checkpoint_path is not None:
            self._load(checkpoint_path)
        else:
            data_initialize(self.module, self.train_set, config, device)
            torch.manual_seed(dist.rank_seed(config.seed))
        dist.check_identical_parameters(self.module)
        self.model: nn.Module = self.module
        if dist.is_distributed():
            self.model = DistributedDataParallel(
                self.module,
                device_ids=[device] if device.type == "cuda" else None,
                find_unused_parameters=self.objective.find_unused_parameters,
            )
        self._write_config(stored)
        self.metrics = MetricsLog(run_dir, self.step) if dist.is_main() else None
        self.last_tick = time.perf_counter()

    # ----------------------------------------------------------------------------------- setup

    def _check_folder(self, resume: bool) -> tuple[TrainConfig | None, Path | None]:
        """Check the run folder against the config: `(stored config, checkpoint to resume)`."""
        run_dir = self.run_dir
        if run_dir.exists() and not run_dir.is_dir():
            raise UserInputError(f"--out {run_dir}: exists and is not a folder")
        latest = self.store.latest()
        stored = reconcile_config(run_dir, self.config, resume, trained=latest is not None)
        if latest is not None and not resume:
            raise UserInputError(
                f"{run_dir} already holds checkpoints (newest {latest.name}); pass --resume to "
                "continue that run, or choose a new --out folder"
            )
        if resume and latest is None:
            log.info("%s: no checkpoint to resume from, starting a new run", run_dir)
        return stored, latest if resume else None

    def _write_config(self, stored: TrainConfig | None) -> None:
        """Write `train_config.json` once everything it names has been checked."""
        dist.barrier()
        if dist.is_main():
            if stored != self.config:
                atomic_write_text(
                    self.run_dir / CONFIG_FILE, json.dumps(self.config.to_dict(), indent=2) + "\n"
                )
            self.store.remove_stale_temporaries()
        dist.barrier()

    def _open_val_set(self) -> Dataset | None:
        if not (self.config.val_every or self.config.sample_every):
            return None
        try:
            return open_split(self.config, "val", self.image_size)
        except UserInputError as err:
            raise UserInputError(
                f"{err} (validation and sample grids read the val split; set val_every and "
                "sample_every to 0 to train without one)"
            ) from err

    def _load(self, path: Path) -> None:
        payload = load_checkpoint(path, map_location=self.device)
        if payload["model_name"] != self.config.model:
            raise UserInputError(f"{path} holds a {payload['model_name']!r} model")
        self._check_model_config(path, payload["model_config"])
        self.module.load_state_dict(payload["model"])
        self.objective.load_state_dict(payload["objective"])
        self.objective.load_averaged_weights(payload.get("ema"))
        self.step = payload["step"]
        self.position = DataPosition(payload["epoch"], payload["batch"])
        self.best_val = payload["best_val"]
        self.saved_at = self.step
        self.last_checkpoint = path
        rng = payload["rng"]
        if len(rng) == self.world:
            restore_rng(rng[dist.rank()], self.device)
        else:
            log.warning(
                "%s was written by %d processes, this run has %d: random states are re-seeded, "
                "so the continuation is not bit-identical",
                path, len(rng), self.world,
            )  # fmt: skip
            torch.manual_seed(dist.rank_seed(self.config.seed) + self.step)
        if self.store.best_path.is_file():
            self.best_checkpoint = self.store.best_path
        log.info("resumed %s at step %d (epoch %d, batch %d)", path, self.step, *self.position)

    def _check_model_config(self, path: Path, stored: dict[str, Any]) -> None:
        """Refuse to resume a checkpoint into a model configured otherwise: the weights would
        load (a field such as `scale_floor` has none) into a different model, silently."""
        config = self.module.config
        saved = config_from_dict(type(config), stored)
        if saved == config:
            return
        changed = [
            f"{f.name} {getattr(saved, f.name)!r} -> {getattr(config, f.name)!r}"
            for f in fields(config)
            if getattr(saved, f.name) != getattr(config, f.name)
        ]
        raise UserInputError(
            f"{path} holds a model configured otherwise than the preset {self.config.preset!r} "
            f"with the run's model options now gives ({'; '.join(changed)}): the preset changed "
            "since the run started, so it cannot resume; its checkpoints still load for sampling "
            "and evaluation (they hold their model's configuration), and a new run with model "
            "options that set these values trains that model again"
        )

    # ------------------------------------------------------------------------------------ loop

    def run(self) -> TrainResult:
        config = self.config
        log.info(
            "training %s for %d steps (%d batches of %d per epoch, %d process(es)) in %s",
            config.model, self.total_steps, self.batches_per_epoch, config.batch_size,
            self.world, self.run_dir,
        )  # fmt: skip
        bar = tqdm(
            total=self.total_steps,
            initial=self.step,
            desc=f"train {config.model}",
            unit="step",
            disable=not (self.progress and dist.is_main()),
            dynamic_ncols=True,
        )
        stopped = "finished"
        nonfinite_in_row = 0
        try:
            if self.step == 0 and config.val_every:
                self._validate()  # the untrained model's value, the baseline of the curve
            while self.step < self.total_steps and stopped == "finished":
                for batch in self._epoch_batches():
                    lr, epoch = self.objective.learning_rate(), self.position.epoch
                    outcome = self.objective.step(self.model, batch)
                    now = time.perf_counter()
                    seconds, self.last_tick = now - self.last_tick, now
                    self.step += 1
                    self._advance_position()
                    bar.update(1)
                    nonfinite_in_row = 0 if outcome.finite else nonfinite_in_row + 1
                    self._record_step(outcome, _Timing(seconds, lr, epoch), bar)
                    if nonfinite_in_row >= config.max_nonfinite:
                        raise TrainingError(self._nonfinite_message(nonfinite_in_row))
                    self._periodic()
                    stopped = self._stop_reason()
                    if stopped != "finished" or self.step >= self.total_steps:
                        break
            self._finish(stopped)
        finally:
            bar.close()
            if self.metrics is not None:
                self.metrics.close()
        return TrainResult(
            steps=self.step,
            stopped=stopped,
            metric_name=self.objective.metric_name,
            final_val=self.final_val,
            best_val=self.best_val,
            run_dir=self.run_dir,
            last_checkpoint=self.last_checkpoint,
            best_checkpoint=self.best_checkpoint,
            signal=self.stop.signal,
        )

    def _epoch_batches(self) -> Iterator[Batch]:
        """The remaining batches of the current epoch (from the saved position on a resume)."""
        epoch, start = self.position.epoch, self.position.batch
        self.sampler.set_epoch(epoch)
        loader = DataLoader(
            self.train_set,
            batch_size=self.local_batch,
            sampler=ResumableSampler(self.sampler, start * self.local_batch),
            drop_last=True,
            num_workers=self.config.num_workers,
            pin_memory=self.device.type == "cuda",
        )
        rank = dist.rank()
        slots = [i * self.world + rank for i in range(self.local_batch)]
        for samples in loader:
            yield prepare_batch(
                samples,
                config=self.config,
                n_bits=self.n_bits,
                step=self.step,
                slots=slots,
                device=self.device,
                flip=self.config.flip,
            )

    def _advance_position(self) -> None:
        epoch, batch = self.position.epoch, self.position.batch + 1
        if batch >= self.batches_per_epoch:
            epoch, batch = epoch + 1, 0
        self.position = DataPosition(epoch, batch)

    def _record_step(self, outcome: StepOutcome, timing: _Timing, bar: tqdm) -> None:
        images_per_s = self.config.batch_size / max(timing.seconds, 1e-9)
        if not outcome.finite:
            log.warning(
                "step %d skipped: non-finite loss or gradients (%s, grad norm %s)",
                self.step, _format_terms(outcome.terms), outcome.grad_norm,
            )  # fmt: skip
        bar.set_postfix_str(f"{_format_terms(outcome.terms)} {images_per_s:.1f} img/s")
        if self.metrics is None:
            return
        if outcome.finite and self.step % self.config.log_every and self.step != 1:
            return
        record = {
            "step": self.step,
            "epoch": timing.epoch,
            **outcome.terms,
            "grad_norm": outcome.grad_norm,
            "lr": timing.lr,
            "images_per_s": images_per_s,
        }
        if not outcome.finite:
            record["skipped"] = "non-finite loss or gradients"
        self.metrics.write(record)

    def _nonfinite_message(self, count: int) -> str:
        latest = self.store.latest()
        kept = f"the last good checkpoint {latest} is intact" if latest else "no checkpoint yet"
        return (
            f"{count} consecutive steps (up to step {self.step}) had non-finite loss or gradients "
            f"(max_nonfinite = {self.config.max_nonfinite}); training stopped and {kept}. Try a "
            "lower learning rate, a warm-up or gradient clipping (--lr, --warmup, --grad-clip)"
        )

    def _periodic(self) -> None:
        config, step = self.config, self.step
        if config.val_every and step % config.val_every == 0:
            self._validate()
        if config.sample_every and step % config.sample_every == 0 and dist.is_main():
            self._write_samples()
        if config.checkpoint_every and step % config.checkpoint_every == 0:
            self._save_last()

    def _stop_reason(self) -> str:
        budget = self.config.time_budget_minutes
        over_budget = budget is not None and time.perf_counter() - self.started >= budget * 60
        if not dist.any_rank(self.stop.signal is not None or over_budget, self.device):
            return "finished"
        if self.stop.signal is not None:
            return signal.Signals(self.stop.signal).name
        return "time budget" if over_budget else "stopped by another process"

    def _finish(self, stopped: str) -> None:
        if stopped == "finished" and self.config.val_every and self.validated_at != self.step:
            self._validate()
        if self.saved_at != self.step:
            self._save_last()
        log.info("%s after %d steps; last checkpoint %s", stopped, self.step, self.last_checkpoint)

    # --------------------------------------------------------------- validation and checkpoints

    def _validate(self) -> None:
        """Rank 0 validates the unwrapped model; every rank learns the value (for best.pt)."""
        value = None
        if dist.is_main():
            batches = fixed_batches(
                self.val_set,
                self.config.val_batches * self.config.batch_size,
                self.config.batch_size,
                self.config,
                self.n_bits,
                self.device,
            )
            value = validate(self.objective.used_module(), batches)
        value = dist.broadcast_object(value)
        self.final_val = value
        self.validated_at = self.step
        improved = self.best_val is None or value < self.best_val
        if improved:
            self.best_val = value
        if self.metrics is not None:
            name = self.objective.metric_name
            self.metrics.write({"step": self.step, name: value, "best": improved})
        log.info("step %d: %s %.4f%s", self.step, self.objective.metric_name, value,
                 " (best)" if improved else "")  # fmt: skip
        if improved:
            payload = self._payload()
            if dist.is_main():
                self.best_checkpoint = self.store.save_best(payload)

    def _write_samples(self) -> None:
        batch = next(
            fixed_batches(
                self.val_set,
                self.config.n_samples,
                self.config.n_samples,
                self.config,
                self.n_bits,
                self.device,
            )  # fmt: skip
        )
        grid = sample_grid(self.objective.used_module(), batch, seed=self.config.seed)
        write_grid_png(self.run_dir / SAMPLES_DIR / f"step_{self.step:08d}.png", grid)

    def _payload(self) -> dict[str, Any]:
        """The checkpoint of the current state (collective: every rank contributes its RNG)."""
        rng = dist.gather_objects({k: v.cpu() for k, v in capture_rng(self.device).items()})
        return {
            "format": FORMAT_VERSION,
            "model_name": self.config.model,
            "model_config": config_to_dict(self.module.config),
            "train_config": self.config.to_dict(),
            "model": self.module.state_dict(),
            "objective": self.objective.state_dict(),
            "ema": self.objective.averaged_weights(),
            "step": self.step,
            "epoch": self.position.epoch,
            "batch": self.position.batch,
            "best_val": self.best_val,
            "rng": rng,
        }

    def _save_last(self) -> None:
        payload = self._payload()
        if dist.is_main():
            self.last_checkpoint = self.store.save_last(payload)
        self.saved_at = self.step


def _format_terms(terms: dict[str, float]) -> str:
    return " ".join(f"{k}={v:.4f}" for k, v in terms.items())
