"""Data distillation, Deep Compression's retraining and DSD on a streamed ImageNet-format tree (with bad
files planted): the semi-supervised split and the pseudo-labelled student's mixed stream of
`src.data.folder_source`, then each job through the real CLI in smoke size."""

from __future__ import annotations

import json

import numpy as np
import pytest

from src.data.fake_tree import BAD_KINDS, make_tree
from src.data.labelled import save_pseudo_labels
from src.errors import ConfigError, DataError
from tests.data.test_paper_scale_cli import SMALL
from tests.test_cli import run_cli


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return make_tree(tmp_path_factory.mktemp("imagenet"), classes=3, train_per_class=8, val_per_class=2,
                     bad=BAD_KINDS, scale=0.12)


def _cfg(tree, cache, **extra):
    cfg = {"name": "imagenet_folder", "root": str(tree.root), "image_size": 32, "channels": 3, "recipe": "inception",
           "crop_pct": 0.875, "val_fraction": 0.2, "split_seed": 0, "manifest_cache": str(cache),
           "augment": {"horizontal_flip": True}, "labelled_fraction": 0.5, "labelled_seed": 1, "pseudo_ratio": 0.4}
    cfg.update(extra)
    return cfg


def test_labelled_part_and_pool_split_the_training_files(tree, tmp_path):
    from src.data.folder_source import FolderSource

    whole = FolderSource({**_cfg(tree, tmp_path), "labelled_fraction": None})
    source = FolderSource(_cfg(tree, tmp_path))
    labelled, pool = source.files["train"], source.files["pool"]
    assert sorted(labelled.paths + pool.paths) == sorted(whole.files["train"].paths)
    assert not set(labelled.paths) & set(pool.paths)
    assert [whole.files["train"].paths[i] for i in source.pool_indices] == list(pool.paths)
    assert set(labelled.labels.tolist()) == {0, 1, 2}  # stratified: every class labelled
    assert source.fingerprint != whole.fingerprint and source.mixed_shares(8) is None


def test_student_stream_mixes_pseudo_labels_per_batch_and_resumes_bit_identically(tree, tmp_path):
    from src.data.folder_source import FolderSource

    source = FolderSource(_cfg(tree, tmp_path))
    pool = source.files["pool"]
    chosen = source.pool_indices[::2]
    assert set(pool.labels[::2].tolist()) != {2}
    pseudo = np.full(len(chosen), 2)  # pseudo-labels that differ from the truth: the stream must carry these
    path = save_pseudo_labels(tmp_path / "p.npz", chosen, pseudo, np.ones(len(chosen)))
    student = FolderSource(_cfg(tree, tmp_path, pseudo_labels=str(path)))
    n_labelled = len(source.files["train"])
    assert student.num_examples("train") == n_labelled + len(chosen)
    assert student.mixed_shares(5) == (3, 2)
    steps = -(-n_labelled // 3)  # one pass over the labelled part per epoch
    batches = [(x.numpy(), y.numpy()) for x, y in student.train_uint8(seed=2, epochs=2, batch_size=5, steps=steps)]
    assert len(batches) == 2 * steps and all(x.shape == (5, 32, 32, 3) and x.dtype == np.uint8 for x, _ in batches)
    assert all((y[3:] == 2).all() for _, y in batches)  # the 2 pseudo-labelled places of each batch
    first_pass = np.concatenate([y[:3] for _, y in batches[:steps]])[:n_labelled]  # one permutation of the labelled part
    assert sorted(first_pass.tolist()) == sorted(source.files["train"].labels.tolist())
    resumed = [(x.numpy(), y.numpy()) for x, y in student.train_uint8(seed=2, epochs=2, start_epoch=1, batch_size=5,
                                                                      steps=steps)]
    for (xa, ya), (xb, yb) in zip(batches[steps:], resumed, strict=True):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)


def test_pseudo_labels_outside_the_pool_and_record_order_sources_are_refused(tree, tmp_path):
    from src.data import open_source
    from src.data.folder_source import FolderSource

    source = FolderSource(_cfg(tree, tmp_path))
    labelled_index = next(i for i in range(len(source.files["train"]) + len(source.pool_indices))
                          if i not in set(source.pool_indices.tolist()))
    path = save_pseudo_labels(tmp_path / "leak.npz", [labelled_index], [0], [1.0])
    with pytest.raises(DataError, match="outside the unlabelled part"):
        FolderSource(_cfg(tree, tmp_path, pseudo_labels=str(path)))
    with pytest.raises(ConfigError, match="record order"):
        open_source({"name": "tfrecord", "root": str(tmp_path), "labelled_fraction": 0.5})


def _job_results(tmp_path) -> dict:
    return json.loads((tmp_path / "out" / "results.json").read_text())


def test_distillation_streams_teacher_pool_and_students_through_the_cli(tree, tmp_path):
    proc = run_cli(["experiment=data_distillation", "hydra.mode=RUN", "data=imagenet_folder", f"data.root={tree.root}",
                    "model=lenet5", "data.image_size=32", f"data.manifest_cache={tmp_path}/cache",
                    "data.labelled_fraction=0.5", "~distill.students.multi_heuristic",
                    "~distill.students.multi_scale_heuristic", "distill.students.multi_fixed.threshold=0.0", *SMALL],
                   tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = _job_results(tmp_path)
    student = results["students"]["multi_fixed"]
    assert student["pseudo_count"] == results["unlabelled_examples"] > 0  # threshold 0: every pool image
    assert student["test_accuracy"] is not None
    saved = np.load(tmp_path / "out" / "pseudo" / "multi_fixed.npz")
    student_job = json.loads((tmp_path / "out" / "multi_fixed" / "results.json").read_text())
    assert student_job["train_examples"] == results["labelled_examples"] + len(saved["labels"])
    assert "each batch mixes" in proc.stderr + proc.stdout


def test_deep_compression_retrains_on_the_stream_through_the_cli(tree, tmp_path):
    proc = run_cli(["experiment=deep_compression", "hydra.mode=RUN", "data=imagenet_folder", f"data.root={tree.root}",
                    "model=lenet_300_100", "data.image_size=32", f"data.manifest_cache={tmp_path}/cache",
                    "compress.prune_epochs=4", "compress.share_epochs=1", "compress.batch_size=8", *SMALL], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = _job_results(tmp_path)
    assert "streaming" in proc.stdout and results["ratio_pq"] > 10
    assert results["kept_fraction"] == pytest.approx(0.082, abs=0.01)  # LeNet-300-100's 8/9/26 %
    assert results["dense_accuracy"] == pytest.approx(results["base_test_accuracy"], abs=1e-6)  # same test stream
    assert (tmp_path / "out" / "compressed" / "compressed.keras").exists()


def test_dsd_trains_every_phase_on_the_stream_through_the_cli(tree, tmp_path):
    proc = run_cli(["experiment=dsd", "hydra.mode=RUN", "data=imagenet_folder", f"data.root={tree.root}",
                    "model=lenet5", "data.image_size=32", f"data.manifest_cache={tmp_path}/cache", "dsd.dense_epochs=1",
                    "dsd.sparse_epochs=1", "dsd.redense_epochs=1", *SMALL], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    stages = _job_results(tmp_path)["stages"]
    assert stages["sparse"]["kernel_sparsity"] == pytest.approx(0.5, abs=0.01) and stages["redense"]["kernel_sparsity"] < 0.05
