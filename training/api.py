"""REST API for training runs (researchers), served by the same services as the UI."""

from __future__ import annotations

from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response as ApiResponse

from annotation.datasets.models import Dataset
from generation.models import ModelSpec
from lima_site.api import capability_permission
from training import slurm
from training.models import Checkpoint, TrainingRun
from training.recipe import LIMA_65B
from training.services import checkpoints as checkpoint_services
from training.services import runs


class CheckpointSerializer(serializers.ModelSerializer):
    model_name = serializers.CharField(source="model.name", read_only=True)

    class Meta:
        model = Checkpoint
        fields = ["id", "epoch", "step", "path", "model", "model_name", "dev_run", "created_at"]


class TrainingRunSerializer(serializers.ModelSerializer):
    dataset = serializers.PrimaryKeyRelatedField(queryset=Dataset.objects.all())
    base_model = serializers.PrimaryKeyRelatedField(queryset=ModelSpec.objects.all())
    hyperparameters = serializers.JSONField(required=False, help_text=f"Overrides of LIMA's recipe: {LIMA_65B.as_dict()}")
    submit = serializers.BooleanField(write_only=True, default=False, help_text="Submit right away instead of leaving a draft")
    checkpoints = CheckpointSerializer(many=True, read_only=True)
    progress = serializers.SerializerMethodField()

    class Meta:
        model = TrainingRun
        fields = ["id", "name", "dataset", "base_model", "hyperparameters", "launcher", "checkpoint_backend", "nodes", "gpus_per_node",
                  "cpus_per_task", "partition", "account", "qos", "time_limit", "submit", "state", "scheduler_state",
                  "job_id", "exit_code", "error", "log_tail", "script", "run_dir", "dataset_hash", "base_config_hash",
                  "code_version", "result", "checkpoints", "progress", "created_at", "submitted_at", "finished_at",
                  "cancel_requested_at", "earlier_attempts"]
        read_only_fields = ["state", "scheduler_state", "job_id", "exit_code", "error", "log_tail", "script", "run_dir",
                            "dataset_hash", "base_config_hash", "code_version", "result", "created_at", "submitted_at",
                            "finished_at", "cancel_requested_at", "earlier_attempts"]
        extra_kwargs = {"name": {"required": False}, "launcher": {"required": False},
                        "checkpoint_backend": {"required": False}}

    def get_progress(self, run) -> dict:
        summary = runs.run_progress(run)
        summary.pop("points")
        return summary


class TrainingRunViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = TrainingRun.objects.select_related("dataset", "base_model").prefetch_related("checkpoints__model")
    serializer_class = TrainingRunSerializer
    permission_classes = [capability_permission("train")]

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        resources = slurm.Resources(**{key: data[key] for key in ("nodes", "gpus_per_node", "cpus_per_task", "partition",
                                                                 "account", "qos", "time_limit") if key in data})
        run = runs.create_run(name=data.get("name", ""), dataset=data["dataset"], base_model=data["base_model"],
                              user=request.user, hyperparameters=data.get("hyperparameters") or {},
                              launcher=data.get("launcher"), resources=resources,
                              checkpoint_backend=data.get("checkpoint_backend"))
        if data.get("submit"):
            run = runs.submit_run(run=run)
        return ApiResponse(self.get_serializer(run).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        """Submit a draft, or submit again a run that was not submitted; `launcher` (optional) switches its launcher."""
        launcher = request.data.get("launcher") or None
        return ApiResponse(self.get_serializer(runs.submit_run(run=self.get_object(), launcher=launcher)).data)

    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return ApiResponse(self.get_serializer(runs.cancel_run(run=self.get_object())).data)

    @action(detail=True, methods=["post"])
    def resubmit(self, request, pk=None):
        """Submit a run that ended early again; the trainer resumes after its last complete checkpoint."""
        return ApiResponse(self.get_serializer(runs.resubmit_run(run=self.get_object())).data)

    @action(detail=True, methods=["post"])
    def refresh(self, request, pk=None):
        return ApiResponse(self.get_serializer(runs.refresh_run(run=self.get_object())).data)

    @action(detail=True, methods=["post"])
    def pick(self, request, pk=None):
        run = self.get_object()
        checkpoint = run.checkpoints.filter(pk=request.data.get("checkpoint")).first()
        if checkpoint is None:
            return ApiResponse({"checkpoint": "not a checkpoint of this run"}, status=status.HTTP_400_BAD_REQUEST)
        return ApiResponse(self.get_serializer(checkpoint_services.pick_result(run=run, checkpoint=checkpoint)).data)
