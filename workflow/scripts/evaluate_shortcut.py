"""One shortcut-study model on the three test sets (marker correlated, absent, shuffled): predictions and,
per image, where its map for the predicted class lies (EPG against box and mask, pointing game, and the
hard-threshold ratio of the attention term); and its maps of the shuffled-marker images at the layer's
resolution, for the figure that sets both trainings' maps side by side."""

import torch

from camsweep import io
from camsweep.data import load_split
from camsweep.models import classifiers
from camsweep.scripting import job_context
from camsweep.studies.attention_training import shortcut

with job_context(globals()) as job:
    torch.set_num_threads(job.threads)
    device = classifiers.resolve_device(job.params.device)
    model, spec, _ = classifiers.load_checkpoint(job.input.model, device)
    tests = {marker: load_split(path) for marker, path in zip(job.params.markers, job.input.tests, strict=True)}
    frame, layer_maps = shortcut.evaluate(
        model, spec, tests, job.params.explain, job.params.threshold, job.params.metrics, device
    )
    params = {**dict(job.wildcards.items()), "explain": job.params.explain, "threshold": job.params.threshold}
    class_names = list(tests[job.params.markers[-1]].class_names)
    io.save_parquet(job.output.frame, frame, io.provenance(params, class_names=class_names))
    shuffled = frame[frame["marker"] == "shuffled"]
    io.save_npz(
        job.output.maps,
        {"ids": tests["shuffled"].ids, "predictions": shuffled["prediction"].to_numpy(), "maps": layer_maps["shuffled"]},
        io.provenance(params, class_names=class_names),
    )
