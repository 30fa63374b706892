"""wikiHow CSV/JSON dump → 200 how-to candidates, category first."""

from annotation.management.importing import ImportCommand


class Command(ImportCommand):
    help = "wikiHow CSV/JSON dump → 200 how-to candidates, category first."
    importer = "wikihow"
