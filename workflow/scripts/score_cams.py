"""Per-image localisation and stability scores of one method's maps, every condition (params.conditions
order; the clean maps, condition ("none", 0), are the stability reference)."""

import logging

from camsweep import io, jobs, scoring
from camsweep.scripting import job_context

with job_context(globals()) as job:
    options = job.params.metrics
    inputs = jobs.load(job)  # this job's shard of the test split, with a segmenter's regions if configured
    split, conditions = inputs.split, [tuple(condition) for condition in job.params.conditions]
    scores = scoring.score_conditions(job.input.maps, conditions, split, options)
    for (name, severity), scored, scores_path, wsol_path in zip(
        conditions, scores, job.output.scores, job.output.wsol, strict=True
    ):
        params = {**dict(job.wildcards.items()), "perturbation": name, "severity": str(severity), "metrics": options}
        provenance = io.provenance(params)
        io.save_parquet(scores_path, scored.frame, provenance)
        io.save_npz(wsol_path, {**scored.evidence, "ids": split.ids}, {**provenance, "layers": scored.layers})
        logging.info("%s %s: scored %d maps over layers %s", name, severity, len(scored.frame), scored.layers)
