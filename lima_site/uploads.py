"""Uploads go to disk, and stop being written at LIMA_MAX_UPLOAD_BYTES (settings.FILE_UPLOAD_HANDLERS).

The handler keeps counting past the limit without writing, so the file arrives with its true size and
the form's `validate_upload_size` refuses it with a message that says how large it was.
"""

from django.conf import settings
from django.core.files.uploadhandler import TemporaryFileUploadHandler


class CappedTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    setting = "LIMA_MAX_UPLOAD_BYTES"

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.written = 0

    def receive_data_chunk(self, raw_data, start):
        room = getattr(settings, self.setting) + 1 - self.written
        if room > 0:
            chunk = raw_data[:room]
            self.file.write(chunk)
            self.written += len(chunk)


class DumpUploadHandler(CappedTemporaryFileUploadHandler):
    """Community dumps uploaded from the browser: streamed to disk in chunks, capped at LIMA_MAX_DUMP_UPLOAD_BYTES
    (dumps are larger than the other uploads; set per request by the dump upload view)."""

    setting = "LIMA_MAX_DUMP_UPLOAD_BYTES"
