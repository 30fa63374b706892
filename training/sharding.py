"""FSDP2 sharding from load to save: the wrapping, the sharded weight reader and the checkpoint writers (no Django).

The model is built on the meta device (no memory), wrapped with torch's FSDP2 `fully_shard`
(each decoder layer, then the root: what accelerate's FSDP2 plugin does with its transformer-based
wrap policy), and only then materialised: every rank reads just its own rows of each tensor from
the base model's safetensors files (one plain read per tensor), so no process ever holds the
whole model. Saving goes the same way: per-epoch resume state through torch.distributed.checkpoint
(each rank writes its shards), Hugging Face safetensors through DCP's Hugging Face writer, which
consolidates the shards file by file instead of gathering the model on rank 0.

`shard_model` is the one wrapping function: the trainer calls it, and the 65B proof test calls it
under a fake process group, so what the test measures is what the trainer does.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import NoReturn

SAFETENSORS_INDEX = "model.safetensors.index.json"


def decoder_layers(model) -> list:
    """The transformer blocks, bottom first (LLaMA-style models keep them in model.model.layers)."""
    inner = getattr(model, "model", model)
    layers = getattr(inner, "layers", None)
    if layers is None:
        raise ValueError(f"{type(model).__name__} has no decoder layers at model.layers")
    return list(layers)


def device_mesh(*, device_type: str, world_size: int, replicas: int = 1):
    """A 1-D mesh (FSDP: shard over every rank) or, with replicas > 1, a 2-D HSDP mesh: each replica
    (a node, usually) holds one full copy sharded over its GPUs, and gradients are averaged across
    replicas, so the per-step traffic between nodes is a reduce, not an all-gather of the weights."""
    from torch.distributed.device_mesh import init_device_mesh

    if replicas <= 1:
        return init_device_mesh(device_type, (world_size,), mesh_dim_names=("shard",))
    if world_size % replicas:
        raise ValueError(f"HSDP: {world_size} processes do not split into {replicas} equal replicas")
    return init_device_mesh(device_type, (replicas, world_size // replicas), mesh_dim_names=("replicate", "shard"))


def shard_model(model, *, mesh, param_dtype=None, reduce_dtype=None, reshard_after_forward: bool = True):
    """fully_shard every decoder layer, then the root (embeddings, final norm, LM head).

    One layer's parameters are gathered at a time in forward and backward; the fp32 shards are the
    master weights and `param_dtype` (bf16 on GPU) is what the layers compute in.
    """
    import torch
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    policy = MixedPrecisionPolicy(param_dtype=param_dtype or torch.float32, reduce_dtype=reduce_dtype or torch.float32)
    for layer in decoder_layers(model):
        fully_shard(layer, mesh=mesh, mp_policy=policy, reshard_after_forward=reshard_after_forward)
    fully_shard(model, mesh=mesh, mp_policy=policy, reshard_after_forward=reshard_after_forward)
    return model


def local_bytes(model) -> int:
    """Bytes of parameters this rank holds (its shards; the whole tensor for an unsharded model)."""
    total = 0
    for parameter in model.parameters():
        local = parameter.to_local() if hasattr(parameter, "to_local") else parameter
        total += local.numel() * local.element_size()
    return total


SAFETENSORS_DTYPES = {"F32": "float32", "F16": "float16", "BF16": "bfloat16", "F64": "float64"}


class SafetensorsRows:
    """Rows of the tensors in one safetensors file, read with plain file reads.

    A safetensors file is an 8-byte header length, a JSON header (dtype, shape and byte range of
    every tensor) and the tensors' bytes, C-contiguous: a range of rows is one contiguous read.
    Reading (rather than memory-mapping) keeps the file's pages out of the process's resident set,
    so a rank holds its own rows and nothing else.
    """

    def __init__(self, path: Path):
        import struct

        self.path = Path(path)
        self.file = self.path.open("rb")
        (length,) = struct.unpack("<Q", self.file.read(8))
        self.header = json.loads(self.file.read(length))
        self.header.pop("__metadata__", None)
        self.data_start = 8 + length

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self.header[name]["shape"])

    def rows(self, name: str, start: int, stop: int):
        """Rows [start, stop) of a tensor (the whole of a 0-d one), as a tensor of the file's dtype."""
        import math

        import torch

        entry = self.header[name]
        dtype = getattr(torch, SAFETENSORS_DTYPES.get(entry["dtype"], ""), None)
        if dtype is None:
            raise ValueError(f"{self.path}: {name} is stored as {entry['dtype']}, not a floating-point type the trainer reads")
        shape = entry["shape"]
        if not shape:
            start, stop, row_shape = 0, 1, []
        else:
            row_shape = shape[1:]
        row_bytes = math.prod(row_shape) * torch.empty((), dtype=dtype).element_size()
        out = torch.empty((stop - start, *row_shape), dtype=dtype)
        self.file.seek(self.data_start + entry["data_offsets"][0] + start * row_bytes)
        buffer = memoryview(out.view(torch.uint8).numpy()).cast("B") if out.numel() else memoryview(b"")
        if self.file.readinto(buffer) != len(buffer):
            raise ValueError(f"{self.path}: {name} is truncated")
        return out if shape else out.reshape(())

    def close(self) -> None:
        self.file.close()


