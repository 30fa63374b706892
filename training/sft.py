"""LIMA supervised fine-tuning: `python -m training.sft --config run.json` (no Django import).

Runs on any host that has the code, torch and transformers: one CPU or GPU process, or many GPUs
on many nodes under torchrun (the rendered sbatch script starts it that way) with FSDP full
sharding, bf16 mixed precision and activation checkpointing, so a 65B model fits across nodes.

The recipe is training.recipe (LIMA's section 2); the text format is tokenization.chat, the exact
template the generation backends use. Every epoch ends with a checkpoint (`epoch-N/`, loadable
with `from_pretrained`); a restarted job resumes after the last complete one. Metrics go to a
JSON-lines file the tool reads for its loss curve; a tqdm bar goes to the terminal (or job log).

Config keys: base_model (checkpoint directory), data (GAIR/lima JSONL), output_dir, metrics
(optional, default output_dir/metrics.jsonl), hyperparameters (training.recipe.Hyperparameters),
strategy ("auto": FSDP when WORLD_SIZE > 1; "single"; "fsdp"), precision ("auto": bf16 on GPU,
fp32 on CPU; "bf16"; "fp32"), activation_checkpointing (default: on with FSDP).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tokenization.chat import CHAT_TEMPLATE, EOT_TOKEN
from training.masking import IGNORE, TokenizedExample, build_example, pad_batch
from training.recipe import (
    Hyperparameters, accumulation_steps, learning_rate_at, residual_dropout_rates, steps_per_epoch,
)

STATE_FILE = "trainer_state.json"
OPTIMIZER_FILE = "optimizer.pt"
OPTIMIZER_DIR = "optimizer"


@dataclass(frozen=True)
class TrainConfig:
    base_model: str
    data: str
    output_dir: str
    metrics: str
    hyperparameters: Hyperparameters
    strategy: str = "auto"
    precision: str = "auto"
    activation_checkpointing: bool | None = None

    @classmethod
    def load(cls, path: str | Path) -> "TrainConfig":
        raw = json.loads(Path(path).read_text())
        output_dir = raw["output_dir"]
        return cls(
            base_model=raw["base_model"], data=raw["data"], output_dir=output_dir,
            metrics=raw.get("metrics") or str(Path(output_dir) / "metrics.jsonl"),
            hyperparameters=Hyperparameters.from_dict(raw.get("hyperparameters", {})),
            strategy=raw.get("strategy", "auto"), precision=raw.get("precision", "auto"),
            activation_checkpointing=raw.get("activation_checkpointing"),
        )


def read_conversations(path: str | Path) -> list[list[str]]:
    """Training conversations from a GAIR/lima JSONL file ({"conversations": [user, assistant, ...]})."""
    conversations = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        turns = json.loads(line)["conversations"]
        if len(turns) < 2:
            raise ValueError(f"{path}:{number}: a training conversation needs a response (got {len(turns)} turn)")
        conversations.append(turns)
    if not conversations:
        raise ValueError(f"{path}: no training conversations")
    return conversations


def decoder_layers(model) -> list:
    """The transformer blocks, bottom first (LLaMA-style models keep them in model.model.layers)."""
    inner = getattr(model, "model", model)
    layers = getattr(inner, "layers", None)
    if layers is None:
        raise ValueError(f"{type(model).__name__} has no decoder layers at model.layers")
    return list(layers)


def apply_residual_dropout(model, top: float) -> list[float]:
    """Dropout on each decoder layer's two residual branches, 0.0 at the bottom rising to `top`.

    A LLaMA block computes x + attn(norm(x)), then x + mlp(norm(x)). LIMA's residual dropout drops
    the branch outputs before they are added back, so the hooks below act on the outputs of
    `self_attn` and `mlp`. The rate lives in an nn.Dropout on the layer: it follows train()/eval()
    and has no weights, so checkpoints stay plain LLaMA checkpoints.
    """
    import torch.nn as nn

    layers = decoder_layers(model)
    rates = residual_dropout_rates(len(layers), top)
    for layer, rate in zip(layers, rates):
        if hasattr(layer, "residual_dropout"):
            layer.residual_dropout.p = rate
            continue
        layer.residual_dropout = nn.Dropout(rate)
        for branch in (layer.self_attn, layer.mlp):
            branch.register_forward_hook(_drop_branch_output(layer.residual_dropout))
    return rates


def _drop_branch_output(dropout):
    def hook(module, args, output):
        if isinstance(output, tuple):
            return (dropout(output[0]), *output[1:])
        return dropout(output)

    return hook


def ensure_eot(tokenizer, model) -> int:
    """LIMA's EOT token in the vocabulary (added to a base tokenizer without it) and as a stop token."""
    if EOT_TOKEN not in tokenizer.get_vocab():
        tokenizer.add_special_tokens({"additional_special_tokens": [EOT_TOKEN]})
        model.resize_token_embeddings(len(tokenizer))
    eot_id = tokenizer.convert_tokens_to_ids(EOT_TOKEN)
    tokenizer.chat_template = CHAT_TEMPLATE
    stops = model.config.eos_token_id
    stops = list(stops) if isinstance(stops, (list, tuple)) else ([stops] if stops is not None else [])
    if eot_id not in stops:
        model.config.eos_token_id = [*stops, eot_id]
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return eot_id


