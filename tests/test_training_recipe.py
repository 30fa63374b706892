"""The training recipe's pure pieces: LR schedule, residual-dropout schedule, loss masking, sbatch rendering, states."""

from __future__ import annotations

import pytest

from tokenization.chat import EOT_TOKEN, render_conversation
from training import slurm
from training.charts import loss_curve_svg
from training.masking import IGNORE, build_example, pad_batch
from training.progress import log_tail, loss_points, read_metrics, summary
from training.recipe import (
    LIMA_7B, LIMA_65B, Hyperparameters, accumulation_steps, learning_rate_at, residual_dropout_rates, steps_per_epoch,
)


def test_lima_defaults_are_the_papers_recipe():
    assert LIMA_65B.as_dict() | {} == {
        "epochs": 15, "batch_size": 32, "micro_batch_size": 1, "learning_rate": 1e-5, "final_learning_rate": 1e-6,
        "adam_beta1": 0.9, "adam_beta2": 0.95, "weight_decay": 0.1, "max_length": 2048, "residual_dropout_top": 0.3,
        "seed": 0, "weights_epochs": "5-10",
    }
    assert (LIMA_7B.batch_size, LIMA_7B.residual_dropout_top) == (64, 0.2)


def test_bad_hyperparameters_name_every_problem():
    with pytest.raises(ValueError) as error:
        Hyperparameters(epochs=0, learning_rate=1e-5, final_learning_rate=1e-4)
    assert "epochs" in str(error.value) and "final_learning_rate" in str(error.value)
    with pytest.raises(ValueError, match="unknown hyper-parameters: warmup"):
        Hyperparameters.from_dict({"warmup": 100})


