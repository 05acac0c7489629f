"""Whole-model training throughput (images/s), pairs of equivalent networks side by side.

    python -m src.bench.model_throughput [--size 96] [--batch 32] [--steps 10] [--warmup 3] \
        [--out experiments/bench/model_throughput.csv]

One training step is ``train_on_batch`` (forward + backward + SGD update, XLA off) on one fixed batch,
the same input for every model. Comparisons (``candidate`` vs ``baseline``, ratio = candidate images/s
over baseline images/s, > 1 means the candidate trains faster):

1. ``mobilenet_v2``: our registry network vs ``keras.applications.MobileNetV2(weights=None)``, the same
   network (equal trainable parameters, asserted). Ours is built with ``dropout=0.0`` because
   keras.applications has no dropout before the classifier (dropout has no parameters).
2. ``shufflenet_v1`` (g=3): ``GroupedConv2D``'s ``split`` path (the training default) vs the
   ``native`` ``Conv2D(groups=g)`` path, switched with `set_grouped_conv_implementation` on a second
   instance that carries the first one's weights (outputs checked equal). Below 64 px the registry's
   small-input variant (``get_spec(name).small_knobs``) is used.

The four models are timed in interleaved rounds (each round steps every model once, the order reversed
every other round) so that machine load affects them alike; the first ``--warmup`` rounds (tracing)
are discarded, then medians (min–max) over ``--steps`` rounds are reported.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from src.atomic_files import write_rows  # noqa: E402
from src.bench.peers import CLASSES  # noqa: E402
from src.compute_env import cpu_model, tensorflow_onednn  # noqa: E402
from src.layers import set_grouped_conv_implementation  # noqa: E402
from src.models import build_model, get_spec  # noqa: E402

#: Below this input size the ShuffleNet comparison uses the registry's small-input variant.
SMALL_INPUT_BELOW = 64


def trainable_params(model: keras.Model) -> int:
    return int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))


def compile_for_bench(model: keras.Model, jit_compile: bool = False) -> keras.Model:
    """SGD 0.01, cross-entropy on logits: the training step every benchmark times."""
    model.compile(
        optimizer=keras.optimizers.SGD(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )
    return model


def build_pairs(size: int) -> list[dict]:
    """[{comparison, candidate: (label, model), baseline: (label, model), note}] for one input size."""
    input_shape = (size, size, 3)

    ours = build_model(
        "mobilenet_v2", input_shape=input_shape, classes=CLASSES, classifier_activation=None, dropout=0.0
    )
    reference = keras.applications.MobileNetV2(
        weights=None, input_shape=input_shape, classes=CLASSES, classifier_activation=None
    )
    mobilenet = {
        "comparison": "mobilenet_v2 ours/keras",
        "candidate": ("ours", ours),
        "baseline": ("keras.applications", reference),
        "note": "dropout=0.0",
    }

    knobs = dict(get_spec("shufflenet_v1").small_knobs) if size < SMALL_INPUT_BELOW else {}
    fast = build_model("shufflenet_v1", input_shape=input_shape, classes=CLASSES, classifier_activation=None, **knobs)
    native = build_model("shufflenet_v1", input_shape=input_shape, classes=CLASSES, classifier_activation=None, **knobs)
    native.set_weights(fast.get_weights())
    switched = set_grouped_conv_implementation(native, "native")
    if switched == 0:
        raise RuntimeError("shufflenet_v1 has no GroupedConv2D to switch to the native path")
    probe = np.random.default_rng(1).normal(size=(2, *input_shape)).astype("float32")
    diff = float(np.max(np.abs(keras.ops.convert_to_numpy(fast(probe, training=False))
                                - keras.ops.convert_to_numpy(native(probe, training=False)))))
    if diff > 1e-3:
        raise RuntimeError(f"shufflenet_v1 split and native outputs differ by {diff:.2e} on the same weights")
    shufflenet = {
        "comparison": "shufflenet_v1 g=3 split/native",
        "candidate": ("split", fast),
        "baseline": ("native", native),
        "note": ";".join(f"{k}={v}" for k, v in knobs.items()) + (";" if knobs else "")
        + f"{switched} GroupedConv2D switched;max|split-native| {diff:.1e}",
    }

    pairs = [mobilenet, shufflenet]
    for pair in pairs:
        for role in ("candidate", "baseline"):
            compile_for_bench(pair[role][1])
        pc, pb = (trainable_params(pair[r][1]) for r in ("candidate", "baseline"))
        if pc != pb:
            raise AssertionError(f"{pair['comparison']}: trainable parameters differ, {pc:,} vs {pb:,}")
    return pairs


def timed_rounds(steppers: Sequence[Callable[[], object]], steps: int, warmup: int) -> list[list[float]]:
    """Seconds per step for each stepper: every round steps each once (order reversed on odd rounds);
    the first ``warmup`` rounds are discarded."""
    times: list[list[float]] = [[] for _ in steppers]
    order = list(range(len(steppers)))
    for r in range(warmup + steps):
        for i in (order if r % 2 == 0 else order[::-1]):
            start = time.perf_counter()
            steppers[i]()
            elapsed = time.perf_counter() - start
            if r >= warmup:
                times[i].append(elapsed)
    return times


def environment() -> dict[str, str]:
    from src.tracking.provenance import library_versions  # src.tracking imports MLflow: only here

    return {
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "tensorflow": library_versions(("tensorflow",)).get("tensorflow", "n/a"),
        "tf_onednn": tensorflow_onednn(),
        "cpu": cpu_model(),
        "cores": str(os.cpu_count()),
    }


def main(argv: Sequence[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=96, help="input height = width (default 96)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per model (median over these)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per model first (tracing)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="CSV file to write (optional)")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.warmup < 0 or args.batch < 1:
        parser.error("--steps and --batch must be ≥ 1 and --warmup ≥ 0")

    env = environment()
    print(" ".join(f"{k}={v}" for k, v in env.items()) + f" xla=off input={args.size}x{args.size}x3 batch={args.batch} "
          f"steps={args.steps} warmup={args.warmup}")
    keras.utils.set_random_seed(args.seed)
    pairs = build_pairs(args.size)
    rng = np.random.default_rng(args.seed)
    x = rng.normal(size=(args.batch, args.size, args.size, 3)).astype("float32")
    y = rng.integers(0, CLASSES, size=(args.batch,)).astype("int32")

    models = [pair[role][1] for pair in pairs for role in ("candidate", "baseline")]
    steppers = [lambda m=m: m.train_on_batch(x, y) for m in models]
    wall = time.perf_counter()
    times = iter(timed_rounds(steppers, args.steps, args.warmup))
    wall = time.perf_counter() - wall

    def stats(t: list[float]) -> dict[str, float]:
        med = statistics.median(t)
        return {"ms_median": med * 1e3, "ms_min": min(t) * 1e3, "ms_max": max(t) * 1e3, "img_s": args.batch / med}

    rows = []
    for pair in pairs:
        row = {**env, "comparison": pair["comparison"], "size": args.size, "batch": args.batch,
               "steps": args.steps, "warmup": args.warmup}
        for role in ("candidate", "baseline"):
            label, model = pair[role]
            row[role] = label
            row[f"{role}_params"] = trainable_params(model)
            row.update({f"{role}_{k}": v for k, v in stats(next(times)).items()})
        row["throughput_ratio"] = row["candidate_img_s"] / row["baseline_img_s"]
        row["note"] = pair["note"]
        rows.append(row)

    cell = lambda r, role: f"{r[f'{role}_ms_median']:7.1f} ({r[f'{role}_ms_min']:.1f}-{r[f'{role}_ms_max']:.1f})"  # noqa: E731
    print(f"{'comparison':<32} {'candidate':>20} {'params':>10} {'ms/step':>22} {'img/s':>8}"
          f" {'baseline':>20} {'params':>10} {'ms/step':>22} {'img/s':>8} {'cand/base':>9}")
    for r in rows:
        print(f"{r['comparison']:<32} {r['candidate']:>20} {r['candidate_params']:>10,} {cell(r, 'candidate'):>22}"
              f" {r['candidate_img_s']:8.1f} {r['baseline']:>20} {r['baseline_params']:>10,} {cell(r, 'baseline'):>22}"
              f" {r['baseline_img_s']:8.1f} {r['throughput_ratio']:8.2f}x")
    for r in rows:
        print(f"  {r['comparison']}: {r['note']}")
    print(f"timed rounds: {wall:.1f} s")
    if args.out:
        write_rows(rows, args.out)
    return rows


if __name__ == "__main__":
    main()