def tokenize_all(conversations: list[list[str]], tokenizer, max_length: int) -> list[TokenizedExample]:
    eot_id = tokenizer.convert_tokens_to_ids(EOT_TOKEN)

    def encode(text: str) -> list[int]:
        return tokenizer.encode(text, add_special_tokens=False)

    return [build_example(turns, encode=encode, bos_id=tokenizer.bos_token_id, eot_id=eot_id, max_length=max_length)
            for turns in conversations]


def last_checkpoint(output_dir: str | Path) -> Path | None:
    """The newest complete epoch checkpoint: its state file is written last, so a half-written one is ignored."""
    complete = [p for p in Path(output_dir).glob("epoch-*") if (p / STATE_FILE).exists()]
    return max(complete, key=lambda p: json.loads((p / STATE_FILE).read_text())["epoch"], default=None)


def epoch_order(count: int, *, seed: int, epoch: int) -> list[int]:
    """The example order of an epoch: the same on every rank and after a resume."""
    order = list(range(count))
    random.Random(seed * 1_000_003 + epoch).shuffle(order)
    return order


def rank_micro_batches(batch: list[int], *, rank: int, world_size: int, micro_batch_size: int) -> list[list[int | None]]:
    """This rank's share of a global batch as micro-batches; every rank gets the same number of them.

    FSDP ranks must run the same collectives, so a rank short of examples runs a placeholder
    (None) whose labels are all ignored: it costs a forward/backward and contributes nothing.
    """
    share = batch[rank::world_size]
    per_rank = -(-len(batch) // world_size)
    count = max(1, -(-per_rank // micro_batch_size))
    padded: list[int | None] = share + [None] * (count * micro_batch_size - len(share))
    return [padded[i:i + micro_batch_size] for i in range(0, len(padded), micro_batch_size)]


class MetricsLog:
    def __init__(self, path: str | Path, enabled: bool):
        self.path = Path(path)
        self.enabled = enabled
        if enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, **record) -> None:
        if self.enabled:
            with self.path.open("a", encoding="utf-8") as out:
                out.write(json.dumps({"time": round(time.time(), 3), **record}) + "\n")


class Trainer:
    def __init__(self, config: TrainConfig):
        import torch

        self.config = config
        self.hp = config.hyperparameters
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.strategy = config.strategy if config.strategy != "auto" else ("fsdp" if self.world_size > 1 else "single")
        if self.strategy not in ("single", "fsdp"):
            raise ValueError(f"unknown strategy {config.strategy!r}")
        if self.strategy == "single" and self.world_size > 1:
            raise ValueError("strategy 'single' with WORLD_SIZE > 1: use 'fsdp' (or 'auto') under torchrun")
        cuda = torch.cuda.is_available()
        self.device = torch.device(f"cuda:{self.local_rank}" if cuda else "cpu")
        precision = config.precision if config.precision != "auto" else ("bf16" if cuda else "fp32")
        self.bf16 = precision == "bf16"
        self.activation_checkpointing = (
            config.activation_checkpointing if config.activation_checkpointing is not None else self.strategy == "fsdp"
        )
        self.is_main = self.rank == 0
        self.metrics = MetricsLog(config.metrics, enabled=self.is_main)

    def setup(self) -> None:
        import torch
        import torch.distributed as dist
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if self.strategy == "fsdp" and not dist.is_initialized():
            dist.init_process_group(backend="nccl" if self.device.type == "cuda" else "gloo")
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        torch.manual_seed(self.hp.seed + self.rank)
        self.resume_from = last_checkpoint(self.config.output_dir)
        source = str(self.resume_from or self.config.base_model)
        self.tokenizer = AutoTokenizer.from_pretrained(source)
        # FSDP keeps fp32 master weights and computes in bf16 (its mixed-precision policy); a
        # single process on GPU uses bf16 autocast over fp32 weights.
        self.model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
        self.eot_id = ensure_eot(self.tokenizer, self.model)
        self.dropout_rates = apply_residual_dropout(self.model, self.hp.residual_dropout_top)
        if self.activation_checkpointing:
            if hasattr(self.model, "activation_checkpointing_enable"):
                self.model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
            else:
                self.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        self.model.config.use_cache = False
        if self.strategy == "fsdp":
            from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

            policy = MixedPrecisionPolicy(param_dtype=torch.bfloat16 if self.bf16 else torch.float32,
                                          reduce_dtype=torch.float32)
            self.model.to(self.device)
            for layer in decoder_layers(self.model):
                fully_shard(layer, mp_policy=policy)
            fully_shard(self.model, mp_policy=policy)
        else:
            self.model.to(self.device)
        self.model.train()
        # Weight decay on matrices only: norms' gains and biases are not decayed (common practice;
        # the paper gives only the 0.1 value).
        decay = [p for p in self.model.parameters() if p.ndim >= 2]
        no_decay = [p for p in self.model.parameters() if p.ndim < 2]
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": self.hp.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=self.hp.learning_rate, betas=(self.hp.adam_beta1, self.hp.adam_beta2),
        )
        self.examples = tokenize_all(read_conversations(self.config.data), self.tokenizer, self.hp.max_length)
        self.steps_per_epoch = steps_per_epoch(examples=len(self.examples), batch_size=self.hp.batch_size)
        self.total_steps = self.steps_per_epoch * self.hp.epochs
        self.accumulation = accumulation_steps(batch_size=self.hp.batch_size, micro_batch_size=self.hp.micro_batch_size,
                                               world_size=self.world_size)
        self.start_epoch, self.global_step = 1, 0
        if self.resume_from is not None:
            state = json.loads((self.resume_from / STATE_FILE).read_text())
            self.start_epoch, self.global_step = state["epoch"] + 1, state["global_step"]
            self._load_optimizer(self.resume_from)

    def _micro_tensors(self, indices: list[int | None]):
        import torch

        placeholder = TokenizedExample(self.examples[0].input_ids, [IGNORE] * len(self.examples[0].input_ids))
        chosen = [self.examples[i] if i is not None else placeholder for i in indices]
        batch = pad_batch(chosen, pad_id=self.tokenizer.pad_token_id)
        return {key: torch.tensor(value, device=self.device) for key, value in batch.items()}

    def _loss_sum(self, batch):
        import torch
        import torch.nn.functional as F

        autocast = torch.autocast(device_type=self.device.type, dtype=torch.bfloat16,
                                  enabled=self.bf16 and self.strategy == "single" and self.device.type == "cuda")
        with autocast:
            logits = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        shifted = logits[:, :-1, :].float()
        targets = batch["labels"][:, 1:]
        return F.cross_entropy(shifted.reshape(-1, shifted.size(-1)), targets.reshape(-1), ignore_index=IGNORE,
                               reduction="sum")

    def train(self) -> None:
        import torch
        import torch.distributed as dist
        from tqdm import tqdm

        self.metrics.write(event="start", world_size=self.world_size, strategy=self.strategy, bf16=self.bf16,
                           activation_checkpointing=self.activation_checkpointing, examples=len(self.examples),
                           epochs=self.hp.epochs, total_steps=self.total_steps, accumulation=self.accumulation,
                           residual_dropout=self.dropout_rates,
                           resumed_from=str(self.resume_from) if self.resume_from else None)
        bar = tqdm(total=self.total_steps, initial=self.global_step, desc="sft", unit="step", disable=not self.is_main,
                   file=sys.stderr, dynamic_ncols=True, mininterval=1.0)
        for epoch in range(self.start_epoch, self.hp.epochs + 1):
            order = epoch_order(len(self.examples), seed=self.hp.seed, epoch=epoch)
            for step_in_epoch in range(self.steps_per_epoch):
                batch = order[step_in_epoch * self.hp.batch_size:(step_in_epoch + 1) * self.hp.batch_size]
                started = time.perf_counter()
                lr = learning_rate_at(self.global_step, total_steps=self.total_steps, peak=self.hp.learning_rate,
                                      final=self.hp.final_learning_rate)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                # The loss is the mean over every target token of the global batch, however it is split
                # across ranks and micro-batches; FSDP averages gradients over ranks, hence * world_size.
                target_tokens = sum(self.examples[i].target_tokens for i in batch) or 1
                tokens = sum(len(self.examples[i].input_ids) for i in batch)
                loss_total = torch.zeros((), device=self.device)
                micro_batches = rank_micro_batches(batch, rank=self.rank, world_size=self.world_size,
                                                   micro_batch_size=self.hp.micro_batch_size)
                for indices in micro_batches:
                    loss_sum = self._loss_sum(self._micro_tensors(indices))
                    (loss_sum * self.world_size / target_tokens).backward()
                    loss_total += loss_sum.detach()
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
                if self.strategy == "fsdp":
                    dist.all_reduce(loss_total)
                self.global_step += 1
                seconds = time.perf_counter() - started
                loss = loss_total.item() / target_tokens
                self.metrics.write(event="step", epoch=round(epoch - 1 + (step_in_epoch + 1) / self.steps_per_epoch, 4),
                                   step=self.global_step, total_steps=self.total_steps, loss=round(loss, 6), lr=lr,
                                   tokens=tokens, tokens_per_s=round(tokens / seconds, 1), seconds=round(seconds, 4))
                bar.set_postfix(epoch=epoch, loss=f"{loss:.4f}", lr=f"{lr:.2e}", refresh=False)
                bar.update(1)
            path = self.save_checkpoint(epoch)
            self.metrics.write(event="checkpoint", epoch=epoch, step=self.global_step, path=str(path))
        bar.close()
        self.metrics.write(event="done", step=self.global_step)
        if self.strategy == "fsdp":
            dist.barrier()
            dist.destroy_process_group()

    def save_checkpoint(self, epoch: int) -> Path:
        """`epoch-N/`: weights + tokenizer (from_pretrained loads it), then optimizer, then the state file.

        Only the newest checkpoint keeps optimizer state (it is twice the fp32 model): older epochs
        stay loadable for generation and judging, and a resume needs only the last one.
        """
        import torch
        import torch.distributed as dist

        path = Path(self.config.output_dir) / f"epoch-{epoch}"
        if self.strategy == "fsdp":
            from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

            state = get_model_state_dict(self.model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
            if self.bf16:
                state = {key: value.to(torch.bfloat16) for key, value in state.items()}
        else:
            state = None
        if self.is_main:
            path.mkdir(parents=True, exist_ok=True)
            self.model.save_pretrained(path, state_dict=state)
            self.tokenizer.save_pretrained(path)
        self._save_optimizer(path)
        if self.strategy == "fsdp":
            dist.barrier()
        if self.is_main:
            state_record = {"epoch": epoch, "global_step": self.global_step, "total_steps": self.total_steps,
                            "hyperparameters": self.hp.as_dict(), "base_model": self.config.base_model}
            # Written aside and renamed: a job killed mid-write never leaves a truncated state file.
            (path / f"{STATE_FILE}.tmp").write_text(json.dumps(state_record, indent=2))
            os.replace(path / f"{STATE_FILE}.tmp", path / STATE_FILE)
            # Older optimizer states go only once this checkpoint is complete: a job killed in between
            # still resumes from a checkpoint that has its optimizer state.
            for older in Path(self.config.output_dir).glob("epoch-*"):
                if older != path:
                    (older / OPTIMIZER_FILE).unlink(missing_ok=True)
                    shutil.rmtree(older / OPTIMIZER_DIR, ignore_errors=True)
        return path

    def _save_optimizer(self, path: Path) -> None:
        import torch

        if self.strategy == "fsdp":
            import torch.distributed.checkpoint as dcp
            from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

            dcp.save({"optimizer": get_optimizer_state_dict(self.model, self.optimizer)}, checkpoint_id=str(path / OPTIMIZER_DIR))
        else:
            torch.save(self.optimizer.state_dict(), path / OPTIMIZER_FILE)

    def _load_optimizer(self, path: Path) -> None:
        import torch

        if self.strategy == "fsdp" and (path / OPTIMIZER_DIR).exists():
            import torch.distributed.checkpoint as dcp
            from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict, set_optimizer_state_dict

            state = {"optimizer": get_optimizer_state_dict(self.model, self.optimizer)}
            dcp.load(state, checkpoint_id=str(path / OPTIMIZER_DIR))
            set_optimizer_state_dict(self.model, self.optimizer, state["optimizer"])
        elif self.strategy == "single" and (path / OPTIMIZER_FILE).exists():
            self.optimizer.load_state_dict(torch.load(path / OPTIMIZER_FILE, map_location=self.device))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.sft", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="run.json written by lima-studio (or by hand)")
    args = parser.parse_args(argv)
    trainer = Trainer(TrainConfig.load(args.config))
    trainer.setup()
    trainer.train()
    return 0


if __name__ == "__main__":
    sys.exit(main())