def test_learning_rate_decays_linearly_from_1e5_to_1e6_without_warmup():
    total = 15 * 32  # 15 epochs of 1,000 examples at batch 32 would be 15 * 32 steps
    rates = [learning_rate_at(step, total_steps=total, peak=1e-5, final=1e-6) for step in range(total)]
    assert rates[0] == pytest.approx(1e-5)  # no warm-up: the first step uses the peak
    assert rates[-1] == pytest.approx(1e-6)
    assert rates[total // 2] == pytest.approx(1e-5 - 9e-6 * (total // 2) / (total - 1))
    assert all(later < earlier for earlier, later in zip(rates, rates[1:]))
    steps = [b - a for a, b in zip(rates, rates[1:])]
    assert max(steps) == pytest.approx(min(steps))
    assert learning_rate_at(0, total_steps=1, peak=1e-5, final=1e-6) == 1e-5


def test_residual_dropout_rises_linearly_from_bottom_to_top_layer():
    assert residual_dropout_rates(4, 0.3) == pytest.approx([0.0, 0.1, 0.2, 0.3])
    rates_65b = residual_dropout_rates(80, 0.3)
    assert rates_65b[0] == 0.0 and rates_65b[-1] == pytest.approx(0.3) and len(rates_65b) == 80
    assert residual_dropout_rates(32, 0.2)[-1] == pytest.approx(0.2)
    assert residual_dropout_rates(1, 0.3) == [0.3]


def test_batch_of_32_is_reached_by_gradient_accumulation_across_processes():
    assert accumulation_steps(batch_size=32, micro_batch_size=1, world_size=1) == 32
    assert accumulation_steps(batch_size=32, micro_batch_size=2, world_size=8) == 2
    assert accumulation_steps(batch_size=64, micro_batch_size=4, world_size=32) == 1
    assert steps_per_epoch(examples=1030, batch_size=32) == 33


def fake_encode(text: str) -> list[int]:
    return [100 + len(word) for word in text.split()]


def test_loss_mask_covers_assistant_tokens_and_their_eot_only():
    example = build_example(["how are you", "fine thanks", "and you", "great"], encode=fake_encode, bos_id=1, eot_id=2,
                            max_length=100)
    assert example.input_ids == [1, 103, 103, 103, 2, 104, 106, 2, 103, 103, 2, 105, 2]
    assert example.labels == [IGNORE, IGNORE, IGNORE, IGNORE, IGNORE, 104, 106, 2, IGNORE, IGNORE, IGNORE, 105, 2]
    assert example.target_tokens == 5


def test_texts_over_max_length_are_trimmed():
    example = build_example(["a b c", "d e f g h"], encode=fake_encode, bos_id=1, eot_id=2, max_length=6)
    assert len(example.input_ids) == len(example.labels) == 6
    assert example.labels == [IGNORE] * 5 + [101]  # the response keeps only its first token


def test_padding_never_counts_in_the_loss():
    short = build_example(["a", "b"], encode=fake_encode, bos_id=1, eot_id=2, max_length=10)
    long = build_example(["a b c", "d e"], encode=fake_encode, bos_id=1, eot_id=2, max_length=10)
    batch = pad_batch([short, long], pad_id=0)
    assert batch["input_ids"][0] == short.input_ids + [0, 0, 0]
    assert batch["attention_mask"][0] == [1] * 5 + [0] * 3
    assert batch["labels"][0][-3:] == [IGNORE] * 3


def test_masking_with_the_real_tokenizer_matches_the_generation_chat_template(tiny_model):
    from transformers import AutoTokenizer

    from training.sft import tokenize_all

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    conversation = ["What is tea?", "Tea is an infusion of leaves.", "And coffee?", "Roasted beans, brewed."]
    example = tokenize_all([conversation], tokenizer, max_length=2048)[0]
    whole = tokenizer.encode(render_conversation(conversation), add_special_tokens=False)
    assert example.input_ids == whole  # the trainer sees exactly what generation renders
    eot = tokenizer.convert_tokens_to_ids(EOT_TOKEN)
    targets = [token for token, label in zip(example.input_ids, example.labels) if label != IGNORE]
    assert tokenizer.decode(targets) == f"Tea is an infusion of leaves.{EOT_TOKEN}Roasted beans, brewed.{EOT_TOKEN}"
    assert targets.count(eot) == 2 and example.input_ids.count(eot) == 4


def test_single_process_sbatch_script_runs_the_trainer_once():
    script = slurm.render_sbatch_script(
        job_name="lima-sft-3", resources=slurm.Resources(partition="cpu", account="lab", qos="normal", time_limit="02:00:00"),
        workdir="/srv/lima", python="/srv/lima/.venv/bin/python", config_path="/shared/run 3/run.json",
        log_path="/shared/run-3/train.log",
    )
    assert script.startswith("#!/bin/bash\n#SBATCH --job-name=lima-sft-3\n#SBATCH --nodes=1\n")
    for directive in ("--partition=cpu", "--account=lab", "--qos=normal", "--time=02:00:00",
                      "--output=/shared/run-3/train.log", "--open-mode=append", "--chdir=/srv/lima"):
        assert f"#SBATCH {directive}\n" in script
    assert "--gpus-per-node" not in script and "srun" not in script
    # A time limit brings the pre-timeout signal: the trainer runs in the background under the trap.
    assert "#SBATCH --requeue\n#SBATCH --signal=B:USR1@900\n" in script
    assert "\n/srv/lima/.venv/bin/python -m training.sft --config '/shared/run 3/run.json' &\n" in script
    assert "stop_file='/shared/run 3/checkpoint-and-requeue'\n" in script


def test_a_script_without_a_time_limit_execs_the_trainer_and_is_never_requeued():
    script = slurm.render_sbatch_script(job_name="j", resources=slurm.Resources(), workdir="/w", python="py",
                                        config_path="/c/run.json", log_path="/l")
    assert script.rstrip().endswith("exec py -m training.sft --config /c/run.json")
    assert "--signal" not in script and "--requeue" not in script and "trap" not in script


def test_multi_node_sbatch_script_starts_torchrun_on_every_node():
    script = slurm.render_sbatch_script(
        job_name="lima-65b", resources=slurm.Resources(nodes=4, gpus_per_node=8, cpus_per_task=64, time_limit="2-00:00:00"),
        workdir="/srv/lima", python="python3", config_path="/shared/run.json", log_path="/shared/train.log",
    )
    assert "#SBATCH --nodes=4\n#SBATCH --ntasks-per-node=1\n#SBATCH --cpus-per-task=64\n" in script
    assert "#SBATCH --gpus-per-node=8\n" in script and "#SBATCH --time=2-00:00:00\n" in script
    assert 'head_node=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)' in script
    assert "rendezvous_port=$(( 15000 + SLURM_JOB_ID % 15000 ))\n" in script
    assert ("srun --kill-on-bad-exit=1 python3 -m torch.distributed.run --nnodes=4 --nproc-per-node=8 --rdzv-backend=c10d "
            '--rdzv-endpoint="$head_node:$rendezvous_port" --rdzv-id="$SLURM_JOB_ID" -m training.sft --config /shared/run.json &\n') in script


@pytest.mark.parametrize("job_id", ["1", "14999", "15000", "987654321"])
def test_the_rendezvous_port_follows_the_job_id_and_stays_below_the_ephemeral_ports(job_id):
    import subprocess

    script = slurm.render_sbatch_script(job_name="j", resources=slurm.Resources(nodes=2, gpus_per_node=1, time_limit="1:00:00"),
                                        workdir="/w", python="py", config_path="/c/run.json", log_path="/l")
    line = next(line for line in script.splitlines() if line.startswith("rendezvous_port="))
    port = int(subprocess.run(["bash", "-c", f'SLURM_JOB_ID={job_id}; {line}; echo "$rendezvous_port"'], capture_output=True,
                              text=True, check=True).stdout)
    assert port == 15000 + int(job_id) % 15000 and 15000 <= port < 30000
    assert 'if [ -e "$requeue_file" ] && [ -n "${SLURM_JOB_ID:-}" ]; then\n  rm -f "$requeue_file"\n  scontrol requeue' in script


def test_one_node_with_several_gpus_uses_standalone_torchrun():
    script = slurm.render_sbatch_script(job_name="j", resources=slurm.Resources(gpus_per_node=8), workdir="/w", python="py",
                                        config_path="/c.json", log_path="/l")
    assert "exec py -m torch.distributed.run --standalone --nproc-per-node=8 -m training.sft --config /c.json" in script


def test_resources_are_checked_before_rendering():
    problems = slurm.Resources(nodes=0, time_limit="two days", partition="gpu;rm -rf").problems()
    assert set(problems) == {"nodes", "time_limit", "partition"}
    assert not slurm.Resources(time_limit="1-12:00:00").problems()
    assert not slurm.Resources(time_limit="90").problems()


@pytest.mark.parametrize("word, state", [
    ("PENDING", "pending"), ("CONFIGURING", "pending"), ("RUNNING", "running"), ("COMPLETING", "running"),
    ("COMPLETED", "completed"), ("FAILED", "failed"), ("CANCELLED", "cancelled"), ("CANCELLED by 0", "cancelled"),
    ("TIMEOUT", "timed_out"), ("NODE_FAIL", "node_failed"), ("OUT_OF_MEMORY", "out_of_memory"), ("BOOT_FAIL", "failed"),
])
def test_slurm_states_map_to_clear_run_states(word, state):
    assert slurm.run_state(word) == state


def test_submission_and_exit_codes_are_parsed():
    assert slurm.parse_submission("1234\n") == "1234"
    assert slurm.parse_submission("77;cluster-a\n") == "77"
    with pytest.raises(ValueError):
        slurm.parse_submission("sbatch: error")
    assert slurm.exit_code_of("0:0") == 0 and slurm.exit_code_of("1:0") == 1 and slurm.exit_code_of("0:9") == 137
    fields = slurm.parse_scontrol_job("JobId=5 JobName=x JobState=FAILED Reason=NonZeroExitCode ExitCode=1:0")
    assert (fields["JobState"], fields["ExitCode"], fields["Reason"]) == ("FAILED", "1:0", "NonZeroExitCode")


def test_log_tail_shows_a_progress_bar_as_a_terminal_would(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("loading\nsft:  0%| 0/4\rsft: 50%| 2/4\rsft: 100%| 4/4\nTraceback (most recent call last):\nValueError: boom\n")
    assert log_tail(log, lines=3) == "sft: 100%| 4/4\nTraceback (most recent call last):\nValueError: boom"
    assert log_tail(tmp_path / "missing.log") == ""


def test_metrics_summary_ignores_a_half_written_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"event": "start", "epochs": 2, "total_steps": 4}\n'
                    '{"event": "step", "epoch": 0.5, "step": 1, "total_steps": 4, "loss": 2.5, "lr": 1e-5, "tokens_per_s": 100}\n'
                    '{"event": "checkpoint", "epoch": 1}\n{"event": "st')
    records = read_metrics(path)
    assert summary(records) | {} == {"step": 1, "total_steps": 4, "percent": 25, "epoch": 0.5, "epochs": 2, "loss": 2.5,
                                     "lr": 1e-5, "tokens_per_s": 100, "checkpoints": [1], "finished": False}
    assert loss_points(records) == [(0.5, 2.5)]


