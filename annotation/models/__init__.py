from .curation import ImportJob
from .examples import AuthorGroup, AuthorProfile, Example, ExampleRevision, Quota, Role, Status, Turn, conversation_hash

__all__ = ["AuthorGroup", "AuthorProfile", "Example", "ExampleRevision", "ImportJob", "Quota", "Role", "Status", "Turn"]
