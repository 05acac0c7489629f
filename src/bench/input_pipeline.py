"""How fast the streaming input pipeline feeds a network, per CPU core, and how much memory it holds:

    python -m src.bench.input_pipeline [--files 1000] [--rounds 3] [--gpu-rate 4500] [--out experiments/bench/input_pipeline]

On a generated ImageNet-format tree (`src.data.fake_tree`: ≈500×375 JPEGs of ≈110 KB, with ImageNet's
kinds of bad file planted) it measures, each in a fresh worker process:

* images per CPU-second (user + system time of all the process' threads) of the raw ``decode_jpeg`` of
  every file, of the training pipeline (`FolderSource`: Inception crop, flip, resize to 224, uint8
  batches) and of the evaluation pipeline (centre crop 0.875, resize);
* Pillow doing the same training work per image in one process (what one PyTorch DataLoader worker
  does per core), and a real ``torch.utils.data.DataLoader`` when torch is installed;
* the training pipeline's peak RSS over one epoch of the tree and of a tree with 10× the files (hard
  links), after imports;
* the cores needed to feed a GPU at ``--gpu-rate`` images per second, and how fast a tree is indexed.

The rate measurements run ``--rounds`` times, interleaved, and the summary reports each one's median
(on a shared machine one pass of each measured a training/raw ratio anywhere from 0.72 to 0.85).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SIZE = 224


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _measure(iterate) -> dict[str, float]:
    """Images, CPU-seconds and wall seconds of one pass of ``iterate()`` (which returns the image count)."""
    cpu, wall = _cpu_seconds(), time.perf_counter()
    images = iterate()
    cpu, wall = _cpu_seconds() - cpu, time.perf_counter() - wall
    return {"images": images, "cpu_s": cpu, "wall_s": wall, "images_per_cpu_s": images / cpu}


def _folder_cfg(root: str, recipe: str = "inception") -> dict:
    cache = tempfile.mkdtemp(prefix="manifest_")
    return {"name": "imagenet_folder", "root": root, "image_size": SIZE, "channels": 3, "recipe": recipe,
            "crop_pct": 0.875, "val_fraction": 0.0, "test_dir": None, "manifest_cache": cache,
            "augment": {"horizontal_flip": True}}


def _worker(kind: str, root: str) -> dict:
    """One measurement in this (fresh) process; prints JSON."""
    from src.bench.peak_memory import current_rss_mib, max_rss_mib, reset_peak_rss

    if kind == "pil":
        return _measure_pil(root)
    if kind == "torch":
        return _measure_torch(root)
    import tensorflow as tf

    from src.data.folder_source import FolderSource
    from src.data.recipes import eval_image

    source = FolderSource(_folder_cfg(root))
    files = source.files["train"]
    baseline = current_rss_mib()
    reset_peak_rss()
    if kind == "raw":
        read = source._reader("train")
        ds = tf.data.Dataset.range(len(files)).map(
            lambda i: tf.io.decode_jpeg(read(i)[0], channels=3), num_parallel_calls=tf.data.AUTOTUNE).ignore_errors()
        ds = ds.map(lambda x: tf.shape(x)[0]).batch(64)  # the decoded image itself, not its copy, is the cost
    elif kind in ("train", "train_rss"):
        ds = source.train_uint8(seed=0, epochs=1, batch_size=64)
    elif kind == "eval":
        read = source._reader("train")
        ds = tf.data.Dataset.range(len(files)).map(
            lambda i: eval_image(read(i)[0], SIZE, 3, 0.875), num_parallel_calls=tf.data.AUTOTUNE).batch(64)
    else:
        raise ValueError(kind)
    ds = ds.prefetch(tf.data.AUTOTUNE)

    def iterate() -> int:
        count = 0
        for batch in ds:
            count += int(batch[0].shape[0]) if isinstance(batch, tuple) else int(batch.shape[0])
        return count

    if kind != "train_rss":
        iterate()  # warm-up pass: tracing, autotuning, page cache
    result = _measure(iterate)
    result.update(files=len(files), baseline_rss_mib=baseline, peak_rss_mib=max_rss_mib())
    return result


def _pil_train_image(path: str, rng) -> None:
    """What torchvision's RandomResizedCrop(224) + RandomHorizontalFlip do with a PIL image (same ranges)."""
    import math

    from PIL import Image

    with Image.open(path) as image:
        image = image.convert("RGB")
        w, h = image.size
        for _ in range(10):
            area = w * h * rng.uniform(0.08, 1.0)
            aspect = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
            cw, ch = int(round(math.sqrt(area * aspect))), int(round(math.sqrt(area / aspect)))
            if 0 < cw <= w and 0 < ch <= h:
                x, y = rng.integers(0, w - cw + 1), rng.integers(0, h - ch + 1)
                break
        else:
            cw = ch = min(w, h)
            x, y = (w - cw) // 2, (h - ch) // 2
        out = image.resize((SIZE, SIZE), Image.Resampling.BILINEAR, box=(x, y, x + cw, y + ch))
        if rng.random() < 0.5:
            out = out.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        out.tobytes()


