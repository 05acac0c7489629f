"""Index an ImageNet-format tree once: the cached manifest a streaming source reads instead of the files.

Layout: ``root/<train_dir>/<class>/*`` and ``root/<test_dir>/<class>/*`` (``train/`` and ``val/`` as
ImageNet ships after the usual validation re-sort; ``test/`` is accepted too). Class folders are listed
in parallel threads (`os.scandir` releases the GIL), each file's kind is read from its header
(`src.data.image_header`), and the result is cached under ``cache_dir`` keyed by the tree's path and
its class folders' modification times, so the next job starts in a second.

The fingerprint of a run comes from the manifest (relative paths, sizes, labels); ``content_hash=True``
hashes every byte instead, in parallel, for a data set whose files may be edited in place.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from src.atomic_files import atomic_write_bytes, atomic_write_text
from src.data.image_folder import BAD_FILE_POLICIES
from src.data.image_header import READABLE, decodes, sniff
from src.errors import ConfigError, DataError, did_you_mean

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png", ".bmp", ".gif", ".webp")
VERIFY_MODES = ("header", "decode")
TEST_DIRS = ("val", "test")  # tried in this order when test_dir is "auto"
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class SplitFiles:
    """One folder split: paths relative to the tree's root, labels (class index) and file sizes."""

    paths: tuple[str, ...]
    labels: np.ndarray
    sizes: np.ndarray

    def __len__(self) -> int:
        return len(self.paths)

    def take(self, index: np.ndarray) -> SplitFiles:
        return SplitFiles(tuple(self.paths[i] for i in index), self.labels[index], self.sizes[index])


@dataclass(frozen=True)
class Manifest:
    root: Path
    classes: tuple[str, ...]
    train: SplitFiles
    test: SplitFiles | None
    skipped: tuple[tuple[str, str], ...]  # (relative path, kind) of the files left out
    digest: str  # sha256 over paths, sizes, labels (or contents with content_hash)
    # Non-JPEG images (PNG, GIF, BMP, WebP) re-encoded as JPEG in the cache folder: their paths are absolute,
    # and with all of them converted every file takes the fused crop path (no per-image routing).
    converted: tuple[str, ...] = ()
    all_jpeg: bool = False


def parallel_map(fn, items, workers: int, chunksize: int = 1) -> list:
    """``[fn(x) for x in items]`` in ``workers`` threads (file I/O and Pillow release the GIL), in order."""
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, items, chunksize=chunksize))


def _list_class(folder: Path) -> list[tuple[str, int]]:
    out = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_file():
                continue
            if os.path.splitext(entry.name)[1].lower() in IMAGE_SUFFIXES:
                out.append((entry.name, entry.stat().st_size))
    return sorted(out)


def _class_dirs(folder: Path) -> list[str]:
    with os.scandir(folder) as entries:
        return sorted(e.name for e in entries if e.is_dir() and not e.name.startswith("."))


def _check_kinds(root: Path, paths: list[str], verify: str, workers: int) -> list[str]:
    """The kind of each file: its header, and for ``verify=decode`` (or a header that needs it) a full decode."""
    kinds = parallel_map(lambda p: sniff(root / p), paths, workers, chunksize=256)
    if verify == "decode":
        ok = parallel_map(lambda p: decodes(root / p), paths, workers, chunksize=64)
        kinds = [k if good or k not in READABLE else "undecodable" for k, good in zip(kinds, ok)]
    return kinds


def _read_split(root: Path, folder: Path, classes: list[str], workers: int) -> tuple[list[str], list[int], list[int]]:
    listed = parallel_map(lambda c: _list_class(folder / c), classes, workers)
    empty = [c for c, files in zip(classes, listed) if not files]
    if empty:
        raise DataError(
            f"{len(empty)} class folder(s) under {folder} hold no image files ({', '.join(IMAGE_SUFFIXES)}): "
            f"{', '.join(str(folder / c) for c in empty[:5])}; add images or remove the folder(s)."
        )
    rel = folder.relative_to(root).as_posix()
    paths, labels, sizes = [], [], []
    for label, (cls, files) in enumerate(zip(classes, listed)):
        for name, size in files:
            paths.append(f"{rel}/{cls}/{name}")
            labels.append(label)
            sizes.append(size)
    return paths, labels, sizes


def _cache_key(root: Path, folders: Iterable[Path], settings: str) -> str:
    h = hashlib.sha256(f"v{MANIFEST_VERSION}|{root.resolve()}|{settings}".encode())
    for folder in folders:
        with os.scandir(folder) as entries:
            for e in sorted(entries, key=lambda e: e.name):
                if e.is_dir():
                    h.update(f"{folder.name}/{e.name}:{e.stat().st_mtime_ns}".encode())
    return h.hexdigest()[:24]


def _content_digest(root: Path, paths: list[str], workers: int) -> str:
    def one(p: str) -> str:
        h = hashlib.sha256()
        with (root / p).open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()

    digests = parallel_map(one, paths, workers, chunksize=64)
    return hashlib.sha256("\n".join(f"{p}:{d}" for p, d in zip(paths, digests)).encode()).hexdigest()


