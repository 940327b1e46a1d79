"""Peak training memory of Full-Glow against the number of flow steps K, plain vs memory-saving.

Each configuration runs in a fresh process: build the model, run the data-dependent
initialisation, allocate the gradients and Adam's state, then measure one training step
(forward, backward, Adam step). Reported:

- state: parameters + gradients + Adam moments (grows with K in both modes, 4x from K=4 to 16);
- activations: peak memory during the step minus the memory before it, i.e. what the step itself
  needs on top of the model and optimizer state (the quantity invertible backprop bounds);
- peak: the process's (or the device's) peak during the step.

On the CPU, memory is the resident set size: the peak is reset through `/proc/self/clear_refs`
before the step and read from `VmHWM`; glibc is told to serve large blocks with mmap and freed
heap is trimmed first, so that RSS follows live tensors. With `--device cuda`,
`torch.cuda.max_memory_allocated` is used instead.

    python benchmarks/memory_vs_depth.py                       # 64x64, 3 blocks, CPU
    python benchmarks/memory_vs_depth.py --size 128 --blocks 4 --device cuda
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import re
import subprocess
import sys

MIB = 2**20


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        return int(re.search(rf"{field}:\s+(\d+)", status.read()).group(1))


def _reset_cpu_peak() -> None:
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)


def worker(args: argparse.Namespace) -> dict:
    import torch

    from fullglow import build_model

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    model = build_model(
        "fullglow",
        "tiny",
        image_size=(args.size, args.size),
        n_blocks=args.blocks,
        n_flows=args.k,
        hidden_channels=args.hidden,
    ).to(device)
    model.memory_saving = args.mode == "memory-saving"
    shape = (args.batch, 3, args.size, args.size)
    x, cond = torch.rand(shape, device=device), torch.rand(shape, device=device)
    model.initialize(x, cond)
    params = list(model.parameters())
    optimizer = torch.optim.Adam(params, lr=1e-4)
    for p in params:
        p.grad = torch.zeros_like(p)
    optimizer.step()  # allocates Adam's moments; zero gradients leave the weights unchanged
    state_bytes = 4 * sum(p.numel() * p.element_size() for p in params)

    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
    else:
        _reset_cpu_peak()
        before = _rss_kib("VmRSS") * 1024

    def peak_so_far() -> int:
        if device.type == "cuda":
            torch.cuda.synchronize()
            return torch.cuda.max_memory_allocated(device)
        return _rss_kib("VmHWM") * 1024

    loss = model(x, cond).total
    forward_peak = peak_so_far()
    loss.backward()
    optimizer.step()
    peak = peak_so_far()
    return {
        "k": args.k,
        "mode": args.mode,
        "parameters": sum(p.numel() for p in params),
        "state_mib": state_bytes / MIB,
        "forward_mib": (forward_peak - before) / MIB,
        "activations_mib": (peak - before) / MIB,
        "peak_mib": peak / MIB,
        "loss": float(loss),
    }


def run_configuration(args: argparse.Namespace, k: int, mode: str) -> dict:
    command = [
        sys.executable, __file__, "--worker", "--k", str(k), "--mode", mode,
        "--size", str(args.size), "--blocks", str(args.blocks), "--hidden", str(args.hidden),
        "--batch", str(args.batch), "--device", args.device, "--threads", str(args.threads),
    ]  # fmt: skip
    # Large blocks through mmap (returned to the OS when freed), so RSS follows live tensors.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=64, help="image side (square images)")
    parser.add_argument("--blocks", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=64, help="coupling network width")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--depths", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--k", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=("plain", "memory-saving"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return

    where = "peak RSS (CPU)" if args.device == "cpu" else "torch.cuda.max_memory_allocated"
    print(
        f"Full-Glow, {args.size}x{args.size}, {args.blocks} blocks, coupling width {args.hidden}, "
        f"batch {args.batch}, {args.device}; memory from {where}, one fresh process per row.\n"
        "activations = peak during one training step minus the memory before it "
        "(model, gradients and Adam state excluded); forward = the same up to the end of the "
        "forward pass.\n"
    )
    print("| mode | K | parameters | state MiB | forward MiB | activations MiB | peak MiB | loss |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    results = {}
    for mode in ("plain", "memory-saving"):
        for k in args.depths:
            r = run_configuration(args, k, mode)
            results[mode, k] = r
            print(
                f"| {mode} | {k} | {r['parameters']:,} | {r['state_mib']:.1f} | "
                f"{r['forward_mib']:.1f} | {r['activations_mib']:.1f} | {r['peak_mib']:.1f} | "
                f"{r['loss']:.5f} |",
                flush=True,
            )
    low, high = min(args.depths), max(args.depths)
    ratio = f"K={high} / K={low}"
    print(f"\n| mode | forward {ratio} | activations {ratio} | peak {ratio} |")
    print("|---|---:|---:|---:|")
    for mode in ("plain", "memory-saving"):
        a, b = results[mode, low], results[mode, high]
        print(
            f"| {mode} | {b['forward_mib'] / a['forward_mib']:.2f} | "
            f"{b['activations_mib'] / a['activations_mib']:.2f} | "
            f"{b['peak_mib'] / a['peak_mib']:.2f} |"
        )


if __name__ == "__main__":
    main()
