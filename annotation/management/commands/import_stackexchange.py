"""Stack Exchange dump (a site folder with Posts.xml, or a folder of sites) → STEM and Other candidates."""

from annotation.management.importing import ImportCommand


class Command(ImportCommand):
    help = "Stack Exchange dump (a site folder with Posts.xml, or a folder of sites) → STEM and Other candidates."
    importer = "stackexchange"
