"""REST API for studies (researchers) and blind judging (annotators), over the same services as the UI.

The judging endpoints follow the page's blindness rules: items are opaque tokens, responses are
the scrubbed texts as "a" and "b", and nothing names a model, run or response.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response as ApiResponse
from rest_framework.views import APIView

from annotation.forms import StudyForm
from annotation.models import Study
from annotation.selectors_judging import annotator_progress, study_overview
from annotation.services import judging
from annotation.services.judging import StudyClosed
from lima_site.api import capability_permission


class StudySerializer(serializers.ModelSerializer):
    overview = serializers.SerializerMethodField()

    class Meta:
        model = Study
        fields = ["id", "public_id", "name", "public_title", "kind", "dataset", "target_run", "baseline_runs", "annotators", "overlap",
                  "agreement_subset", "absolute_sample", "guidelines", "seed", "state", "overview", "created_at"]
        read_only_fields = ["public_id", "state", "created_at"]

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

    def perform_create(self, serializer):
        serializer.save(created_by=self.request.user)

    @action(detail=True, methods=["post"])
    def open(self, request, pk=None):
        try:
            study = judging.open_study(study=self.get_object())
        except ValidationError as exc:
            return ApiResponse({"detail": exc.messages}, status=status.HTTP_400_BAD_REQUEST)
        return ApiResponse(self.get_serializer(study).data)

    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        return ApiResponse(self.get_serializer(judging.close_study(study=self.get_object())).data)


class BlindItemSerializer(serializers.Serializer):
    item = serializers.UUIDField(allow_null=True)
    conversation = serializers.ListField(child=serializers.CharField())
    response_a = serializers.CharField()
    response_b = serializers.CharField(allow_blank=True)
    done = serializers.IntegerField()
    total = serializers.IntegerField()


class VerdictSerializer(serializers.Serializer):
    item = serializers.UUIDField()
    choice = serializers.ChoiceField(choices=["a", "b", "tie", "fail", "pass", "excellent"])
    reason = serializers.CharField(required=False, allow_blank=True, max_length=5000)


def _blind_item(study: Study, annotator) -> dict:
    assignment = judging.current_assignment(study=study, annotator=annotator)
    progress = annotator_progress(study=study, annotator=annotator)
    if assignment is None:
        return {"item": None, "conversation": [], "response_a": "", "response_b": "", "done": progress.done, "total": progress.total}
    item = assignment.item
    return {"item": item.public_id, "conversation": item.row.conversations, "response_a": item.text_a, "response_b": item.text_b,
            "done": progress.done, "total": progress.total}


class JudgingView(APIView):
    """GET: the annotator's current item. POST: a verdict (a / b / tie, or fail / pass / excellent); answers with the next item."""

    permission_classes = [capability_permission("judge")]

    def _study(self, study_id) -> Study:
        return get_object_or_404(Study, public_id=study_id)

    def _guarded(self, call):
        try:
            return call()
        except StudyClosed as exc:
            return ApiResponse({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        except PermissionDenied as exc:
            return ApiResponse({"detail": str(exc)}, status=status.HTTP_403_FORBIDDEN)
        except ValidationError as exc:
            return ApiResponse({"detail": exc.messages}, status=status.HTTP_400_BAD_REQUEST)

    @extend_schema(responses=BlindItemSerializer)
    def get(self, request, study_id):
        study = self._study(study_id)
        return self._guarded(lambda: ApiResponse(_blind_item(study, request.user)))

    @extend_schema(request=VerdictSerializer, responses=BlindItemSerializer)
    def post(self, request, study_id):
        study = self._study(study_id)
        verdict = VerdictSerializer(data=request.data)
        verdict.is_valid(raise_exception=True)
        data = verdict.validated_data

        def record():
            if study.kind == Study.Kind.PAIRWISE:
                recorded = judging.record_judgment(study=study, item_public_id=data["item"], annotator=request.user,
                                                   side=data["choice"], reason=data.get("reason", ""))
            else:
                recorded = judging.record_rating(study=study, item_public_id=data["item"], annotator=request.user,
                                                 grade=data["choice"], reason=data.get("reason", ""))
            return ApiResponse({**_blind_item(study, request.user), "stored": recorded.created},
                               status=status.HTTP_201_CREATED if recorded.created else status.HTTP_200_OK)

        return self._guarded(record)