def _good_files(root: str) -> list[str]:
    from src.data.manifest import index_tree

    m = index_tree(root, test_dir=None)
    return [str(m.root / p) for p, _ in zip(m.train.paths, m.train.labels)]


def _measure_pil(root: str) -> dict:
    import numpy as np

    files = _good_files(root)
    rng = np.random.default_rng(0)

    def iterate() -> int:
        for path in files:
            _pil_train_image(path, rng)
        return len(files)

    iterate()
    return {**_measure(iterate), "files": len(files)}


def _measure_torch(root: str) -> dict:
    try:
        import torch  # noqa: F401
        from torch.utils.data import DataLoader, Dataset
    except ImportError:
        return {"skipped": "torch is not installed"}
    import numpy as np

    files = _good_files(root)

    class Files(Dataset):
        def __len__(self) -> int:
            return len(files)

        def __getitem__(self, i: int) -> int:
            _pil_train_image(files[i], np.random.default_rng(i))
            return i

    workers = os.cpu_count() or 2
    loader = DataLoader(Files(), batch_size=64, num_workers=workers)
    children = resource.RUSAGE_CHILDREN
    cpu0, wall = resource.getrusage(children), time.perf_counter()
    count = sum(len(b) for b in loader)
    cpu1, wall = resource.getrusage(children), time.perf_counter() - wall
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime) + _cpu_seconds()
    return {"images": count, "cpu_s": cpu, "wall_s": wall, "images_per_cpu_s": count / cpu, "workers": workers}


