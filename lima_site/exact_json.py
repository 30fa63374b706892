"""Django's JSON serialisation format, but with times to the microsecond (the `exact-json` format of export_all).

DjangoJSONEncoder writes datetimes to the millisecond (ECMA-262), so a backup restored from plain `dumpdata` json
moved every timestamp by up to 1 ms and could reorder rows created in the same millisecond. The file stays plain
JSON that `loaddata` reads with its ordinary json deserialiser (which parses the microseconds).
"""

from __future__ import annotations

import datetime

from django.core.serializers.json import Deserializer, DjangoJSONEncoder
from django.core.serializers.json import Serializer as JSONSerializer

__all__ = ["Deserializer", "Serializer"]


class ExactJSONEncoder(DjangoJSONEncoder):
    def default(self, o):
        if isinstance(o, datetime.datetime):
            text = o.isoformat()
            return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text
        if isinstance(o, datetime.time) and o.utcoffset() is None:
            return o.isoformat()
        return super().default(o)


class Serializer(JSONSerializer):
    def _init_options(self):
        self.options.setdefault("cls", ExactJSONEncoder)
        super()._init_options()
