"""Generate the synthetic splits of one dataset (camsweep.data.synthetic)."""

import logging

from camsweep import io
from camsweep.data import save_split, synthetic
from camsweep.scripting import job_context

with job_context(globals()) as job:
    dataset = job.params.dataset
    shortcut = dataset["synthetic"]["shortcut"]
    for split, path in zip(("train", "val", "test"), job.output, strict=True):
        marker_mode = shortcut["test"] if split == "test" else ("correlated" if shortcut["probability"] > 0 else "absent")
        spec = synthetic.spec_from_config(dataset["synthetic"], shortcut["probability"], marker_mode)
        images = synthetic.generate(spec, dataset["splits"][split], split, job.params.seed)
        save_split(path, images, io.provenance({"dataset": dataset, "split": split}, seed=job.params.seed))
        logging.info("%s: %d images, %d with a shortcut marker", split, len(images), images.meta["markers"])
