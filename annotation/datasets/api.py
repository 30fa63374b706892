"""REST API for dataset imports (researchers): the same detection, checks and report as the upload page."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response as ApiResponse
from rest_framework.views import APIView

from annotation import paper
from annotation.datasets import lima_format, services
from annotation.datasets.forms import source_policy
from annotation.models import Status
from lima_site.api import capability_permission
from lima_site.forms import validate_upload_size


class DatasetImportSerializer(serializers.Serializer):
    file = serializers.FileField(validators=[validate_upload_size],
                                 help_text="GAIR/lima, Hugging Face messages, ShareGPT or Alpaca / LLaMA-Factory records as "
                                           "JSONL, a JSON array, CSV or Parquet (annotation/datasets/formats.py).")
    default_split = serializers.ChoiceField(choices=[lima_format.AUTO_SPLIT, *(key for key, _ in paper.SPLITS)],
                                            default=lima_format.AUTO_SPLIT)
    default_source = serializers.ChoiceField(choices=["", *sorted(paper.SOURCE_KEYS)], default="", allow_blank=True,
                                             help_text="The source of rows that name none.")
    unknown_as_other = serializers.BooleanField(default=False, help_text="File unknown source names under \"other\".")
    status = serializers.ChoiceField(choices=[Status.APPROVED, Status.SUBMITTED, Status.CANDIDATE], default=Status.APPROVED)


class DuplicateSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    unit = serializers.CharField()
    example_id = serializers.IntegerField(allow_null=True)
    first_line = serializers.IntegerField(allow_null=True)
    exact = serializers.BooleanField()


class DatasetImportResultSerializer(serializers.Serializer):
    detected_format = serializers.CharField(help_text="e.g. \"ShareGPT (from/value), JSON array\"")
    shape = serializers.CharField()
    container = serializers.CharField()
    created = serializers.IntegerField()
    by_split = serializers.DictField(child=serializers.IntegerField())
    duplicates = DuplicateSerializer(many=True)
    summary = serializers.CharField()


class DatasetImportView(APIView):
    """Import examples from a file, all or nothing; the answer names the detected format and every duplicate skipped."""

    permission_classes = [capability_permission("manage_datasets")]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": DatasetImportSerializer},
                   responses={201: DatasetImportResultSerializer, 400: OpenApiResponse(description="the file's errors")})
    def post(self, request):
        upload = DatasetImportSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        data = upload.validated_data
        try:
            parsed = services.parse_upload(data["file"], filename=data["file"].name, default_split=data["default_split"],
                                           sources=source_policy(data))
            result = services.import_examples(rows=parsed.rows, user=request.user, status=data["status"],
                                              provenance={"file": data["file"].name, "format": parsed.description})
        except lima_format.FormatError as error:
            return ApiResponse({"detail": "nothing was imported: the file has errors",
                                "errors": [{"line": e.line, "unit": e.unit, "field": e.field, "message": e.message, "text": str(e)}
                                           for e in error.errors],
                                "truncated": error.truncated}, status=status.HTTP_400_BAD_REQUEST)
        return ApiResponse({
            "detected_format": parsed.description, "shape": parsed.shape, "container": parsed.container,
            "created": result.created, "by_split": result.by_split,
            "duplicates": [{"line": d.line, "unit": d.unit, "example_id": d.example_id, "first_line": d.first_line,
                            "exact": d.exact} for d in result.duplicates],
            "summary": result.summary(),
        }, status=status.HTTP_201_CREATED)
