"""Uploads go to disk, and stop being written at LIMA_MAX_UPLOAD_BYTES (settings.FILE_UPLOAD_HANDLERS).

The handler keeps counting past the limit without writing, so the file arrives with its true size and
the form's `validate_upload_size` refuses it with a message that says how large it was.
"""

from django.conf import settings
from django.core.files.uploadhandler import TemporaryFileUploadHandler


class CappedTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.written = 0

    def receive_data_chunk(self, raw_data, start):
        room = settings.LIMA_MAX_UPLOAD_BYTES + 1 - self.written
        if room > 0:
            chunk = raw_data[:room]
            self.file.write(chunk)
            self.written += len(chunk)
