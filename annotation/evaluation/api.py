"""REST API for studies (researchers) and blind judging (annotators), over the same services as the UI.

The judging endpoints follow the page's blindness rules: items are opaque tokens, responses are
the scrubbed texts as "a" and "b", and nothing names a model, run or response.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response as ApiResponse
from rest_framework.views import APIView

from annotation.evaluation.forms import StudyForm
from annotation.evaluation.models import Study
from annotation.evaluation.selectors import annotator_progress, study_overview
from annotation.evaluation.services import judging
from lima_site.api import capability_permission
from lima_site.forms import validate_upload_size


class StudySerializer(serializers.ModelSerializer):
    overview = serializers.SerializerMethodField()

    class Meta:
        model = Study
        fields = ["id", "public_id", "name", "public_title", "kind", "dataset", "target_run", "baseline_runs", "annotators", "overlap",
                  "agreement_subset", "absolute_sample", "one_prompt_per_annotator", "attention_checks", "speed_flag_seconds", "max_overlap",
                  "exclusions", "guidelines", "seed", "state", "overview", "created_at"]
        read_only_fields = ["public_id", "state", "exclusions", "created_at"]

    def get_overview(self, study) -> dict:
        return study_overview(study)

    def validate(self, attrs):
        data = {key: value for key, value in self.initial_data.items()}
        form = StudyForm(data=data)
        if not form.is_valid():
            raise serializers.ValidationError(form.errors.get_json_data())
        return attrs


class StudyViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Study.objects.all()
    serializer_class = StudySerializer
    permission_classes = [capability_permission("manage_studies")]
    validation_errors_as_detail = True  # a study that cannot open says why under "detail" (lima_site.api.exception_handler)

    def perform_create(self, serializer):
        serializer.save(created_by=self.request.user)

    @action(detail=True, methods=["post"])
    def open(self, request, pk=None):
        return ApiResponse(self.get_serializer(judging.open_study(study=self.get_object())).data)

    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        return ApiResponse(self.get_serializer(judging.close_study(study=self.get_object())).data)


class BlindItemSerializer(serializers.Serializer):
    item = serializers.UUIDField(allow_null=True)
    conversation = serializers.ListField(child=serializers.CharField())
    response_a = serializers.CharField()
    response_b = serializers.CharField(allow_blank=True)
    done = serializers.IntegerField()
    total = serializers.IntegerField(help_text="Verdicts given plus items still open to you (a lower bound when total_is_lower_bound).")
    total_is_lower_bound = serializers.BooleanField(help_text="More items are open than were counted (more than 2,000 items left).")


class VerdictSerializer(serializers.Serializer):
    item = serializers.UUIDField()
    choice = serializers.ChoiceField(choices=["a", "b", "tie", "fail", "pass", "excellent", "safe", "partial", "unsafe"])
    reason = serializers.CharField(required=False, allow_blank=True, max_length=5000)


def _blind_item(study: Study, annotator) -> dict:
    assignment = judging.current_assignment(study=study, annotator=annotator)
    progress = annotator_progress(study=study, annotator=annotator)
    if assignment is None:
        return {"item": None, "conversation": [], "response_a": "", "response_b": "", "done": progress.done, "total": progress.total,
                "total_is_lower_bound": progress.total_is_lower_bound}
    item = assignment.item
    return {"item": item.public_id, "conversation": item.row.conversations, "response_a": item.text_a, "response_b": item.text_b,
            "done": progress.done, "total": progress.total, "total_is_lower_bound": progress.total_is_lower_bound}


class JudgingView(APIView):
    """GET: the annotator's current item. POST: a verdict (a / b / tie, or fail / pass / excellent); answers with the next item."""

    permission_classes = [capability_permission("judge")]
    validation_errors_as_detail = True  # the verdict is "choice" here, not the services' "side" / "grade"

    def _study(self, study_id) -> Study:
        return get_object_or_404(Study, public_id=study_id)

    @extend_schema(responses=BlindItemSerializer)
    def get(self, request, study_id):
        return ApiResponse(_blind_item(self._study(study_id), request.user))

    @extend_schema(request=VerdictSerializer, responses=BlindItemSerializer)
    def post(self, request, study_id):
        study = self._study(study_id)
        verdict = VerdictSerializer(data=request.data)
        verdict.is_valid(raise_exception=True)
        data = verdict.validated_data
        if study.compares_pairs:
            recorded = judging.record_judgment(study=study, item_public_id=data["item"], annotator=request.user,
                                               side=data["choice"], reason=data.get("reason", ""))
        else:
            recorded = judging.record_rating(study=study, item_public_id=data["item"], annotator=request.user,
                                             grade=data["choice"], reason=data.get("reason", ""))
        return ApiResponse({**_blind_item(study, request.user), "stored": recorded.created},
                           status=status.HTTP_201_CREATED if recorded.created else status.HTTP_200_OK)


# --- statistics, exports and external judgment sets (researchers) ------------------------------------

from drf_spectacular.types import OpenApiTypes  # noqa: E402
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse  # noqa: E402
from rest_framework.parsers import FormParser, MultiPartParser  # noqa: E402

