"""LIMA supervised fine-tuning: `python -m training.sft --config run.json` (no Django import).

One CPU or GPU process, or many GPUs on many nodes under torchrun (the rendered sbatch script
starts it that way). accelerate provides the runtime (process group with a timeout, device, empty
model construction); the model is sharded with torch's FSDP2 from load to save (training.sharding):
built on the meta device, wrapped, then each rank reads only its own rows of the base weights.
fp32 master weights, bf16 compute on GPU, activation checkpointing.

The recipe is training.recipe (LIMA's section 2); the text format is tokenization.chat, the exact
template the generation backends use. Every epoch ends with `epoch-N/` and its state file
(written last): a sharded resume checkpoint (weights, optimizer, scheduler, RNG; torch.distributed
.checkpoint) that the next complete epoch replaces, and for the epochs to be evaluated (5-10 by
default, and the last) Hugging Face safetensors that `from_pretrained` and vLLM load. A restarted
job resumes exactly where the last checkpoint left it. When the file `checkpoint-and-requeue`
appears beside run.json (the sbatch script creates it on Slurm's pre-timeout signal), the trainer
checkpoints after the current step into `interrupted/`, renames it `requeue-requested` (the
script then requeues the job) and exits with status 75.
Metrics go to a JSON-lines file the tool reads for its loss curve; a tqdm bar goes to the job log.

Config keys: base_model (checkpoint directory), data (GAIR/lima JSONL), output_dir, metrics
(optional, default output_dir/metrics.jsonl), hyperparameters (training.recipe.Hyperparameters),
strategy ("auto": FSDP when WORLD_SIZE > 1; "single"; "fsdp"; "hsdp": shard within a node,
replicate across nodes), precision ("auto": bf16 on GPU, fp32 on CPU; "bf16"; "fp32"),
activation_checkpointing (default: on with FSDP), process_group_timeout_s (default 1800),
stop_file (default: checkpoint-and-requeue beside run.json).
"""

from __future__ import annotations

import argparse
import copy
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
    Hyperparameters, accumulation_steps, learning_rate_at, residual_dropout_rates, steps_per_epoch, weights_epochs,
)
from training.sharding import decoder_layers

STATE_FILE = "trainer_state.json"
RESUME_DIR = "resume"
INTERRUPTED_DIR = "interrupted"
STOP_FILE = "checkpoint-and-requeue"
# The answer to a stop request once the checkpoint is written: the sbatch script requeues the job when it
# finds this file (torchrun reports a failed worker as its own exit status 1, so a status cannot say it).
REQUEUE_FILE = "requeue-requested"
# EX_TEMPFAIL: the trainer checkpointed on request and wants to be started again.
REQUEUE_EXIT = 75

__all__ = ["STATE_FILE", "TrainConfig", "Trainer", "decoder_layers", "apply_residual_dropout", "main"]


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
    process_group_timeout_s: int = 1800
    stop_file: str = ""

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
            process_group_timeout_s=int(raw.get("process_group_timeout_s", 1800)),
            stop_file=raw.get("stop_file") or str(Path(path).resolve().parent / STOP_FILE),
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


