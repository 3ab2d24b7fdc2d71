"""Per-image faithfulness scores of one method's clean-image maps, on the configured layers."""

import logging

import pandas as pd
import torch

from camsweep import io, maps as saliency_maps, shards, tables
from camsweep.data import check_ids, load_images, load_split
from camsweep.metrics import faithfulness, localisation
from camsweep.models import classifiers
from camsweep.scripting import job_context

with job_context(globals()) as job:
    torch.set_num_threads(job.threads)
    options, metrics = job.params.faithfulness, job.params.metrics
    device = classifiers.resolve_device(job.params.device)
    model, spec, _ = classifiers.load_checkpoint(job.input.model, device)
    model.eval()
    whole = load_split(job.input.split)
    images = load_images(job.input.images, whole)
    rows = shards.job_rows(job)  # this job's shard of the test split (all of it when unsharded)
    split = shards.take(whole, rows)
    maps, _ = io.load_npz(job.input.maps)
    check_ids(maps["ids"], split, job.input.maps)
    pixels = torch.as_tensor(images[rows]).permute(0, 3, 1, 2).float().div(255.0)
    mean = torch.tensor(spec.mean).view(1, 3, 1, 1)
    std = torch.tensor(spec.std).view(1, 3, 1, 1)

    def probabilities(images):  # images in [0, 1], as the metrics perturb them
        normalised = ((images - mean) / std).to(device).contiguous(memory_format=torch.channels_last)
        return torch.softmax(model(normalised).float(), dim=1).cpu()

    targets = torch.as_tensor(maps["targets"])
    settings = localisation.LocalisationSettings.from_config(metrics)
    curves = {"steps": options["steps"], "batch_size": options["batch_size"]}
    frames = []
    with torch.inference_mode():
        for layer in job.params.layers:
            upsampled = saliency_maps.upsample(maps[layer], tuple(pixels.shape[2:]))
            change = faithfulness.confidence_change(probabilities, pixels, upsampled, targets,
                                                    batch_size=options["batch_size"])
            inserted = faithfulness.insertion(probabilities, pixels, upsampled, targets, canvas=options["insertion_canvas"],
                                              **curves)
            deleted = faithfulness.deletion(probabilities, pixels, upsampled, targets, canvas=options["deletion_canvas"],
                                            **curves)
            _, boxes = localisation.predicted_regions(saliency_maps.normalise(upsampled), settings)
            saliency = faithfulness.saliency_metric(probabilities, pixels, boxes, targets, batch_size=options["batch_size"])
            frames.append(pd.DataFrame({
                "id": split.ids.astype(str), "layer": layer, "target": targets.numpy(),
                "average_drop": change.drop, "increase_in_confidence": change.increase,
                "insertion_auc": inserted.auc, "deletion_auc": deleted.auc, "saliency_metric": saliency.score,
            }))
            logging.info("%s: average drop %.3f, insertion %.3f, deletion %.3f", layer, change.drop.mean(),
                         inserted.auc.mean(), deleted.auc.mean())
    params = {**dict(job.wildcards.items()), "layers": list(job.params.layers), **options}
    columns = ["id", "layer", "target", *tables.FAITHFULNESS_COLUMNS]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    io.save_parquet(job.output[0], frame[columns], io.provenance(params))
