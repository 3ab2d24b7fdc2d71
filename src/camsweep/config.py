"""Configuration: schema validation with defaults, and checks the schema cannot express.

Errors name the dotted key at fault and the allowed values, and are all reported at once, before
any job runs.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import jsonschema
import yaml


class ConfigError(ValueError):
    """The configuration is invalid; the message lists every problem with its key."""


def load_schema(path: str | os.PathLike) -> dict[str, Any]:
    with open(path) as handle:
        return yaml.safe_load(handle)


def fill_defaults(instance: Any, schema: dict[str, Any]) -> None:
    """Insert schema defaults for missing keys, recursing through properties and additionalProperties."""
    if not isinstance(instance, dict):
        return
    properties = schema.get("properties", {})
    for key, subschema in properties.items():
        if key not in instance and "default" in subschema:
            instance[key] = copy.deepcopy(subschema["default"])
        if key in instance:
            fill_defaults(instance[key], subschema)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for key, value in instance.items():
            if key not in properties:
                fill_defaults(value, extra)


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


def _dotted(path: Any) -> str:
    return ".".join(str(part) for part in path) or "(top level)"


def _describe(error: jsonschema.ValidationError) -> str:
    where = _dotted(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        unexpected = sorted(set(error.instance) - set(allowed))
        return f"{where}: unknown key(s) {unexpected}; valid keys: {allowed}"
    if "propertyNames" in error.relative_schema_path and error.validator == "enum":
        return f"{where}: unknown key {error.instance!r}; valid: {error.validator_value}"
    if error.validator == "enum":
        return f"{where}: {error.instance!r} is not allowed; valid: {error.validator_value}"
    return f"{where}: {error.message}"


def validate(config: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Fill defaults into ``config`` (in place) and validate it; raise :class:`ConfigError` listing all errors."""
    fill_defaults(config, schema)
    validator = jsonschema.Draft202012Validator(schema)
    problems = sorted({_describe(error) for error in validator.iter_errors(config)})
    if not problems:
        problems = check_semantics(config)
    if problems:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))
    return config


def check_semantics(config: dict[str, Any]) -> list[str]:
    """Cross-field checks on a schema-valid config; returns the problems found."""
    problems = []
    for name, dataset in config["datasets"].items():
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
        problems.append(f"figures.example_method: {figures['example_method']!r} is not in cams.methods {methods}")
    method_layers = config["cams"]["layers"]
    for method in method_layers:
        if method not in methods:
            problems.append(f"cams.layers.{method}: {method!r} is not in cams.methods {methods}")
    for name, model in config["models"].items():
        problems.extend(_check_model(name, model, config["sanity"]["randomise_from"]))
        for method, layers in method_layers.items():
            outside = [layer for layer in layers if layer not in model["cam_layers"]]
            if outside:
                problems.append(
                    f"cams.layers.{method}: {outside} not in models.{name}.cam_layers {model['cam_layers']}"
                )
        unscored = [layer for layer in config["faithfulness"]["layers"] if layer not in model["cam_layers"]]
        if unscored:
            problems.append(f"faithfulness.layers: {unscored} not in models.{name}.cam_layers {model['cam_layers']}")
        example_layers = cam_layers(config, name, figures["example_method"])
        if figures["example_layer"] not in example_layers:
            problems.append(
                f"figures.example_layer: {figures['example_layer']!r} is not among the layers of "
                f"{figures['example_method']} for models.{name} {example_layers}"
            )
    return problems


def cam_layers(config: dict[str, Any], model: str, method: str) -> list[str]:
    """The layers explained for ``model`` with ``method``: cams.layers.<method> if set, else cam_layers."""
    return list(config["cams"]["layers"].get(method, config["models"][model]["cam_layers"]))


def _check_model(name: str, model: dict[str, Any], sanity_from: str | None = None) -> list[str]:
    # Built on the meta device: no memory, no weights, just the module tree to check layer names.
    import torch

    from camsweep.models.classifiers import ClassifierSpec, available_architectures, build

    if model["architecture"] not in available_architectures():
        return [f"models.{name}.architecture: unknown {model['architecture']!r}; valid: {available_architectures()}"]
    spec = ClassifierSpec(model["architecture"], 2, stem=model["stem"], last_stride=model["last_stride"])
    try:
        with torch.device("meta"):
            network = build(spec)
    except ValueError as error:
        return [f"models.{name}: {error}"]
    layers = {layer for layer, _ in network.named_modules() if layer}
    unknown = [layer for layer in model["cam_layers"] if layer not in layers]
    if unknown:
        return [f"models.{name}.cam_layers: unknown layer(s) {unknown}; valid: {sorted(layers)}"]
    if sanity_from is not None and sanity_from not in layers:
        return [f"sanity.randomise_from: {sanity_from!r} is not a layer of models.{name}; valid: {sorted(layers)}"]
    return []