def ensure_eot(tokenizer, config) -> int:
    """LIMA's EOT token in the vocabulary (added to a base tokenizer without it) and as a stop token.

    Works on the model's config before the model exists: a grown vocabulary makes the (meta) model
    one row larger, and the sharded reader gives the new row the mean of the base embeddings.
    """
    if EOT_TOKEN not in tokenizer.get_vocab():
        tokenizer.add_special_tokens({"additional_special_tokens": [EOT_TOKEN]})
    config.vocab_size = max(config.vocab_size, len(tokenizer))
    eot_id = tokenizer.convert_tokens_to_ids(EOT_TOKEN)
    tokenizer.chat_template = CHAT_TEMPLATE
    stops = config.eos_token_id
    stops = list(stops) if isinstance(stops, (list, tuple)) else ([stops] if stops is not None else [])
    if eot_id not in stops:
        config.eos_token_id = [*stops, eot_id]
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
    """The newest checkpoint a run can resume from: a complete epoch (its state file is written last)
    that still has its resume state, or an interrupted one, whichever has the later step."""
    output = Path(output_dir)
    candidates = [p for p in [*output.glob("epoch-*"), output / INTERRUPTED_DIR]
                  if (p / STATE_FILE).exists() and (p / RESUME_DIR).is_dir()]
    return max(candidates, key=lambda p: json.loads((p / STATE_FILE).read_text())["global_step"], default=None)


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
        self.local_world_size = int(os.environ.get("LOCAL_WORLD_SIZE", str(self.world_size)))
        self.strategy = config.strategy if config.strategy != "auto" else ("fsdp" if self.world_size > 1 else "single")
        if self.strategy not in ("single", "fsdp", "hsdp"):
            raise ValueError(f"unknown strategy {config.strategy!r}")
        if self.strategy == "single" and self.world_size > 1:
            raise ValueError("strategy 'single' with WORLD_SIZE > 1: use 'fsdp' (or 'auto') under torchrun")
        self.sharded = self.strategy in ("fsdp", "hsdp")
        cuda = torch.cuda.is_available()
        precision = config.precision if config.precision != "auto" else ("bf16" if cuda else "fp32")
        self.bf16 = precision == "bf16"
        self.activation_checkpointing = (
            config.activation_checkpointing if config.activation_checkpointing is not None else self.sharded
        )
        self.is_main = self.rank == 0
        self.metrics = MetricsLog(config.metrics, enabled=self.is_main)

    def setup(self) -> None:
        import datetime

        import torch
        from accelerate import Accelerator, init_empty_weights
        from accelerate.utils import InitProcessGroupKwargs
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

        from training import sharding

        cuda = torch.cuda.is_available()
        # accelerate joins the process group torchrun describes (nccl on GPU, gloo on CPU) with our timeout:
        # a rank stuck in a collective fails the job after it instead of hanging until the time limit.
        process_group = InitProcessGroupKwargs(backend="nccl" if cuda else "gloo",
                                               timeout=datetime.timedelta(seconds=self.config.process_group_timeout_s))
        self.accelerator = Accelerator(cpu=not cuda, kwargs_handlers=[process_group] if self.world_size > 1 else [])
        self.device = self.accelerator.device
        torch.manual_seed(self.hp.seed + self.rank)
        random.seed(self.hp.seed + self.rank)
        self.resume_from = last_checkpoint(self.config.output_dir)
        self.tokenizer = AutoTokenizer.from_pretrained(self.config.base_model)
        model_config = AutoConfig.from_pretrained(self.config.base_model)
        self.eot_id = ensure_eot(self.tokenizer, model_config)
        model_config.use_cache = False
        # Parameters on the meta device (no memory), buffers (rotary frequencies) real.
        with init_empty_weights(include_buffers=False):
            self.model = AutoModelForCausalLM.from_config(model_config, dtype=torch.float32)
        self.dropout_rates = apply_residual_dropout(self.model, self.hp.residual_dropout_top)
        if self.activation_checkpointing:
            self.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        self.model.config.use_cache = False
        if self.sharded:
            replicas = self.world_size // self.local_world_size if self.strategy == "hsdp" else 1
            self.mesh = sharding.device_mesh(device_type=self.device.type, world_size=self.world_size, replicas=replicas)
            sharding.shard_model(self.model, mesh=self.mesh, param_dtype=torch.bfloat16 if self.bf16 else torch.float32)
        self.load_figures = sharding.load_sharded_weights(self.model, self.config.base_model, device=self.device)
        if not self.sharded:
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
        # LIMA's schedule (1e-5 to 1e-6 linearly, no warm-up) as a scheduler, so its state is checkpointed.
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda step: learning_rate_at(
            step, total_steps=self.total_steps, peak=self.hp.learning_rate, final=self.hp.final_learning_rate,
        ) / self.hp.learning_rate)
        self.accumulation = accumulation_steps(batch_size=self.hp.batch_size, micro_batch_size=self.hp.micro_batch_size,
                                               world_size=self.world_size)
        self.weights_epochs = weights_epochs(self.hp.weights_epochs, epochs=self.hp.epochs)
        self.global_step = 0
        if self.resume_from is not None:
            self._load_resume_state(self.resume_from)

    # -- checkpoints -------------------------------------------------------------------------------

    def _state_dicts(self) -> dict:
        from torch.distributed.checkpoint.state_dict import get_model_state_dict, get_optimizer_state_dict

        return {"model": get_model_state_dict(self.model), "optimizer": get_optimizer_state_dict(self.model, self.optimizer)}

    def _rng_state(self) -> dict:
        import torch

        state = {"torch": torch.get_rng_state(), "python": random.getstate()}
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state(self.device)
        return state

    def _save_resume_state(self, path: Path) -> int:
        """Sharded fp32 weights and optimizer state (each rank writes its shards), plus this rank's RNG
        and the scheduler: everything an exact continuation needs. Returns the bytes written by all ranks."""
        import torch
        import torch.distributed.checkpoint as dcp

        resume = path / RESUME_DIR
        if self.is_main:
            shutil.rmtree(resume, ignore_errors=True)
        self._barrier()
        dcp.save(self._state_dicts(), checkpoint_id=str(resume))
        torch.save({"rng": self._rng_state(), "scheduler": self.scheduler.state_dict()}, resume / f"rank-{self.rank}.pt")
        self._barrier()
        return sum(f.stat().st_size for f in resume.rglob("*") if f.is_file())

    def _load_resume_state(self, path: Path) -> None:
        import torch
        import torch.distributed.checkpoint as dcp
        from torch.distributed.checkpoint.state_dict import set_model_state_dict, set_optimizer_state_dict

        state = json.loads((path / STATE_FILE).read_text())
        if state.get("world_size", self.world_size) != self.world_size:
            raise ValueError(f"{path} was written by {state['world_size']} processes and this job has {self.world_size}: "
                             "the RNG streams and data shares would differ, so the run would not continue exactly")
        self.global_step = state["global_step"]
        states = self._state_dicts()
        dcp.load(states, checkpoint_id=str(path / RESUME_DIR))
        set_model_state_dict(self.model, states["model"])
        set_optimizer_state_dict(self.model, self.optimizer, states["optimizer"])
        extra = torch.load(path / RESUME_DIR / f"rank-{self.rank}.pt", weights_only=False)
        self.scheduler.load_state_dict(extra["scheduler"])
        torch.set_rng_state(extra["rng"]["torch"])
        random.setstate(extra["rng"]["python"])
        if "cuda" in extra["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state(extra["rng"]["cuda"], self.device)

    def _save_weights(self, path: Path) -> int:
        """Hugging Face safetensors, config and tokenizer in `path` (bf16 when training in bf16)."""
        import torch

        from training import sharding

        dtype = torch.bfloat16 if self.bf16 else torch.float32
        written = sharding.save_consolidated(self.model, path, dtype=dtype, world_size=self.world_size)
        self._barrier()
        if self.is_main:
            from transformers import GenerationConfig

            shutil.rmtree(path / "sharded", ignore_errors=True)  # the per-rank pieces the consolidation read
            # Training turns the KV cache off; generation from the checkpoint needs it on.
            config = copy.deepcopy(self.model.config)
            config.use_cache = True
            config.save_pretrained(path)
            try:
                generation = GenerationConfig.from_pretrained(self.config.base_model)
            except OSError:
                generation = GenerationConfig.from_model_config(config)
            generation.eos_token_id = config.eos_token_id
            generation.use_cache = True
            generation.save_pretrained(path)
            self.tokenizer.save_pretrained(path)
        return written

    def save_checkpoint(self, epoch: int, *, interrupted: bool = False) -> tuple[Path, dict]:
        """`epoch-N/` (or `interrupted/`): resume state, weights for evaluated epochs, then the state file.

        The state file is written last and renamed into place, so a half-written checkpoint is never
        used; older resume states go only once this one is complete.
        """
        output = Path(self.config.output_dir)
        path = output / (INTERRUPTED_DIR if interrupted else f"epoch-{epoch}")
        if self.is_main:
            path.mkdir(parents=True, exist_ok=True)
            (path / STATE_FILE).unlink(missing_ok=True)
        self._barrier()
        figures = {"resume_bytes": self._save_resume_state(path)}
        with_weights = not interrupted and epoch in self.weights_epochs
        if with_weights:
            figures["weights_bytes"] = self._save_weights(path)
        if self.is_main:
            state_record = {"epoch": epoch, "global_step": self.global_step, "total_steps": self.total_steps,
                            "interrupted": interrupted, "weights": with_weights, "world_size": self.world_size,
                            "hyperparameters": self.hp.as_dict(), "base_model": self.config.base_model, **figures}
            (path / f"{STATE_FILE}.tmp").write_text(json.dumps(state_record, indent=2))
            os.replace(path / f"{STATE_FILE}.tmp", path / STATE_FILE)
            for older in [*output.glob("epoch-*"), output / INTERRUPTED_DIR]:
                if older != path:
                    shutil.rmtree(older / RESUME_DIR, ignore_errors=True)
            if not interrupted:
                shutil.rmtree(output / INTERRUPTED_DIR, ignore_errors=True)
        self._barrier()
        return path, figures

    # -- the loop ----------------------------------------------------------------------------------

    def _barrier(self) -> None:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.barrier()

    def _all_sum(self, tensor):
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(tensor)
        return tensor

    def _stop_requested(self) -> bool:
        import torch

        flag = torch.tensor([1.0 if self.is_main and os.path.exists(self.config.stop_file) else 0.0], device=self.device)
        return bool(self._all_sum(flag).item())

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
                                  enabled=self.bf16 and not self.sharded and self.device.type == "cuda")
        with autocast:
            logits = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        shifted = logits[:, :-1, :].float()
        targets = batch["labels"][:, 1:]
        return F.cross_entropy(shifted.reshape(-1, shifted.size(-1)), targets.reshape(-1), ignore_index=IGNORE,
                               reduction="sum")

    def train(self) -> int:
        """Train to the last epoch (0), or checkpoint and stop when asked to (REQUEUE_EXIT)."""
        import torch
        from tqdm import tqdm

        from training import sharding

        self.metrics.write(event="start", world_size=self.world_size, strategy=self.strategy, bf16=self.bf16,
                           activation_checkpointing=self.activation_checkpointing, examples=len(self.examples),
                           epochs=self.hp.epochs, total_steps=self.total_steps, accumulation=self.accumulation,
                           residual_dropout=self.dropout_rates, weights_epochs=self.weights_epochs,
                           parameter_bytes_per_rank=sharding.local_bytes(self.model),
                           resumed_from=str(self.resume_from) if self.resume_from else None, engine="accelerate+fsdp2")
        bar = tqdm(total=self.total_steps, initial=self.global_step, desc="sft", unit="step", disable=not self.is_main,
                   file=sys.stderr, dynamic_ncols=True, mininterval=1.0)
        while self.global_step < self.total_steps:
            epoch, step_in_epoch = divmod(self.global_step, self.steps_per_epoch)
            epoch += 1
            order = epoch_order(len(self.examples), seed=self.hp.seed, epoch=epoch)
            batch = order[step_in_epoch * self.hp.batch_size:(step_in_epoch + 1) * self.hp.batch_size]
            started = time.perf_counter()
            lr = self.scheduler.get_last_lr()[0]
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
            self.scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)
            self._all_sum(loss_total)
            self.global_step += 1
            seconds = time.perf_counter() - started
            loss = loss_total.item() / target_tokens
            self.metrics.write(event="step", epoch=round(epoch - 1 + (step_in_epoch + 1) / self.steps_per_epoch, 4),
                               step=self.global_step, total_steps=self.total_steps, loss=round(loss, 6), loss_exact=loss,
                               lr=lr, tokens=tokens, tokens_per_s=round(tokens / seconds, 1), seconds=round(seconds, 4))
            bar.set_postfix(epoch=epoch, loss=f"{loss:.4f}", lr=f"{lr:.2e}", refresh=False)
            bar.update(1)
            epoch_done = step_in_epoch + 1 == self.steps_per_epoch
            if epoch_done:
                path, figures = self.save_checkpoint(epoch)
                self.metrics.write(event="checkpoint", epoch=epoch, step=self.global_step, path=str(path), **figures)
            if self.global_step < self.total_steps and self._stop_requested():
                if not epoch_done:
                    path, figures = self.save_checkpoint(epoch - 1, interrupted=True)
                self.metrics.write(event="interrupted", epoch=epoch - (0 if epoch_done else 1), step=self.global_step,
                                   path=str(path), **figures)
                if self.is_main:
                    os.replace(self.config.stop_file, Path(self.config.stop_file).with_name(REQUEUE_FILE))
                bar.close()
                self._finish()
                return REQUEUE_EXIT
        bar.close()
        self.metrics.write(event="done", step=self.global_step)
        self._finish()
        return 0

    def _finish(self) -> None:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.sft", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="run.json written by lima-studio (or by hand)")
    args = parser.parse_args(argv)
    trainer = Trainer(TrainConfig.load(args.config))
    trainer.setup()
    return trainer.train()


if __name__ == "__main__":
    code = main()
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        # Everything is on disk (checkpoints and metrics are written and closed as they happen) and the process
        # group is destroyed.
        from training.sharding import exit_rank

        exit_rank(code)
    sys.exit(code)
