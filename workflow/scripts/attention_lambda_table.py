"""Attention-training λ table: accuracy, ROC-AUC, Youden's J and DP of every classifier by its cross-entropy
weight λ (params.ce_weights: model → λ), published values beside the study's network (params.architectures)."""

import pandas as pd

from camsweep import io
from camsweep.scripting import job_context
from camsweep.studies.attention_training import lambda_table

with job_context(globals()) as job:
    table = lambda_table.lambda_table(pd.read_csv(job.input[0]), dict(job.params.ce_weights),
                                      dict(job.params.architectures))
    io.save_csv(job.output[0], table)
