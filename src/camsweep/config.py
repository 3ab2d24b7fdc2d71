"""Configuration: schema validation with defaults, and checks the schema cannot express.

Errors name the dotted key at fault and the allowed values (a misspelt key or name also gets the nearest
valid ones, ``did you mean ...?``), and are all reported at once, before any job runs. A user checkpoint
(``models.<name>.checkpoint``) must exist when the DAG is built. The one default the schema cannot express,
a model's ``cam_layers`` (from its architecture), is filled in too (:func:`fill_cam_layers`).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from camsweep.spelling import close_matches, did_you_mean


class ConfigError(ValueError):
    """The configuration is invalid; the message lists every problem with its key."""


def load_schema(path: str | os.PathLike) -> dict[str, Any]:
    """The config schema, with its CAM-method enums filled from the registry (camsweep.cams.registry): a
    method is declared in one place, and the schema follows."""
    from camsweep.cams import registry  # torch: only where a schema is loaded

    with open(path) as handle:
        schema = yaml.safe_load(handle)
    definitions = schema.get("$defs", {})
    if "cam_method" in definitions:
        definitions["cam_method"]["enum"] = list(registry.names())
    if "baseline_map" in definitions:
        definitions["baseline_map"]["enum"] = list(registry.names(baseline=True))
    if "gradient_cam_method" in definitions:
        definitions["gradient_cam_method"]["enum"] = [
            name for name in registry.names("shared") if registry.get(name).needs_gradients
        ]
    return schema


def _resolved(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with a local ``$ref`` (``#/$defs/<name>``) replaced by its target; the object branch of
    a ``oneOf`` stands for the whole when exactly one branch is an object or a reference."""
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return {**_resolved(target, root), **{k: v for k, v in schema.items() if k != "$ref"}}
    branches = [b for b in schema.get("oneOf", []) if "$ref" in b or b.get("type") == "object"]
    if len(branches) == 1:
        return {**_resolved(branches[0], root), **{k: v for k, v in schema.items() if k != "oneOf"}}
    return schema


def fill_defaults(instance: Any, schema: dict[str, Any], root: dict[str, Any] | None = None) -> None:
    """Insert schema defaults for missing keys, recursing through properties, additionalProperties and
    local references."""
    root = schema if root is None else root
    schema = _resolved(schema, root)
    if not isinstance(instance, dict):
        return
    properties = schema.get("properties", {})
    for key, subschema in properties.items():
        if key not in instance and "default" in subschema:
            instance[key] = copy.deepcopy(subschema["default"])
        if key in instance:
            fill_defaults(instance[key], subschema, root)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for key, value in instance.items():
            if key not in properties:
                fill_defaults(value, extra, root)


def canonical(value: Any) -> Any:
    """``value`` with every mapping's keys sorted, recursively.

    Snakemake decides whether params changed by comparing their text, so the same settings written in
    another key order would otherwise rerun every job that depends on them.
    """
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value)}
    if isinstance(value, (list, tuple)):
        return [canonical(item) for item in value]
    return value


def _suggestions(unknown: Iterable[Any], choices: Iterable[Any]) -> str:
    """``did_you_mean`` for several unknown words: ``"; did you mean 'b' (for 'a'), ...?"``."""
    choices = list(choices)
    unknown = list(unknown)
    if len(unknown) == 1:
        return did_you_mean(unknown[0], choices)
    found = [f"{' or '.join(map(repr, close))} (for {word!r})" for word in unknown if (close := close_matches(word, choices, n=2))]
    return f"; did you mean {', '.join(found)}?" if found else ""


def _dotted(path: Any) -> str:
    return ".".join(str(part) for part in path) or "(top level)"