from annotation.evaluation import exports, selectors, stats  # noqa: E402
from annotation.datasets.lima_format import FormatError  # noqa: E402
from annotation.evaluation.models import ExternalJudgmentSet  # noqa: E402
from annotation.evaluation.services.external_judgments import import_external_judgments  # noqa: E402
from annotation.evaluation.views.results import streamed_export  # noqa: E402
from annotation.datasets.csv_cells import raw_requested  # noqa: E402

_STUDY_PK = OpenApiParameter("pk", int, OpenApiParameter.PATH, description="The study's id.")


class StudyStatisticsView(APIView):
    """The study's full statistics report (Figure 1 for humans and the LLM judge, agreement, biases, ratings)."""

    permission_classes = [capability_permission("manage_studies")]

    @extend_schema(parameters=[_STUDY_PK], responses={200: OpenApiTypes.OBJECT})
    def get(self, request, pk: int):
        study = get_object_or_404(Study, pk=pk)
        return ApiResponse(stats.report_as_dict(selectors.study_report(study)))


class StudyExportView(APIView):
    """A streamed export of the study's judgments, items, responses or ratings (CSV or JSONL).

    Annotators are a stable per-study pseudonym unless `identities=1`. CSV text cells that a spreadsheet
    would run as a formula (starting with =, +, -, @, tab or CR) get a leading single quote unless `raw=1`.
    """

    permission_classes = [capability_permission("manage_studies")]

    def perform_content_negotiation(self, request, force=False):
        # The file is streamed as CSV / JSONL whatever the Accept header says; errors stay JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        operation_id="studies_export",
        parameters=[
            _STUDY_PK,
            OpenApiParameter("kind", str, OpenApiParameter.PATH, enum=list(exports.KINDS)),
            OpenApiParameter("fmt", str, OpenApiParameter.PATH, enum=list(exports.FORMATS)),
            OpenApiParameter("identities", bool, OpenApiParameter.QUERY, required=False,
                             description="Real usernames instead of per-study pseudonyms."),
            OpenApiParameter("raw", bool, OpenApiParameter.QUERY, required=False,
                             description="CSV: write formula-leading text cells as they are, without the neutralising single quote "
                                         "(for programs, not spreadsheets)."),
        ],
        responses={(200, "text/csv"): OpenApiTypes.STR, (200, "application/x-ndjson"): OpenApiTypes.STR},
    )
    def get(self, request, pk: int, kind: str, fmt: str):
        study = get_object_or_404(Study, pk=pk)
        return streamed_export(study, kind, fmt, identities=request.query_params.get("identities") in ("1", "true", "yes"),
                               raw=raw_requested(request.query_params))


class ExternalJudgmentSetSerializer(serializers.ModelSerializer):
    class Meta:
        model = ExternalJudgmentSet
        fields = ["id", "name", "target", "baselines", "filename", "file_format", "sha256", "judgment_count", "seed", "created_at"]
        read_only_fields = fields


class ExternalJudgmentUploadSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    file = serializers.FileField(validators=[validate_upload_size], help_text="CSV or JSONL in the documented external-judgment format (annotation/evaluation/judgment_import.py).")
    target = serializers.CharField(max_length=200, required=False, allow_blank=True)
    seed = serializers.IntegerField(required=False, default=0)
    tournament = serializers.BooleanField(required=False, default=False,
                                          help_text="Any models against each other, no single target (rated by Bradley-Terry).")


class RowErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField(allow_null=True, help_text="null when the problem is the whole file")
    field = serializers.CharField(allow_blank=True)
    message = serializers.CharField()


class ImportErrorsSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = RowErrorSerializer(many=True)
    truncated = serializers.BooleanField()


class ExternalJudgmentSetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Judgment sets collected elsewhere: upload one (all or nothing), then read its statistics."""

    queryset = ExternalJudgmentSet.objects.all()
    serializer_class = ExternalJudgmentSetSerializer
    permission_classes = [capability_permission("manage_studies")]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": ExternalJudgmentUploadSerializer},
                   responses={201: ExternalJudgmentSetSerializer, 400: OpenApiResponse(ImportErrorsSerializer)})
    def create(self, request):
        upload = ExternalJudgmentUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        data = upload.validated_data
        try:
            judgment_set = import_external_judgments(name=data["name"], stream=data["file"], filename=data["file"].name,
                                                     user=request.user, target=data.get("target") or None, seed=data["seed"],
                                                     tournament=data["tournament"])
        except FormatError as error:
            return ApiResponse({"detail": "nothing was imported: the file has errors",
                                "errors": [{"line": e.line, "field": e.field, "message": e.message} for e in error.errors],
                                "truncated": error.truncated}, status=status.HTTP_400_BAD_REQUEST)
        return ApiResponse(ExternalJudgmentSetSerializer(judgment_set).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"])
    def statistics(self, request, pk=None):
        return ApiResponse(stats.report_as_dict(selectors.external_report(self.get_object())))

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"])
    def leaderboard(self, request, pk=None):
        """Bradley-Terry ratings with bootstrap intervals and the win-rate matrix, people ("human") and LLM judges ("llm")."""
        return ApiResponse({key: stats.report_as_dict(board) for key, board in selectors.external_tournament(self.get_object()).items()})
