"""Per-image faithfulness scores of one method's clean-image maps, on the configured layers."""

from camsweep import io, jobs
from camsweep.data import check_ids
from camsweep.metrics import faithfulness_frame
from camsweep.metrics.localisation import LocalisationSettings
from camsweep.scripting import job_context

with job_context(globals()) as job:
    options = job.params.faithfulness
    inputs = jobs.load(job)  # the model and this job's shard of the test split (all of it when unsharded)
    maps, _ = io.load_npz(job.input.maps)
    check_ids(maps["ids"], inputs.split, job.input.maps)
    frame = faithfulness_frame.per_image_scores(
        inputs.model, inputs.spec, inputs.images(), maps, inputs.split.ids, job.params.layers, options,
        LocalisationSettings.from_config(job.params.metrics), seed=job.params.seed,
    )
    params = {**dict(job.wildcards.items()), "layers": list(job.params.layers), "seed": job.params.seed, **options}
    io.save_parquet(job.output[0], frame, io.provenance(params))