def _describe(error: jsonschema.ValidationError) -> str:
    if error.validator in ("oneOf", "anyOf") and error.context:
        # "Not valid under any of the given schemas" names nothing: describe the branch that came closest.
        nested = [e for e in error.context if e.validator != "type" or len(e.absolute_path) > len(error.absolute_path)]
        return _describe(jsonschema.exceptions.best_match(nested or error.context))
    where = _dotted(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        unexpected = sorted(set(error.instance) - set(allowed))
        return f"{where}: unknown key(s) {unexpected}; valid keys: {allowed}{_suggestions(unexpected, allowed)}"
    if "propertyNames" in error.relative_schema_path and error.validator == "enum":
        hint = did_you_mean(error.instance, error.validator_value)
        return f"{where}: unknown key {error.instance!r}; valid: {error.validator_value}{hint}"
    if error.validator == "enum":
        hint = did_you_mean(error.instance, error.validator_value)
        return f"{where}: {error.instance!r} is not allowed; valid: {error.validator_value}{hint}"
    if error.validator == "required" and isinstance(error.instance, dict):
        # A required key reported missing is often present under a misspelt name: point at it.
        missing = next((key for key in error.validator_value if key not in error.instance), None)
        allowed = error.schema.get("properties", {})
        typos = [key for key in error.instance if missing and key not in allowed and close_matches(key, [missing])]
        if typos:
            return f"{where}: {error.message}; found {typos[0]!r} instead: rename it to {missing!r}"
    return f"{where}: {error.message}"


def validate(config: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Fill defaults into ``config`` (in place) and validate it; raise :class:`ConfigError` listing all errors."""
    fill_defaults(config, schema)
    validator = jsonschema.Draft202012Validator(schema)
    problems = sorted({_describe(error) for error in validator.iter_errors(config)})
    if not problems:
        # A config whose default layers cannot be found cannot be checked further (its layers are unknown).
        problems = fill_cam_layers(config) or check_semantics(config)
    if problems:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))
    return config


def fill_cam_layers(config: dict[str, Any]) -> list[str]:
    """``models.<name>.cam_layers`` where the config leaves it out: the architecture's default layer
    (:mod:`camsweep.models.architectures`), written into the config (in place) so that it is a param of
    every rule that uses it and so reaches the provenance of what they write (a trained model's metrics
    record its options, each CAM file its layers). Returns the problems: a model whose architecture is
    unknown, or has no default."""
    from camsweep.models.architectures import NoDefaultLayer, default_layer

    problems = []
    for name, model in config["models"].items():
        if "cam_layers" in model:
            continue
        network = _network(model)
        if isinstance(network, str):
            problems.append(_model_problem(name, network))
            continue
        try:
            model["cam_layers"] = [default_layer(network, model["architecture"]).layer]
        except NoDefaultLayer as error:
            problems.append(f"models.{name}.cam_layers: not set, and {error}")
    return problems


def check_semantics(config: dict[str, Any]) -> list[str]:
    """Cross-field checks on a schema-valid config (with :func:`fill_cam_layers` done); returns the problems found."""
    problems = []
    for name, dataset in config["datasets"].items():
        problems.extend(_check_real_dataset(name, dataset))
        synthetic = dataset.get("synthetic", {})
        low, high = synthetic.get("object_radius", (0, 0))
        if low > high:
            problems.append(f"datasets.{name}.synthetic.object_radius: lower bound {low} exceeds upper bound {high}")
        n_classes = len(synthetic.get("classes", []))
        if dataset["source"] == "synthetic" and dataset["splits"]["test"] < n_classes:
            problems.append(
                f"datasets.{name}.splits.test: {dataset['splits']['test']} images cannot cover the "
                f"{n_classes} classes (ROC-AUC needs every class)"
            )
    figures, methods = config["figures"], config["cams"]["methods"]
    if figures["example_method"] not in methods:
        problems.append(
            f"figures.example_method: {figures['example_method']!r} is not in cams.methods {methods}"
            f"{did_you_mean(figures['example_method'], methods)}"
        )
    both = cam_methods(config)
    method_layers = config["cams"]["layers"]
    for method in method_layers:
        if method not in both:
            problems.append(f"cams.layers.{method}: {method!r} is not in cams.methods or cams.baselines {both}"
                            f"{did_you_mean(method, both)}")
    for name, model in config["models"].items():
        problems.extend(_check_initialisation(config, name, model))
        problems.extend(_check_checkpoint(name, model))
        sanity_key = f"models.{name}.randomise_from" if model["randomise_from"] else "sanity.randomise_from"
        layer_keys = {sanity_key: randomise_from(config, name)}
        for layer in model.get("cam_layouts", {}):
            layer_keys[f"models.{name}.cam_layouts.{layer}"] = layer
        attention = model["train"]["attention"]
        if attention is not None:
            layer_keys[f"models.{name}.train.attention.layer"] = attention["layer"]
            problems.extend(_check_attention(config, f"models.{name}.train.attention", attention))
        problems.extend(_check_model(name, model, layer_keys))
        problems.extend(_check_blocks(config, name, model))
        for method, layers in method_layers.items():
            outside = [layer for layer in layers if layer not in model["cam_layers"]]
            if outside:
                problems.append(
                    f"cams.layers.{method}: {outside} not in models.{name}.cam_layers {model['cam_layers']}"
                )
        example_layers = cam_layers(config, name, figures["example_method"])
        if figures["example_layer"] is not None and figures["example_layer"] not in example_layers:
            problems.append(
                f"figures.example_layer: {figures['example_layer']!r} is not among the layers of "
                f"{figures['example_method']} for models.{name} {example_layers}"
            )
    every_layer = {layer for model in config["models"].values() for layer in model["cam_layers"]}
    unscored = [layer for layer in config["faithfulness"]["layers"] if layer not in every_layer]
    if unscored and config["models"]:
        problems.append(f"faithfulness.layers: {unscored} are in no model's cam_layers {sorted(every_layer)}")
    problems.extend(_check_segmenters(config))
    problems.extend(_check_shortcut(config))
    robustness = config["studies"]["perturbation_robustness"]
    if robustness["enabled"] and robustness["method"] not in methods:
        problems.append(f"studies.perturbation_robustness.method: {robustness['method']!r} is not in cams.methods "
                        f"{methods}{did_you_mean(robustness['method'], methods)}")
    return problems


def explains_imagenet(model: dict[str, Any]) -> bool:
    """Whether a configured classifier keeps its ImageNet head (ImageNet weights, no training): it explains
    ImageNet classes, so accuracy and ROC-AUC against the dataset's labels are not defined."""
    return model["weights"] == "imagenet" and model["train"]["epochs"] == 0


def trains(model: dict[str, Any]) -> bool:
    return model["train"]["epochs"] > 0


def has_masks(dataset: dict[str, Any]) -> bool | None:
    """Whether a configured dataset has ground-truth masks (None: known only once prepared, a manifest)."""
    source = dataset["source"]
    if source == "manifest":
        return None
    return source in ("synthetic", "oxford_pet") or (source == "folder" and dataset["folder"]["masks"] is not None)


def _check_real_dataset(name: str, dataset: dict[str, Any]) -> list[str]:
    source, key = dataset["source"], f"datasets.{name}"
    if source == "synthetic":
        return []
    problems = []
    if dataset["root"] is None:
        problems.append(f"{key}.root: a {source} dataset needs the folder (or, for manifest, the CSV) of its raw files")
    if source == "medmnist" and dataset["medmnist"]["size"] < 32 and (dataset["image_size"] or 0) < 32:
        problems.append(
            f"{key}.medmnist.size: {dataset['medmnist']['size']} px is below the 32 px the perturbations need; "
            "use size 64 (or more), or set image_size: 32"
        )
    if source == "oxford_pet" and dataset["image_size"] is None:
        problems.append(
            f"{key}.image_size: Oxford-IIIT Pet images differ in size (e.g. 500x375, 375x500), so null would fail "
            "once every image is decoded; set image_size (e.g. 224) to resize them to one square side"
        )
    if source == "oxford_pet" and dataset["oxford_pet"]["breeds"] is not None:
        from camsweep.data.oxford_pet import BREEDS

        unknown = [breed for breed in dataset["oxford_pet"]["breeds"] if breed not in BREEDS]
        if unknown:
            problems.append(f"{key}.oxford_pet.breeds: unknown {unknown}; valid: {list(BREEDS)}{_suggestions(unknown, BREEDS)}")
    numbers = dataset["oxford_pet"]["numbers"]
    if numbers is not None and numbers[0] > numbers[1]:
        problems.append(f"{key}.oxford_pet.numbers: lower bound {numbers[0]} exceeds upper bound {numbers[1]}")
    return problems


def _check_initialisation(config: dict[str, Any], name: str, model: dict[str, Any]) -> list[str]:
    key = f"models.{name}"
    if model["weights"] is not None and model["checkpoint"] is not None:
        return [f"{key}: weights ({model['weights']!r}) and checkpoint ({model['checkpoint']!r}) exclude each other"]
    if not trains(model) and model["weights"] is None and model["checkpoint"] is None:
        return [f"{key}.train.epochs: 0 trains nothing; give weights: imagenet or a checkpoint, or epochs >= 1"]
    problems = []
    if not trains(model) and (model["train"]["attention"] is not None or model["train"]["augmentation"] is not None):
        problems.append(f"{key}.train: attention and augmentation act in training, but epochs is 0")
    if explains_imagenet(model) and config["cams"]["target"] == "label":
        problems.append(
            f"cams.target: 'label' is not an ImageNet class; models.{name} keeps its ImageNet head (epochs 0): "
            "use predicted or clean_predicted"
        )
    if (model["weights"] is not None or model["checkpoint"] is not None) and model["stem"] != "standard":
        problems.append(f"{key}.stem: pretrained weights fit the standard stem only, not {model['stem']!r}")
    if model["weights"] is not None and model["width"] != 1.0:
        problems.append(f"{key}.width: ImageNet weights fit width 1.0 only, not {model['width']!r}")
    return problems


def _check_checkpoint(name: str, model: dict[str, Any]) -> list[str]:
    """A user checkpoint must be an existing file when the DAG is built (not when training starts); a path under
    results/ may be another rule's output, and is left to Snakemake."""
    path = model["checkpoint"]
    if path is None or Path(path).parts[:1] == ("results",):
        return []
    key = f"models.{name}.checkpoint"
    where = "" if os.path.isabs(path) else f" (relative paths start from the working directory {os.getcwd()})"
    if os.path.isdir(path):
        return [f"{key}: {path} is a folder{where}; give the checkpoint file itself (.pt / .pth, or TorchScript)"]
    if not os.path.isfile(path):
        return [
            f"{key}: {path} does not exist{where}; give the path of an existing checkpoint file (.pt / .pth, or "
            "TorchScript), or set checkpoint: null (random init, or weights: imagenet)"
        ]
    return []


def configured_classes(config: dict[str, Any], dataset: str) -> list[str] | None:
    """The class names of a dataset where the config fixes them (synthetic classes, or a folder's or manifest's
    `classes`); None where they are known only once prepared."""
    options = config["datasets"][dataset]
    if options["source"] == "synthetic":
        return list(options["synthetic"]["classes"])
    listed = options.get(options["source"], {}).get("classes")
    return None if listed is None else list(listed)


def _check_attention(config: dict[str, Any], key: str, attention: dict[str, Any]) -> list[str]:
    problems = []
    if attention["region"] != "truth" and attention["region"] not in config["segmenters"]:
        problems.append(f"{key}.region: {attention['region']!r} is neither 'truth' nor a segmenter {sorted(config['segmenters'])}")
    by_class = attention.get("region_by_class") or {}  # no schema default: see the schema's region_by_class
    for dataset in config["datasets"]:
        classes = configured_classes(config, dataset)
        unknown = [c for c in attention["skip_classes"] if classes is not None and c not in classes]
        if unknown:
            problems.append(f"{key}.skip_classes: {unknown} are not classes of datasets.{dataset} {classes}")
        unknown = [c for c in by_class if classes is not None and c not in classes]
        if unknown:
            hint = did_you_mean(unknown[0], classes)
            problems.append(f"{key}.region_by_class: {unknown} are not classes of datasets.{dataset} {classes}{hint}")
    skipped = sorted(set(by_class) & set(attention["skip_classes"]))
    if skipped:
        problems.append(f"{key}.region_by_class: {skipped} are also in skip_classes, which gives them no attention "
                        "term; keep them in one of the two")
    return problems


def _check_segmenters(config: dict[str, Any]) -> list[str]:
    from camsweep.models.segmentation import channel_names_for

    problems = []
    for name, dataset in config["datasets"].items():
        source = dataset["regions_from"]
        if source is not None and source not in config["segmenters"]:
            problems.append(f"datasets.{name}.regions_from: {source!r} is not a segmenter {sorted(config['segmenters'])}")
    for name, segmenter in config["segmenters"].items():
        dataset = segmenter["dataset"]
        if dataset not in config["datasets"]:
            problems.append(f"segmenters.{name}.dataset: {dataset!r} is not a dataset {sorted(config['datasets'])}")
            continue
        options = config["datasets"][dataset]
        if has_masks(options) is False:
            problems.append(f"segmenters.{name}.dataset: datasets.{dataset} ({options['source']}) has no masks to learn")
        size = options["synthetic"]["image_size"] if options["source"] == "synthetic" else options["image_size"]
        if size is not None and size % 8:
            problems.append(f"segmenters.{name}: the U-Net needs image sides divisible by 8; datasets.{dataset} has {size}")
        classes = configured_classes(config, dataset)
        if segmenter["masks"] == "per_class" and classes is None:
            problems.append(
                f"segmenters.{name}.masks: per_class needs the class list in the config; set "
                f"datasets.{dataset}.{options['source']}.classes or use binary"
            )
            continue
        channels = list(channel_names_for(segmenter["masks"], classes or []))
        target = segmenter["cams"]["target"]
        if target not in channels:
            problems.append(f"segmenters.{name}.cams.target: {target!r} is not an output channel; valid: {channels}")
    return problems


def _check_shortcut(config: dict[str, Any]) -> list[str]:
    shortcut = config["shortcut"]
    if not shortcut["enabled"]:
        return []
    problems = []
    if shortcut["dataset"] not in config["datasets"] or config["datasets"][shortcut["dataset"]]["source"] != "synthetic":
        synthetic = sorted(d for d, options in config["datasets"].items() if options["source"] == "synthetic")
        problems.append(f"shortcut.dataset: {shortcut['dataset']!r} is not a synthetic dataset {synthetic}")
    elif shortcut["synthetic"]:
        problems.extend(_check_overrides(config["datasets"][shortcut["dataset"]]["synthetic"], shortcut["synthetic"]))
    if shortcut["model"] not in config["models"]:
        return [*problems, f"shortcut.model: {shortcut['model']!r} is not a model {sorted(config['models'])}"]
    if shortcut["attention"]["region"] != "truth":
        problems.append("shortcut.attention.region: the shortcut study uses the synthetic masks; it must be 'truth'")
    problems.extend(_check_attention(config, "shortcut.attention", shortcut["attention"]))
    layers = _module_names(config["models"][shortcut["model"]])
    if not isinstance(layers, set):
        return problems
    for key, layer in (("shortcut.attention.layer", shortcut["attention"]["layer"]), ("shortcut.explain.layer", shortcut["explain"]["layer"])):
        if layer not in layers:
            problems.append(f"{key}: {layer!r} is not a layer of models.{shortcut['model']}; valid: {sorted(layers)}")
    return problems


def shortcut_synthetic(config: dict[str, Any]) -> dict[str, Any]:
    """The shortcut study's synthetic section: its dataset's, with shortcut.synthetic's overrides."""
    return {**config["datasets"][config["shortcut"]["dataset"]]["synthetic"], **config["shortcut"]["synthetic"]}


def _check_overrides(base: dict[str, Any], overrides: dict[str, Any]) -> list[str]:
    from camsweep.data import synthetic

    try:
        synthetic.spec_from_config({**base, **overrides}, 1.0, "correlated")
    except (TypeError, ValueError) as error:
        return [f"shortcut.synthetic: {error}"]
    return []


def randomise_from(config: dict[str, Any], model: str) -> str:
    """Where the sanity check starts re-initialising ``model``: its own randomise_from, else sanity's."""
    return config["models"][model]["randomise_from"] or config["sanity"]["randomise_from"]


def sanity_blocks(config: dict[str, Any], model: str) -> list[str] | None:
    """The blocks of ``model``'s cascading randomisation test, top-down: its own blocks, else sanity's
    (None: its top-level children, camsweep.sanity.top_level_blocks)."""
    blocks = config["models"][model]["blocks"]
    return blocks if blocks is not None else config["sanity"]["blocks"]


def example_layer(config: dict[str, Any], model: str) -> str:
    """The example figure's layer for ``model``: figures.example_layer, or its example method's last layer."""
    return config["figures"]["example_layer"] or cam_layers(config, model, config["figures"]["example_method"])[-1]


def cam_settings(config: dict[str, Any], model: str | None = None) -> dict[str, Any]:
    """The ``camsweep.cams.CamSettings`` fields for ``model`` (a classifier; None: a segmenter): the cams
    section's, and the model's ``cam_layouts`` where it sets any (absent otherwise, so that the params of
    jobs without them stay as they were)."""
    settings = {key: config["cams"][key] for key in ("batch_size", "memory_budget_mb", "scorecam_top_k")}
    layouts = config["models"][model].get("cam_layouts") if model is not None else None
    return canonical(settings | ({"layouts": layouts} if layouts else {}))


def cam_methods(config: dict[str, Any]) -> list[str]:
    """Every map the run computes and scores: ``cams.methods``, then the ``cams.baselines`` not among them."""
    methods = list(config["cams"]["methods"])
    return methods + [name for name in config["cams"]["baselines"] if name not in methods]


def cam_layers(config: dict[str, Any], model: str, method: str) -> list[str]:
    """The layers explained for ``model`` with ``method``: cams.layers.<method> if set, else cam_layers."""
    return list(config["cams"]["layers"].get(method, config["models"][model]["cam_layers"]))


def _network(model: dict[str, Any]) -> Any:
    """A configured classifier's module tree (:func:`camsweep.models.classifiers.skeleton`: no weights, on the
    meta device where it can be), or the reason it cannot be built."""
    from camsweep.models.classifiers import ClassifierSpec, skeleton, unknown_architecture

    try:
        why = unknown_architecture(model["architecture"])
    except ImportError as error:  # timm/<name> without timm installed
        return f"architecture: {error}"
    if why is not None:
        return f"architecture: unknown {model['architecture']!r}{why}"
    spec = ClassifierSpec(
        model["architecture"], 2, stem=model["stem"], last_stride=model["last_stride"], width=model["width"]
    )
    try:
        return skeleton(spec)
    except ValueError as error:
        return str(error)


def _module_names(model: dict[str, Any]) -> set[str] | str:
    """Module names of a configured classifier, or the reason it cannot be built."""
    network = _network(model)
    if isinstance(network, str):
        return network
    return {layer for layer, _ in network.named_modules() if layer}


def _model_problem(name: str, reason: str) -> str:
    return f"models.{name}.{reason}" if reason.startswith("architecture") else f"models.{name}: {reason}"


def _check_blocks(config: dict[str, Any], name: str, model: dict[str, Any]) -> list[str]:
    """The sanity test's blocks must be modules of the model that own parameters (camsweep.sanity.block_modules)."""
    blocks = sanity_blocks(config, name)
    network = _network(model) if blocks else None
    if network is None or isinstance(network, str):  # no blocks, or a model _check_model reports
        return []
    valid = [layer for layer, module in network.named_modules() if layer and next(module.parameters(), None) is not None]
    unknown = [block for block in blocks if block not in valid]
    if not unknown:
        return []
    key = f"models.{name}.blocks" if model["blocks"] is not None else "sanity.blocks"
    return [f"{key}: {unknown} are not modules of models.{name} that own parameters; valid: {valid}"
            f"{_suggestions(unknown, valid)}"]


def _check_model(name: str, model: dict[str, Any], layer_keys: dict[str, str]) -> list[str]:
    """``layer_keys`` maps a config key to a module name it must name (besides ``cam_layers``)."""
    layers = _module_names(model)
    if isinstance(layers, str):
        return [_model_problem(name, layers)]
    unknown = [layer for layer in model["cam_layers"] if layer not in layers]
    if unknown:
        return [f"models.{name}.cam_layers: unknown layer(s) {unknown}; valid: {sorted(layers)}{_suggestions(unknown, sorted(layers))}"]
    return [
        f"{key}: {layer!r} is not a layer of models.{name}; valid: {sorted(layers)}{did_you_mean(layer, sorted(layers))}"
        for key, layer in layer_keys.items()
        if layer not in layers
    ]
