"""How far each metric can be trusted (camsweep.reliability): the trained model's maps against the
randomised model's and the baselines', box against mask, clean against perturbed."""

import pandas as pd

from camsweep import io, reliability, stats
from camsweep.perturb import CLEAN
from camsweep.scripting import job_context


def read(paths, keys_list):
    return pd.concat([pd.read_parquet(path).assign(**keys) for path, keys in zip(paths, keys_list, strict=True)],
                     ignore_index=True)


with job_context(globals()) as job:
    scores = read(job.input.scores, job.params.score_keys)
    if job.input.faithfulness:  # clean images only: joined onto the clean rows
        faithful = read(job.input.faithfulness, job.params.faithfulness_keys).drop(columns="target")
        faithful = faithful.assign(perturbation=CLEAN[0], severity=CLEAN[1])
        scores = scores.merge(faithful, on=[*reliability.KEYS, "id", "perturbation", "severity"], how="left",
                              validate="one_to_one")
    randomised = read(job.input.randomised, job.params.randomised_keys)
    settings = stats.BootstrapSettings(job.params.aggregate["bootstrap_resamples"], job.params.aggregate["confidence"])
    table = reliability.reliability_table(scores, randomised, reliability.METRICS, job.params.baselines, settings,
                                          job.params.seed)
    io.save_csv(job.output.table, table)
