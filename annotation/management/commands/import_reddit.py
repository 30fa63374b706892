"""Pushshift r/WritingPrompts and r/AskReddit NDJSON (.zst or plain) → story candidates and test prompts."""

from annotation.management.importing import ImportCommand


class Command(ImportCommand):
    help = "Pushshift r/WritingPrompts and r/AskReddit NDJSON (.zst or plain) → story candidates and test prompts."
    importer = "reddit"