def _weight_files(directory: Path) -> dict[str, Path]:
    """Tensor name -> safetensors file of a Hugging Face checkpoint directory (single file or indexed)."""
    index = directory / SAFETENSORS_INDEX
    if index.exists():
        return {name: directory / file for name, file in json.loads(index.read_text())["weight_map"].items()}
    single = directory / "model.safetensors"
    if not single.exists():
        raise FileNotFoundError(f"{directory}: no model.safetensors or {SAFETENSORS_INDEX} (safetensors weights are needed)")
    reader = SafetensorsRows(single)
    try:
        return {name: single for name in reader.header}
    finally:
        reader.close()


def _local_region(tensor) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(shape, offset) of this rank's piece of a parameter: its shard of a DTensor, or all of a plain tensor."""
    if hasattr(tensor, "device_mesh"):
        from torch.distributed.tensor._utils import compute_local_shape_and_global_offset

        shape, offset = compute_local_shape_and_global_offset(tensor.shape, tensor.device_mesh, tensor.placements)
        return tuple(shape), tuple(offset)
    return tuple(tensor.shape), (0,) * tensor.dim()


def load_sharded_weights(model, directory: str | Path, *, device) -> dict[str, int]:
    """Materialise a meta-device (optionally sharded) model from safetensors, each rank reading only its rows.

    FSDP2 shards every parameter along its first dimension, so a rank's piece is a range of rows:
    one read per tensor. A vocabulary grown for LIMA's EOT token (more rows in the model than in the
    file) gets the mean of the file's rows for the new ones, as `resize_token_embeddings` would.
    Returns the bytes read.
    """
    import torch
    from torch.distributed.tensor import DTensor

    directory = Path(directory)
    files = _weight_files(directory)
    readers: dict[Path, SafetensorsRows] = {}
    loaded, read = {}, 0
    try:
        for name, target in model.state_dict().items():
            source = files.get(name)
            if source is None:
                raise KeyError(f"{directory}: the model expects {name}, which is not in the checkpoint")
            if source not in readers:
                readers[source] = SafetensorsRows(source)
            reader = readers[source]
            stored_shape = reader.shape(name)
            shape, offset = _local_region(target)
            if len(stored_shape) != target.dim() or stored_shape[1:] != tuple(target.shape[1:]) \
                    or (stored_shape and stored_shape[0] > target.shape[0]):
                raise ValueError(f"{name}: the checkpoint holds {stored_shape}, the model {tuple(target.shape)}")
            if not shape:
                local = reader.rows(name, 0, 1).to(torch.float32)
            else:
                if any(o for o in offset[1:]) or any(s != t for s, t in zip(shape[1:], target.shape[1:])):
                    raise ValueError(f"{name}: only first-dimension shards are read (got offset {offset})")
                rows_in_file = max(0, min(offset[0] + shape[0], stored_shape[0]) - offset[0])
                local = reader.rows(name, offset[0], offset[0] + rows_in_file).to(torch.float32)
                if rows_in_file < shape[0]:
                    # Rows beyond the file: new tokens (EOT), initialised to the mean embedding.
                    mean = _mean_row(reader, name, stored_shape).to(torch.float32)
                    local = torch.cat([local, mean.expand(shape[0] - rows_in_file, *shape[1:])])
            read += local.numel() * local.element_size()
            local = local.to(device=device, dtype=target.dtype)
            if isinstance(target, DTensor):
                local = DTensor.from_local(local, target.device_mesh, target.placements, shape=target.shape,
                                           stride=target.stride(), run_check=False)
            loaded[name] = local
        model.load_state_dict(loaded, assign=True)
    finally:
        for reader in readers.values():
            reader.close()
    return {"bytes_read": read}


def _mean_row(reader: SafetensorsRows, name: str, shape: tuple[int, ...]):
    import torch

    total = torch.zeros(shape[1:], dtype=torch.float64)
    step = 4096
    for start in range(0, shape[0], step):
        total += reader.rows(name, start, min(start + step, shape[0])).to(torch.float64).sum(0)
    return total / shape[0]


def save_consolidated(model, directory: str | Path, *, dtype, world_size: int) -> int:
    """Hugging Face safetensors of the (sharded) model in `directory`, for from_pretrained and vLLM.

    Each rank writes its shards (cast to `dtype`) through DCP's Hugging Face writer, which then
    stitches them into whole tensors file by file; nothing is gathered on one rank. Returns bytes written.
    """
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint import HuggingFaceStorageWriter
    from torch.distributed.checkpoint.state_dict import get_model_state_dict

    directory = Path(directory)
    state = {name: value.detach().to(dtype) for name, value in get_model_state_dict(model).items()}
    if world_size > 1:
        dcp.save(state, storage_writer=HuggingFaceStorageWriter(str(directory), save_distributed=True,
                                                                enable_consolidation=True))
    else:
        from safetensors.torch import save_file

        directory.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in state.items()}, directory / "model.safetensors", metadata={"format": "pt"})
    return sum(p.stat().st_size for p in directory.glob("*.safetensors"))


def exit_rank(code: int) -> NoReturn:
    """End a distributed rank once everything is on disk and the process group is destroyed, skipping the
    interpreter's teardown: there torch's C++ objects (gloo's work threads among them) are destroyed while a thread
    of theirs may still be joinable, and the process aborts ("terminate called without an active exception",
    SIGABRT) after finishing its work, which torchrun reports as a failed run. Seen twice on this suite's CPU runs:
    a trainer rank after its last step, and the sharded save's rank 0 after the save."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