def _tree_folders(root: Path, train_dir: str, test_dir: str | None, on_bad_file: str,
                  verify: str) -> tuple[Path, str | None, Path | None]:
    """The training folder, the evaluation folder's name and path ("auto": the first of `TEST_DIRS`
    found), after checking the settings and the layout; each problem raises one line saying the fix."""
    if on_bad_file not in BAD_FILE_POLICIES:
        raise ConfigError(f"data.on_bad_file={on_bad_file!r} is unknown; use one of {list(BAD_FILE_POLICIES)}."
                          f"{did_you_mean(str(on_bad_file), BAD_FILE_POLICIES)}")
    if verify not in VERIFY_MODES:
        raise ConfigError(f"data.verify={verify!r} is unknown; use one of {list(VERIFY_MODES)}."
                          f"{did_you_mean(str(verify), VERIFY_MODES)}")
    if not root.is_dir():
        raise DataError(f"data.root={root} is not a folder; give the folder that holds {train_dir}/<class>/ "
                        f"(ImageNet layout: {train_dir}/<wnid>/*.JPEG and val/<wnid>/*.JPEG).")
    train_root = root / train_dir
    if not train_root.is_dir():
        found = _class_dirs(root)
        raise DataError(f"{train_root} does not exist (folders in {root}: {', '.join(found[:6]) or 'none'}); "
                        f"expected {root}/{train_dir}/<class>/<images>, or set data.train_dir.")
    if test_dir == "auto":
        test_dir = next((d for d in TEST_DIRS if (root / d).is_dir()), None)
    test_root = root / test_dir if test_dir else None
    if test_root is not None and not test_root.is_dir():
        raise DataError(f"{test_root} does not exist; set data.test_dir to the evaluation folder, or null.")
    return train_root, test_dir, test_root


def _checked_classes(train_root: Path, test_root: Path | None) -> list[str]:
    """The class folders, at least two, the same in the evaluation folder."""
    classes = _class_dirs(train_root)
    if len(classes) < 2:
        raise DataError(f"{train_root} holds {len(classes)} class folder(s); need at least 2, one per class.")
    if test_root is not None and _class_dirs(test_root) != classes:
        theirs = _class_dirs(test_root)
        missing = sorted(set(classes) - set(theirs))[:3]
        extra = sorted(set(theirs) - set(classes))[:3]
        raise DataError(f"class folders differ between {train_root} ({len(classes)}) and {test_root} ({len(theirs)})"
                        f"{'; missing: ' + ', '.join(missing) if missing else ''}"
                        f"{'; extra: ' + ', '.join(extra) if extra else ''}; both need the same class folders.")
    return classes


def _index_split(root: Path, folder: Path, classes: list[str], on_bad_file: str, verify: str, workers: int,
                 kinds_by_path: dict[str, str]) -> tuple[SplitFiles, list[tuple[str, str]]]:
    """One split's readable files (the other-format images noted in ``kinds_by_path``) and its bad ones."""
    paths, labels, sizes = _read_split(root, folder, classes, workers)
    kinds = _check_kinds(root, paths, verify, workers)
    bad = [(p, k) for p, k in zip(paths, kinds) if k not in READABLE]
    if bad and on_bad_file == "error":
        raise DataError(f"{len(bad)} unreadable file(s) under {folder}, first {root / bad[0][0]} ({bad[0][1]}); "
                        "remove or replace them, or set data.on_bad_file=skip.")
    keep = [i for i, k in enumerate(kinds) if k in READABLE]
    kinds_by_path.update({paths[i]: kinds[i] for i in keep if kinds[i] == "other_image"})
    return SplitFiles(tuple(paths[i] for i in keep), np.asarray([labels[i] for i in keep], np.int64),
                      np.asarray([sizes[i] for i in keep], np.int64)), bad


def _listing_digest(splits: dict[str, SplitFiles]) -> str:
    """SHA-256 of every kept file's relative path, size and label."""
    h = hashlib.sha256()
    for split in splits.values():
        for p, size, label in zip(split.paths, split.sizes.tolist(), split.labels.tolist()):
            h.update(f"{p}:{size}:{label}\n".encode())
    return h.hexdigest()


