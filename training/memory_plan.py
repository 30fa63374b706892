"""How much memory a fine-tuning job needs per GPU and per node, before it is submitted (pure: no Django, no torch).

The estimate follows what training.sft does: FSDP2 full sharding (or HSDP: sharded within a node,
replicated across nodes) of fp32 master weights, fp32 gradients and AdamW's two fp32 moments;
layers gathered one at a time in the compute dtype (bf16 on GPU) with the next one prefetched;
the root unit (embeddings, final norm, LM head) gathered for the whole step; activations of
every layer's input kept under activation checkpointing, plus one layer recomputed in full;
logits in the compute dtype, an fp32 copy for the loss and its gradient. A GPU also holds the
CUDA context and collective buffers; the allocator keeps some headroom on top.

All figures are bytes. `plan()` gives one shape's breakdown; `smallest_fitting_nodes()` names
the fewest nodes of the same kind on which the job fits.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

GIB = 1024 ** 3
# CUDA context, NCCL buffers and cuBLAS workspaces on each GPU (measured on H100s: 1-2 GiB).
GPU_RUNTIME_BYTES = int(1.5 * GIB)
# The caching allocator's fragmentation and the tensors not counted below.
ALLOCATOR_HEADROOM = 0.10
# Python, torch, transformers and the tokenised data in one process's host memory (CPU tensors aside).
HOST_PROCESS_BYTES = int(2.5 * GIB)
ADAMW_STATE_BYTES = 8  # two fp32 moments per parameter
MAX_NODES = 512


@dataclass(frozen=True)
class ModelShape:
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    tied_embeddings: bool = False

    @classmethod
    def from_config(cls, config: dict) -> "ModelShape":
        """From a Hugging Face LLaMA-style config.json; a missing field is named."""
        try:
            heads = int(config["num_attention_heads"])
            return cls(vocab_size=int(config["vocab_size"]), hidden_size=int(config["hidden_size"]),
                       intermediate_size=int(config["intermediate_size"]), num_layers=int(config["num_hidden_layers"]),
                       num_heads=heads, num_kv_heads=int(config.get("num_key_value_heads") or heads),
                       tied_embeddings=bool(config.get("tie_word_embeddings", False)))
        except KeyError as exc:
            raise ValueError(f"the model's config.json has no {exc.args[0]}: the memory plan needs it") from exc

    @property
    def kv_size(self) -> int:
        return self.hidden_size // self.num_heads * self.num_kv_heads

    @property
    def layer_parameters(self) -> int:
        h, kv, i = self.hidden_size, self.kv_size, self.intermediate_size
        return h * h * 2 + h * kv * 2 + 3 * h * i + 2 * h  # q, o; k, v; gate, up, down; two RMSNorm gains

    @property
    def root_parameters(self) -> int:
        embeddings = self.vocab_size * self.hidden_size
        return embeddings * (1 if self.tied_embeddings else 2) + self.hidden_size

    @property
    def parameters(self) -> int:
        return self.num_layers * self.layer_parameters + self.root_parameters

    def layer_activation_elements(self, tokens: int) -> int:
        """Elements one decoder layer keeps for its backward (SDPA attention: no sequence-squared term).

        Input, two norms' inputs and outputs, q/k/v and their rotated q/k, attention output, o_proj
        input; gate, up, SiLU(gate) and their product; the two residual-dropout masks (one byte each,
        counted as a quarter element).
        """
        h, kv, i = self.hidden_size, self.kv_size, self.intermediate_size
        return tokens * (8 * h + 3 * kv + 4 * i + h // 2)


@dataclass(frozen=True)
class Cluster:
    nodes: int
    gpus_per_node: int  # 0: CPU processes, one per node
    gpu_memory_bytes: int = 80 * GIB

    @property
    def processes(self) -> int:
        return self.nodes * max(1, self.gpus_per_node)


@dataclass(frozen=True)
class MemoryPlan:
    parameters: int
    processes: int
    shard_over: int
    device: str  # "gpu" or "cpu"
    per_process: dict = field(default_factory=dict)  # component -> bytes
    per_process_total: int = 0
    capacity: int | None = None  # GPU memory; None on CPU
    host_per_node: int = 0

    @property
    def fits(self) -> bool:
        return self.capacity is None or self.per_process_total <= self.capacity

    def as_dict(self) -> dict:
        return {**asdict(self), "fits": self.fits}


def plan(shape: ModelShape, cluster: Cluster, *, bf16: bool | None = None, micro_batch: int = 1, seq_len: int = 2048,
         activation_checkpointing: bool = True, hsdp: bool = False) -> MemoryPlan:
    """Per-process memory of one training step at its peak (the backward of the first layer)."""
    gpu = cluster.gpus_per_node > 0
    bf16 = gpu if bf16 is None else bf16
    compute = 2 if bf16 else 4
    processes = cluster.processes
    shard_over = max(1, cluster.gpus_per_node) if hsdp and cluster.nodes > 1 else processes
    params = shape.parameters

    def sharded(bytes_per_parameter: int) -> int:
        return -(-params * bytes_per_parameter // shard_over)

    tokens = micro_batch * seq_len
    one_layer = shape.layer_activation_elements(tokens) * compute
    if activation_checkpointing:
        # Every layer's input is kept; one layer is recomputed in full, and its gradients are as large.
        activations = shape.num_layers * tokens * shape.hidden_size * compute + 2 * one_layer
    else:
        activations = shape.num_layers * one_layer + one_layer
    logits = tokens * shape.vocab_size * (compute + 4 + 4)  # logits, fp32 copy for the loss, its gradient
    if processes > 1:
        # Gathered layer being computed + the next one prefetched, and the unsharded gradient of one layer.
        gathered = shape.layer_parameters * compute * 3 + shape.root_parameters * compute
    else:
        gathered = 0
    components = {
        "parameters": sharded(4),
        "gradients": sharded(4),
        "optimizer": sharded(ADAMW_STATE_BYTES),
        "activations": activations + logits,
        "buffers": gathered + (GPU_RUNTIME_BYTES if gpu else 0),
    }
    total = int(sum(components.values()) * (1 + ALLOCATOR_HEADROOM))
    if gpu:
        # Host side of a GPU process: the runtime, pinned staging for checkpoints (one shard of weights and optimizer).
        host = cluster.gpus_per_node * (HOST_PROCESS_BYTES + sharded(4 + ADAMW_STATE_BYTES) // 4)
    else:
        host = HOST_PROCESS_BYTES + total
    return MemoryPlan(parameters=params, processes=processes, shard_over=shard_over, device="gpu" if gpu else "cpu",
                      per_process=components, per_process_total=total,
                      capacity=cluster.gpu_memory_bytes if gpu else None, host_per_node=host)


def smallest_fitting_nodes(shape: ModelShape, cluster: Cluster, **options) -> int | None:
    """The fewest nodes like these (same GPUs per node and memory) on which the job fits; None beyond MAX_NODES."""
    for nodes in range(1, MAX_NODES + 1):
        if plan(shape, Cluster(nodes, cluster.gpus_per_node, cluster.gpu_memory_bytes), **options).fits:
            return nodes
    return None


def refusal(shape: ModelShape, cluster: Cluster, **options) -> str:
    """Why the job cannot fit and what would ("" when it fits)."""
    estimate = plan(shape, cluster, **options)
    if estimate.fits:
        return ""
    needed = smallest_fitting_nodes(shape, cluster, **options)
    shape_words = f"{cluster.nodes} node{'s' if cluster.nodes != 1 else ''} × {cluster.gpus_per_node} GPUs × " \
                  f"{cluster.gpu_memory_bytes / GIB:.0f} GiB"
    message = (f"a {estimate.parameters / 1e9:.1f}B-parameter model needs about {estimate.per_process_total / GIB:.1f} GiB "
               f"per GPU on {shape_words}, more than the GPU holds")
    if needed is None:
        return message + f"; no cluster of up to {MAX_NODES} such nodes fits it"
    return message + f"; the smallest cluster that fits is {needed} nodes × {cluster.gpus_per_node} GPUs"


def as_rows(estimate: MemoryPlan) -> list[tuple[str, float]]:
    """(component, GiB) rows for a page."""
    return [(name, round(value / GIB, 2)) for name, value in estimate.per_process.items()]
