from .curation import ImportJob
from .datasets import Dataset, DatasetRow
from .examples import AuthorGroup, AuthorProfile, Example, ExampleRevision, Quota, Role, Status, Turn

__all__ = [
    "AuthorGroup",
    "AuthorProfile",
    "Dataset",
    "DatasetRow",
    "Example",
    "ExampleRevision",
    "ImportJob",
    "Quota",
    "Role",
    "Status",
    "Turn",
]
