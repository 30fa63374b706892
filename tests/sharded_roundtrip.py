"""Run under torchrun by tests/test_training_engine.py: build a model on the meta device with a vocabulary
grown by GROW rows, shard it with the trainer's wrapping, read the weights with the sharded reader, and
write them back through the consolidating writer (no training in between)."""

from __future__ import annotations

import sys

GROW = 3


def main(source: str, target: str) -> None:
    import torch
    import torch.distributed as dist
    from accelerate import init_empty_weights
    from transformers import AutoConfig, AutoModelForCausalLM

    from training import sharding

    dist.init_process_group("gloo")
    config = AutoConfig.from_pretrained(source)
    config.vocab_size += GROW
    with init_empty_weights(include_buffers=False):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    sharding.shard_model(model, mesh=sharding.device_mesh(device_type="cpu", world_size=dist.get_world_size()))
    sharding.load_sharded_weights(model, source, device="cpu")
    sharding.save_consolidated(model, target, dtype=torch.float32, world_size=dist.get_world_size())
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:3])
    from training.sharding import exit_rank

    exit_rank(0)  # rank 0 once aborted in the interpreter's teardown after the save (see exit_rank)
