"""REST API for the model registry and generation runs (researchers), served by the same services as the UI."""

from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response as ApiResponse

from annotation.datasets.models import Dataset
from generation.models import GenerationRun, ModelSpec
from generation.services import runs
from lima_site.api import capability_permission


class ModelSpecSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelSpec
        fields = ["id", "name", "backend", "location", "served_model_name", "api_key_env", "requests_per_minute", "chat_template",
                  "top_p", "temperature", "repetition_penalty", "max_new_tokens", "description", "created_at"]
        read_only_fields = ["created_at"]

    def validate(self, attrs):
        candidate = ModelSpec(**{**({f.name: getattr(self.instance, f.name) for f in ModelSpec._meta.fields} if self.instance else {}), **attrs})
        candidate.clean()  # DRF turns the Django ValidationError raised here into field errors
        return attrs


class RunSerializer(serializers.ModelSerializer):
    model = serializers.PrimaryKeyRelatedField(queryset=ModelSpec.objects.all())
    dataset = serializers.PrimaryKeyRelatedField(queryset=Dataset.objects.all())
    decoding = serializers.JSONField(required=False, help_text="Overrides of the model's default (LIMA) decoding")
    progress = serializers.SerializerMethodField()

    class Meta:
        model = GenerationRun
        fields = ["id", "model", "dataset", "decoding", "seed", "chunk_size", "status", "total", "progress", "environment",
                  "created_at", "started_at", "finished_at"]
        read_only_fields = ["status", "total", "environment", "created_at", "started_at", "finished_at"]

    def get_progress(self, run) -> dict:
        return runs.progress(run)


class ModelSpecViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = ModelSpec.objects.all()
    serializer_class = ModelSpecSerializer
    permission_classes = [capability_permission("generate")]

    def perform_create(self, serializer):
        serializer.save(created_by=self.request.user)


class GenerationRunViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = GenerationRun.objects.select_related("model", "dataset")
    serializer_class = RunSerializer
    permission_classes = [capability_permission("generate")]

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        run = runs.create_run(model=data["model"], dataset=data["dataset"], user=request.user,
                              decoding=data.get("decoding") or {}, seed=data.get("seed", 0), chunk_size=data.get("chunk_size", 16))
        run = runs.start_run(run=run)
        return ApiResponse(self.get_serializer(run).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return ApiResponse(self.get_serializer(runs.cancel_run(run=self.get_object())).data)

    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        run = self.get_object()
        runs.retry_failures(run=run)  # RunConflict: 409 with its reason (lima_site.api.exception_handler)
        run.refresh_from_db()
        return ApiResponse(self.get_serializer(run).data)