def test_loss_curve_is_an_svg_line_through_every_step():
    svg = loss_curve_svg([(0.5, 3.0), (1.0, 2.5), (1.5, 2.0)])
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count(",") >= 3 and 'class="loss-line"' in svg
    assert "No steps yet" in loss_curve_svg([])


def test_weights_are_written_for_the_chosen_epochs_and_always_the_last():
    from training.recipe import weights_epochs

    assert weights_epochs("5-10", epochs=15) == [5, 6, 7, 8, 9, 10, 15]
    assert weights_epochs("5-10", epochs=2) == [2]
    assert weights_epochs("1,3, 6-7", epochs=7) == [1, 3, 6, 7]
    assert weights_epochs("all", epochs=3) == [1, 2, 3]
    for bad in ("ten", "5-", "0-3", "7-5", "5..10"):
        with pytest.raises(ValueError, match="weights_epochs"):
            Hyperparameters(weights_epochs=bad)


def test_slurm_time_limits_in_seconds_and_the_pre_timeout_signal():
    assert [slurm.time_limit_seconds(t) for t in ("90", "30:00", "02:00:00", "1-12", "2-00:00:00", "UNLIMITED", "")] == [
        5400, 1800, 7200, 129600, 172800, None, None]
    assert slurm.pre_timeout_signal_seconds("2-00:00:00") == 900  # the longest lead
    assert slurm.pre_timeout_signal_seconds("30:00") == 360  # a fifth of a short job
    assert slurm.pre_timeout_signal_seconds("00:09:00") is None  # too short to checkpoint and requeue
