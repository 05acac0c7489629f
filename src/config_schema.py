"""One schema for the composed job config: the type and range of every field, checked before anything starts.

Written as pydantic models (pydantic comes with mlflow) because Hydra's structured configs check types
but not ranges or cross-field rules. Strict mode: ``"abc"`` is no number and ``1`` no boolean; an int is
accepted where a float is asked. `validate_config` raises one `ConfigError` line naming every bad field;
`src.cli_checks` calls it on the composed config before Hydra creates a folder, and `src.train.train`
calls it again for configs that did not come through the command line.

Data sets: `DATA_SCHEMAS` maps ``data.name`` to its model. A data set without an entry is checked
against `DataConfig` (the fields the training loop reads), and fields a schema does not declare pass
(``extra="allow"``): that is the extension point for a new ``conf/data/*.yaml`` — subclass `DataConfig`
with its fields and add it to `DATA_SCHEMAS`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from src.errors import ConfigError

PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]
Seed = Annotated[int, Field(ge=0, lt=2**32)]  # NumPy's seed range
Fraction = Annotated[float, Field(ge=0.0, lt=1.0)]  # [0, 1)
Share = Annotated[float, Field(gt=0.0, le=1.0)]  # (0, 1]
PositiveFloat = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Text = Annotated[str, Field(min_length=1)]

#: Kept in step with src.export.tflite.FORMATS (a test checks it); repeated so this module imports no TensorFlow.
TFLITE_FORMATS = ("float32", "float16", "dynamic_int8", "int8", "int8_equalized")


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class _Open(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


class TrainConfig(_Strict):
    """conf/train/*.yaml."""

    epochs: PositiveInt
    optimizer: Literal["sgd"] = "sgd"
    learning_rate: PositiveFloat
    base_batch_size: PositiveInt = 128
    momentum: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.9
    nesterov: bool = True
    weight_decay: NonNegativeFloat = 0.0
    label_smoothing: Fraction = 0.0
    clip_norm: PositiveFloat | None = None
    aux_loss_weight: NonNegativeFloat | None = None
    schedule: Literal["cosine", "step", "constant"] = "cosine"
    warmup_epochs: NonNegativeInt = 0
    milestones: list[Annotated[float, Field(gt=0.0, lt=1.0)]] = []
    gamma: PositiveFloat = 0.1
    jit_compile: bool = True
    deterministic: bool = True
    checkpoint: bool = True
    init_weights: Text | None = None
    sparsity: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None  # fraction pruned, (0, 1); null: dense
    verbose: Literal["auto", 0, 1, 2] = "auto"
    progress_every_s: PositiveFloat | None = None
    precision: Literal["float32", "mixed_float16", "mixed_bfloat16"] = "float32"
    distribution: Literal["none", "mirrored", "multi_worker", "data_parallel"] = "none"

    @field_validator("verbose", mode="before")
    @classmethod
    def _no_bool_verbose(cls, value: Any) -> Any:
        if isinstance(value, bool):  # Literal[0, 1] would take False/True as 0/1
            raise ValueError("give auto, 0, 1 or 2")
        return value

    @model_validator(mode="after")
    def _warmup_within_epochs(self) -> TrainConfig:
        if self.warmup_epochs > self.epochs:
            raise ValueError(f"train.warmup_epochs={self.warmup_epochs} is more than train.epochs={self.epochs}; "
                             "lower train.warmup_epochs")
        if self.milestones != sorted(self.milestones):
            raise ValueError(f"train.milestones={self.milestones} must increase")
        return self


class Augment(_Open):
    random_crop_pad: NonNegativeInt = 0
    horizontal_flip: bool = False


class Normalize(_Open):
    mean: list[Annotated[float, Field(allow_inf_nan=False)]] = Field(min_length=1)
    std: list[PositiveFloat] = Field(min_length=1)


class DataConfig(_Open):
    """The fields the training loop reads from every data set (conf/data/*.yaml)."""

    name: Text
    image_size: PositiveInt
    channels: Literal[1, 3]
    resize: Literal["pad", "bilinear"] = "pad"
    val_fraction: Fraction = 0.0
    split_seed: Seed = 0
    train_subset: PositiveInt | None = None
    subset_seed: Seed | None = None
    eval_subset: PositiveInt | None = None
    labelled_fraction: Share | None = None
    labelled_seed: Seed = 0
    pseudo_labels: Text | None = None
    pseudo_ratio: Fraction | None = None
    batch_size: PositiveInt
    eval_batch_size: PositiveInt = 512
    augment: Augment = Augment()
    normalize: Normalize

    @field_validator("channels", mode="before")
    @classmethod
    def _no_bool_channels(cls, value: Any) -> Any:
        if isinstance(value, bool):  # Literal[1] would take True as 1
            raise ValueError("give 1 (grey) or 3 (RGB)")
        return value

    @model_validator(mode="after")
    def _cross_field(self) -> DataConfig:
        if self.pseudo_labels and self.labelled_fraction is None:
            raise ValueError("data.pseudo_labels needs data.labelled_fraction (the split the labels were made for)")
        for key, values in (("mean", self.normalize.mean), ("std", self.normalize.std)):
            if len(values) not in (1, self.channels):
                fix = "give 1" if self.channels == 1 else f"give {self.channels} (or 1, used for every channel)"
                raise ValueError(f"data.normalize.{key} has {len(values)} values for {self.channels} channel(s); {fix}")
        return self


class FashionMnistConfig(DataConfig):
    """conf/data/fashion_mnist.yaml."""

    path: Text | None = None


class SyntheticConfig(DataConfig):
    """conf/data/synthetic.yaml."""

    num_train: PositiveInt
    num_val: PositiveInt
    num_test: PositiveInt
    num_classes: Annotated[int, Field(ge=2)]


class ImageFolderConfig(DataConfig):
    """conf/data/image_folder.yaml."""

    root: Text
    train_dir: Text | None = "train"
    test_dir: Text | None = "test"
    on_bad_file: Literal["skip", "error"] = "skip"


class StreamedConfig(DataConfig):
    """The fields every streamed data set shares (src/data/sources.py, src/data/recipes.py)."""

    root: Text
    recipe: Literal["inception", "inception_light", "center"] = "inception"
    crop_pct: Annotated[float, Field(gt=0.0, le=1.0)] = 0.875


class ImagenetFolderConfig(StreamedConfig):
    """conf/data/imagenet_folder.yaml."""

    train_dir: Text = "train"
    test_dir: Text | None = "auto"
    val_fraction: Annotated[float, Field(ge=0.0, lt=0.5)] = 0.01
    on_bad_file: Literal["skip", "error"] = "skip"
    verify: Literal["header", "decode"] = "header"
    content_hash: bool = False
    manifest_cache: Text | None = None


class TFRecordConfig(StreamedConfig):
    """conf/data/tfrecord.yaml."""

    val_shards: PositiveInt = 1
    label_offset: NonNegativeInt = 0
    shuffle_buffer: PositiveInt = 10000
    num_classes: Annotated[int, Field(ge=2)] | None = None


class TFDSConfig(StreamedConfig):
    """conf/data/tfds.yaml."""

    train_split: Text = "train"
    val_split: Text = "validation"
    test_split: Text = "validation"
    image_key: Text = "image"
    label_key: Text = "label"
    shuffle_buffer: PositiveInt = 10000


#: data.name -> its schema; a data set without an entry is checked against DataConfig (see the module doc).
DATA_SCHEMAS: dict[str, type[DataConfig]] = {
    "fashion_mnist": FashionMnistConfig,
    "synthetic": SyntheticConfig,
    "image_folder": ImageFolderConfig,
    "imagenet_folder": ImagenetFolderConfig,
    "tfrecord": TFRecordConfig,
    "tfds": TFDSConfig,
}


class ExportConfig(_Strict):
    """conf/export/*.yaml."""

    enabled: bool
    formats: list[Literal[TFLITE_FORMATS]] = ["float32"]  # type: ignore[valid-type]
    max_eval_examples: PositiveInt | None = None
    num_threads: PositiveInt = 2

    @model_validator(mode="after")
    def _some_format(self) -> ExportConfig:
        if self.enabled and not self.formats:
            raise ValueError("export.formats is empty; give at least one format or export=none")
        return self


class LoggerConfig(_Strict):
    """conf/logger/*.yaml."""

    enabled: bool
    tracking_uri: Text | None = None


class ModelConfig(_Open):
    """conf/model/*.yaml: the name, and the knobs checked against the registry's declarations (src.models.knob_table)."""

    name: Text

    @model_validator(mode="after")
    def _knob_values(self) -> ModelConfig:
        from src.models.knob_table import check_knob_values

        check_knob_values(self.name, self.model_extra or {})  # a ConfigError is a ValueError: pydantic reports it
        return self


class ScaleConfig(_Strict):
    """conf/scale/*.yaml: the experiments' scale and the input size standing for each paper resolution."""

    name: Text
    resolution: dict[str, PositiveInt]


class JobConfig(_Open):
    """The top level (conf/config.yaml). Task sections (distill, compress, dsd) and experiments' own keys pass."""

    task: Literal["train", "distill", "compress", "dsd"] = "train"
    seed: Seed
    model_variant: Literal["auto", "paper", "small"] = "auto"
    experiment_name: Text
    run_name: Text | None = None
    output_dir: Text | None = None
    parent_run_id: Text | None = None
    resume: Literal["auto", "never"] = "auto"
    resume_root: Text | None = None
    skip_finished: bool = False
    fail_fast: bool = False
    model: ModelConfig
    data: dict[str, Any]  # checked by its data set's schema, data_schema()
    train: TrainConfig
    logger: LoggerConfig
    export: ExportConfig
    scale: ScaleConfig | None = None


def data_schema(name: Any) -> type[DataConfig]:
    """The schema of data set ``name``: its DATA_SCHEMAS entry, else the common DataConfig."""
    return DATA_SCHEMAS.get(name, DataConfig) if isinstance(name, str) else DataConfig


def _describe(error: dict[str, Any]) -> str:
    """One error of a ValidationError as ``field=value: why``."""
    loc = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]).lstrip(".")
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        return f"{loc} is missing; set {loc}=..."
    if error["type"] == "extra_forbidden":
        return f"{loc} is not a field of {loc.rsplit('.', 1)[0]}.*; remove it, or declare it in src/config_schema.py"
    if error["type"] == "value_error" and isinstance(error["input"], dict):  # a cross-field rule names its fields
        return message
    if error["type"] == "literal_error":  # expected: "'a', 'b' or 'c'" or "1 or 3"
        choices = [a or b for a, b in re.findall(r"'([^']*)'|(\d+)", error["ctx"]["expected"])]
        use = "one of " if loc.endswith("]") else f"{loc}="
        return f"{loc}={error['input']!r} is not valid; use {use}{' | '.join(choices)}"
    hint = f" (for text that looks like a number, quote it: '{loc}=\"{error['input']}\"')" if error["type"] == "string_type" else ""
    return f"{loc}={error['input']!r}: {message[:1].lower()}{message[1:]}{hint}"


def _problems(schema: type[BaseModel], values: Any, prefix: tuple[str, ...] = ()) -> list[str]:
    try:
        schema.model_validate(values)
    except ValidationError as exc:
        return [_describe({**e, "loc": (*prefix, *e["loc"])}) for e in exc.errors(include_url=False)]
    return []


def validate_config(cfg: Mapping[str, Any]) -> None:
    """ConfigError (one line naming every bad field) unless ``cfg``'s values fit the schema; ``hydra`` is skipped."""
    from omegaconf import DictConfig, OmegaConf, open_dict
    from omegaconf.errors import OmegaConfBaseException

    if isinstance(cfg, DictConfig):
        cfg = cfg.copy()
        with open_dict(cfg):
            cfg.pop("hydra", None)
        try:
            plain = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
        except OmegaConfBaseException as exc:  # a mandatory ??? field, or an interpolation that does not resolve
            key = getattr(exc, "full_key", "") or "a config value"
            if "Missing mandatory value" in str(exc):
                raise ConfigError(f"{key} is mandatory and not set; add {key}=... to the command.") from None
            raise ConfigError(f"{key} cannot be resolved: {str(exc).splitlines()[0]}") from None
    else:
        plain = {k: v for k, v in cfg.items() if k != "hydra"}
    problems = _problems(JobConfig, plain)
    data = plain.get("data")
    if isinstance(data, Mapping):
        problems += _problems(data_schema(data.get("name")), data, ("data",))
    if problems:
        text = "; ".join(p.rstrip(".") for p in problems)
        raise ConfigError(f"invalid config: {text}{'' if text.endswith('?') else '.'}")