def _run_worker(kind: str, root: Path) -> dict:
    proc = subprocess.run([sys.executable, "-m", "src.bench.input_pipeline", "--worker", kind, str(root)],
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2])
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} worker failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description="Input-pipeline throughput per CPU core and peak memory.")
    parser.add_argument("--files", type=int, default=1000, help="training files of the base tree (10 classes)")
    parser.add_argument("--scale", type=float, default=1.0, help="image size factor (1: ImageNet-like, ≈500×375)")
    parser.add_argument("--gpu-rate", type=float, default=4500.0, help="images/s a GPU trains at (cores needed)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the rate measurements (medians)")
    parser.add_argument("--out", default=None, help="folder for results.csv and results.json")
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "ROOT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(*args.worker)))
        return []
    from src.atomic_files import write_rows
    from src.data.fake_tree import BAD_KINDS, make_tree

    with tempfile.TemporaryDirectory(prefix="input_bench_") as work:
        per_class = max(1, args.files // 10)
        base = make_tree(Path(work) / "base", classes=10, train_per_class=per_class, val_per_class=0,
                         bad=BAD_KINDS, scale=args.scale)
        big = make_tree(Path(work) / "big", classes=10, train_per_class=per_class, val_per_class=0,
                        bad=BAD_KINDS, scale=args.scale, link_copies=10)
        sizes = [os.path.getsize(p) for p in (base.root / "train" / base.classes[1]).iterdir()]
        print(f"trees: {base.train_files} and {big.train_files} training files, mean {sum(sizes) / len(sizes) / 1e3:.0f} KB, "
              f"bad files planted: {', '.join(BAD_KINDS)}; {os.cpu_count()} CPUs")
        rows = []
        from src.data.manifest import index_tree

        for label, tree in (("1x", base), ("10x", big)):
            wall = time.perf_counter()
            files = len(index_tree(tree.root, test_dir=None).train)
            wall = time.perf_counter() - wall
            rows.append({"pipeline": f"index_{label}", "files": files, "wall_s": wall, "files_per_s": files / wall})
            print(f"  index {label}: {files} files in {wall:.2f} s ({files / wall:.0f} files/s, headers read)")
        # Rounds interleave the pipelines, each in a fresh process, so that a shared machine's changing load
        # falls on all of them alike; the summary takes each one's median.
        for r in range(args.rounds):
            for kind in ("raw", "train", "eval", "pil") + (("torch",) if r == 0 else ()):
                result = _run_worker(kind, base.root)
                rows.append({"pipeline": kind, "round": r + 1, **result})
                print(f"  {kind:6s} round {r + 1}: {json.dumps(result)}")
        for label, tree in (("1x", base), ("10x", big)):
            result = _run_worker("train_rss", tree.root)
            rows.append({"pipeline": f"train_rss_{label}", **result})
            print(f"  rss {label}: {json.dumps(result)}")
    by = {r["pipeline"]: r for r in rows}
    rates = {k: [r["images_per_cpu_s"] for r in rows if r["pipeline"] == k] for k in ("train", "raw", "eval", "pil")}
    train, raw, evaluation, pil = (statistics.median(rates[k]) for k in ("train", "raw", "eval", "pil"))
    rss1, rss10 = by["train_rss_1x"]["peak_rss_mib"], by["train_rss_10x"]["peak_rss_mib"]
    summary = {
        "train_images_per_cpu_s": train, "eval_images_per_cpu_s": evaluation,
        "raw_decode_images_per_cpu_s": raw, "pil_images_per_cpu_s": pil,
        "train_over_raw": train / raw, "train_over_pil": train / pil,
        # the ratios within each round (same load), beside the ratio of the medians
        "train_over_raw_by_round": [t / r for t, r in zip(rates["train"], rates["raw"])],
        "train_over_pil_by_round": [t / q for t, q in zip(rates["train"], rates["pil"])],
        "rounds": args.rounds, "rates_by_round": rates,
        "peak_rss_mib_1x": rss1, "peak_rss_mib_10x": rss10, "rss_10x_over_1x": rss10 / rss1,
        "cores_per_gpu": args.gpu_rate / train, "gpu_rate": args.gpu_rate,
        "index_files_per_s_10x": by["index_10x"]["files_per_s"],
    }
    print(f"\nmedians of {args.rounds} round(s); training / raw per round: "
          f"{', '.join(f'{x:.2f}' for x in summary['train_over_raw_by_round'])}")
    print("\n| measure | value | target |\n|---|---|---|")
    print(f"| training pipeline, images per CPU-second | {train:.0f} | ≥ 650 |")
    print(f"| training / raw decode_jpeg ({raw:.0f}) | {train / raw:.2f}× | ≥ 0.9× |")
    print(f"| training / Pillow per core ({pil:.0f}) | {train / pil:.2f}× | ≥ 1.5× |")
    print(f"| evaluation pipeline, images per CPU-second | {evaluation:.0f} | |")
    print(f"| peak RSS, 1× / 10× files (MiB) | {rss1:.0f} / {rss10:.0f} ({rss10 / rss1:.3f}×) | within 5 % |")
    print(f"| cores to feed {args.gpu_rate:.0f} images/s | {summary['cores_per_gpu']:.1f} | |")
    print(f"| indexing (listing + headers), files per second | {summary['index_files_per_s_10x']:.0f} | |")
    if args.out:
        out = Path(args.out)
        write_rows(rows, out / "results.csv")
        (out / "results.json").write_text(json.dumps(summary, indent=2))
    return rows


if __name__ == "__main__":
    main()
