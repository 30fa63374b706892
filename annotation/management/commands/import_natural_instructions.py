"""Super-NaturalInstructions task files → one instance of each of 50 generation tasks."""

from annotation.management.importing import ImportCommand


class Command(ImportCommand):
    help = "Super-NaturalInstructions task files → one instance of each of 50 generation tasks."
    importer = "natural_instructions"
