"""The memory plan of a training run, from its base model's config.json and its resources (read-only).

GPU memory per GPU is a property of the cluster (LIMA_GPU_MEMORY_GIB, 80 by default), not of a run.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings

from training import memory_plan, slurm
from training.recipe import Hyperparameters


def model_shape(location: str) -> memory_plan.ModelShape:
    try:
        config = json.loads((Path(location) / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{location}/config.json does not read: {exc}") from exc
    return memory_plan.ModelShape.from_config(config)


def cluster_for(resources: slurm.Resources) -> memory_plan.Cluster:
    return memory_plan.Cluster(nodes=resources.nodes, gpus_per_node=resources.gpus_per_node,
                               gpu_memory_bytes=int(settings.LIMA_GPU_MEMORY_GIB * memory_plan.GIB))


def plan_options(hyperparameters: Hyperparameters) -> dict:
    # LIMA trims texts to max_length tokens; the plan assumes every micro-batch is that long (the worst step).
    return {"micro_batch": hyperparameters.micro_batch_size, "seq_len": hyperparameters.max_length,
            "activation_checkpointing": True}


def refusal(*, location: str, hyperparameters: Hyperparameters, resources: slurm.Resources) -> str:
    """Why these resources cannot hold the job, naming the smallest cluster that can ("" when they can)."""
    if not resources.gpus_per_node:
        return ""
    try:
        shape = model_shape(location)
    except ValueError:
        return ""  # the base model check reports an unreadable config
    return memory_plan.refusal(shape, cluster_for(resources), **plan_options(hyperparameters))


def plan_for_run(run) -> dict | None:
    """The page's view of a run's plan: per-GPU (or per-process) rows in GiB, host RAM per node, fit."""
    try:
        shape = model_shape(run.base_model.location)
    except ValueError:
        return None
    resources = slurm.Resources(nodes=run.nodes, gpus_per_node=run.gpus_per_node)
    cluster = cluster_for(resources)
    options = plan_options(Hyperparameters.from_dict(run.hyperparameters))
    estimate = memory_plan.plan(shape, cluster, **options)
    return {
        "rows": memory_plan.as_rows(estimate), "total_gib": round(estimate.per_process_total / memory_plan.GIB, 2),
        "capacity_gib": round(estimate.capacity / memory_plan.GIB, 1) if estimate.capacity else None,
        "host_gib": round(estimate.host_per_node / memory_plan.GIB, 1), "fits": estimate.fits,
        "parameters_b": round(estimate.parameters / 1e9, 3), "processes": estimate.processes,
        "device": estimate.device, "micro_batch": options["micro_batch"], "seq_len": options["seq_len"],
        "smallest_nodes": memory_plan.smallest_fitting_nodes(shape, cluster, **options) if cluster.gpus_per_node else None,
    }
