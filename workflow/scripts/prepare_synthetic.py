"""Generate the synthetic splits of one dataset (camsweep.data.synthetic)."""

import logging

from camsweep import io
from camsweep.data import save_split, synthetic
from camsweep.scripting import job_context

with job_context(globals()) as job:
    dataset = job.params.dataset
    options = dataset["synthetic"]
    shortcut = options["shortcut"]
    for split, path in zip(("train", "val", "test"), job.output, strict=True):
        spec = synthetic.SyntheticSpec(
            image_size=options["image_size"], classes=tuple(options["classes"]),
            object_radius=tuple(options["object_radius"]), max_rotation=options["max_rotation"],
            clutter_lines=options["clutter_lines"], clutter_blobs=options["clutter_blobs"],
            texture_amplitude=options["texture_amplitude"], pixel_noise=options["pixel_noise"],
            marker_probability=shortcut["probability"],
            marker_mode=shortcut["test"] if split == "test" else ("correlated" if shortcut["probability"] > 0 else "absent"),
        )
        images = synthetic.generate(spec, dataset["splits"][split], split, job.params.seed)
        save_split(path, images, io.provenance({"dataset": dataset, "split": split}, seed=job.params.seed))
        logging.info("%s: %d images, %d with a shortcut marker", split, len(images), images.meta["markers"])
