"""One test image's map under every perturbation and severity."""

from camsweep import io, plots
from camsweep.data import load_images, load_split
from camsweep.plots.examples import example_grid
from camsweep.scripting import job_context

with job_context(globals()) as job:
    split = load_split(job.input.split)
    index = job.params.index
    if not 0 <= index < len(split):
        raise ValueError(f"figures.example_image: {index} is outside the test split (0..{len(split) - 1})")
    images, layer_maps = {}, {}
    for (perturbation, severity), image_path, map_path in zip(job.params.conditions, job.input.images, job.input.maps, strict=True):
        key = (perturbation, int(severity))
        images[key] = load_images(image_path, split)[index]
        layer_maps[key] = io.load_npz(map_path)[0][job.params.layer][index]
    mask = split.masks[index] if split.has_masks else None
    box = split.boxes[index] if split.has_masks else None
    title = (f"{job.wildcards.model} on {job.wildcards.dataset}: {job.params.method} at {job.params.layer}, "
             f"test image {split.ids[index]} ({split.class_names[split.labels[index]]})")
    plots.save(example_grid(images, layer_maps, mask, box, title), job.output.png, job.output.pdf)
