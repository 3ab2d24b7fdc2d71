"""Model-randomisation test for one method: maps of the trained and of a top-randomised model, compared."""

import logging

from camsweep import cams, io, jobs, sanity
from camsweep.data import check_ids
from camsweep.scripting import job_context

with job_context(globals()) as job:
    inputs = jobs.load(job)  # the model and this job's shard of the test split (all of it when unsharded)
    trained_maps, _ = io.load_npz(job.input.maps)
    check_ids(trained_maps["ids"], inputs.split, job.input.maps)
    method, layers = job.wildcards.method, list(job.params.layers)
    top = sanity.modules_from(inputs.model, job.params.sanity["randomise_from"])
    frame = sanity.randomisation_scores(
        inputs.model, inputs.preprocessed(), inputs.split, trained_maps, method, layers, top, job.params.seed,
        cams.CamSettings(**job.params.settings),
    )
    params = {**dict(job.wildcards.items()), "layers": layers, "randomised_modules": top, **job.params.sanity}
    io.save_parquet(job.output[0], frame, io.provenance(params))
    logging.info("%s: randomised the top %d parameter-owning modules; mean rank correlation %s", method, top,
                 frame.groupby("layer")["rank_correlation"].mean().round(3).to_dict())