def index_tree(
    root: str | Path,
    train_dir: str = "train",
    test_dir: str | None = "auto",
    on_bad_file: str = "skip",
    verify: str = "header",
    content_hash: bool = False,
    cache_dir: str | Path | None = None,
    workers: int | None = None,
) -> Manifest:
    """The manifest of the tree at ``root`` (from the cache when the tree is unchanged).

    Bad files (`src.data.image_header.KINDS` other than the readable ones) are left out with one
    warning that gives the exact count (``on_bad_file=skip``), or stop the job naming the first one
    (``error``), here, before training starts."""
    root = Path(root).expanduser()
    train_root, test_dir, test_root = _tree_folders(root, train_dir, test_dir, on_bad_file, verify)
    workers = workers or min(32, (os.cpu_count() or 2) * 4)
    folders = [train_root] + ([test_root] if test_root else [])
    settings = f"{train_dir}|{test_dir}|{on_bad_file}|{verify}|{content_hash}"
    cache = Path(cache_dir) / f"{_cache_key(root, folders, settings)}.json" if cache_dir else None
    if cache is not None and cache.is_file():
        try:
            return _from_json(root, json.loads(cache.read_text()))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring the unreadable manifest cache %s (%s); indexing %s again", cache, exc, root)

    started = time.perf_counter()
    log.info("indexing %s (listing class folders and reading file headers, %d threads; cached for the next job)",
             root, workers)
    classes = _checked_classes(train_root, test_root)
    splits, skipped, kinds_by_path = {}, [], {}
    for name, folder in (("train", train_root), ("test", test_root)):
        if folder is not None:
            splits[name], bad = _index_split(root, folder, classes, on_bad_file, verify, workers, kinds_by_path)
            skipped += bad
    if skipped:
        counts = {}
        for _, kind in skipped:
            counts[kind] = counts.get(kind, 0) + 1
        log.warning("skipped %d unreadable file(s) under %s (%s; first: %s); data.on_bad_file=error stops instead",
                    len(skipped), root, ", ".join(f"{n} {k}" for k, n in sorted(counts.items())), skipped[0][0])
    everything = [p for s in splits.values() for p in s.paths]
    digest = _content_digest(root, everything, workers) if content_hash else _listing_digest(splits)
    manifest = Manifest(root, tuple(classes), splits["train"], splits.get("test"), tuple(skipped), digest)
    log.info("indexed %s: %d classes, %s training and %s test files in %.1f s", root, len(classes),
             f"{len(manifest.train):,}", f"{len(manifest.test) if manifest.test is not None else 0:,}",
             time.perf_counter() - started)
    manifest = _convert_other_images(manifest, kinds_by_path, Path(cache_dir) / "converted" if cache_dir else None)
    if cache is not None:
        _write_cache(cache, manifest)
    return manifest


def _convert_other_images(manifest: Manifest, kinds: dict[str, str], folder: Path | None) -> Manifest:
    """Re-encode the manifest's non-JPEG images as RGB JPEG under ``folder`` (this suite's cache, never the
    tree) and point the manifest at them; without a cache folder they stay, routed per image."""
    import dataclasses

    if folder is None or not kinds:
        return dataclasses.replace(manifest, all_jpeg=not kinds)
    from src.data.tfrecord_codec import as_rgb_jpeg

    folder.mkdir(parents=True, exist_ok=True)
    moved = {}
    for rel in kinds:
        target = folder / f"{hashlib.sha256(f'{manifest.root.resolve()}/{rel}'.encode()).hexdigest()[:20]}.jpg"
        if not target.exists():
            atomic_write_bytes(target, as_rgb_jpeg(manifest.root / rel))
        moved[rel] = str(target.resolve())
    log.info("%d non-JPEG image(s) re-encoded as JPEG in %s (the tree is left as it is)", len(moved), folder)

    def redirect(split: SplitFiles | None) -> SplitFiles | None:
        if split is None:
            return None
        return SplitFiles(tuple(moved.get(p, p) for p in split.paths), split.labels, split.sizes)

    return dataclasses.replace(manifest, train=redirect(manifest.train), test=redirect(manifest.test),
                               converted=tuple(moved.values()), all_jpeg=True)


def _split_json(s: SplitFiles | None) -> dict | None:
    return None if s is None else {"paths": list(s.paths), "labels": s.labels.tolist(), "sizes": s.sizes.tolist()}


def _write_cache(cache: Path, manifest: Manifest) -> None:
    data = {"version": MANIFEST_VERSION, "classes": list(manifest.classes), "train": _split_json(manifest.train),
            "test": _split_json(manifest.test), "skipped": [list(s) for s in manifest.skipped], "digest": manifest.digest,
            "converted": list(manifest.converted), "all_jpeg": manifest.all_jpeg}
    try:
        atomic_write_text(cache, json.dumps(data))
    except OSError as exc:  # a read-only cache folder costs the next job an index pass, nothing else
        log.warning("could not cache the manifest in %s (%s)", cache, exc)


def _from_json(root: Path, data: dict) -> Manifest:
    if data.get("version") != MANIFEST_VERSION:
        raise ValueError(f"manifest version {data.get('version')}")
    converted = set(data.get("converted", []))
    if not all(Path(c).is_file() for c in converted):
        raise ValueError("a converted image is missing")

    def split(d: dict | None) -> SplitFiles | None:
        if d is None:
            return None
        if not (len(d["paths"]) == len(d["labels"]) == len(d["sizes"])):
            raise ValueError("paths, labels and sizes differ in length")
        if any((p.startswith("/") and p not in converted) or ".." in p.split("/") for p in d["paths"]):
            raise ValueError("a path leaves the tree")  # the cache names files under root, or its own conversions
        return SplitFiles(tuple(d["paths"]), np.asarray(d["labels"], np.int64), np.asarray(d["sizes"], np.int64))

    return Manifest(root, tuple(data["classes"]), split(data["train"]), split(data["test"]),
                    tuple(tuple(s) for s in data["skipped"]), data["digest"], tuple(data.get("converted", [])),
                    bool(data.get("all_jpeg", False)))
