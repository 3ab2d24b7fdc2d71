"""CAMs of the job's methods (each on its layers) for one model, every condition: one file per (condition,
method), in the order of params.conditions, then params.methods."""

import logging

from camsweep import cams, io, jobs
from camsweep.cams.targets import class_targets
from camsweep.scripting import job_context

with job_context(globals()) as job:
    inputs = jobs.load(job)  # the model and this job's shard of the test split (all of it when unsharded)
    clean_predictions = inputs.table(job.input.clean_predictions)
    settings = cams.CamSettings(**job.params.settings)
    methods, layers = list(job.params.methods), dict(job.params.layers)
    outputs = iter(job.output.maps)
    for (name, severity), images_path, predictions_path in zip(
        job.params.conditions, job.input.images, job.input.predictions, strict=True
    ):
        predictions = inputs.table(predictions_path)
        targets = class_targets(job.params.target, inputs.split.labels, predictions["prediction"].to_numpy(),
                                clean_predictions["prediction"].to_numpy())
        maps = cams.maps_by_method(inputs.model, inputs.preprocessed(images_path), methods, layers, targets, settings)
        for method in methods:
            params = {**dict(job.wildcards.items()), "method": method, "perturbation": name, "severity": str(severity),
                      "layers": layers[method], "target": job.params.target}
            io.save_npz(next(outputs), {**maps[method], "ids": inputs.split.ids, "targets": targets},
                        io.provenance(params, layers=layers[method]))
        logging.info("%s %s: %s on %d images, layers %s", name, severity, methods, len(inputs.split), layers)
    assert next(outputs, None) is None, "more output files than (condition, method) pairs"
