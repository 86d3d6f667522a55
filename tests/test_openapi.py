"""The HTTP interface stays what approval workflows were built against: the OpenAPI
document the app serves equals ``openapi_v1.json``, committed before the API was split
into routes (f259d6a). A change to it must be made on purpose, here and in the file.
Changed since, on purpose: the submission example named "energy cut" now cuts the energy
supply; the summary names the encoding each CSV table was read in (``input_encodings``);
the reuse list's ``findings`` layer is one feature per finding (with its figures, firm and
land user) beside a new ``flagged_parcels`` layer, and the land settings gain
``idle.unsupplied_days``; a scenario's ``name`` must be a folder name and its solver
``seed`` a 32-bit integer; every /v1 route documents the 400 of a body that is not UTF-8
JSON, the scenario schema needs a key like the rest of /v1, and the report and reuse list
may answer 503 with Retry-After while another request makes them; the report's 409 is a
reloading HTML page (issue 24); a scenario and its summary carry ``lang`` (zh or en, the
language of the words in the files), and the result reads, the reuse list and the report
take ``?lang=`` (else Accept-Language, else zh) for their labels (issue 18); so do a
scenario's status and the scenario list, for the words of its input problems (issue 18)."""

from __future__ import annotations

import json
from pathlib import Path

from api.app import create_app
from api.settings import ApiSettings

COMMITTED = Path(__file__).with_name("openapi_v1.json")


def test_openapi_document_is_the_committed_one(tmp_path):
    app = create_app(ApiSettings(data_dir=tmp_path / "var", run_worker=False))
    served = json.loads(json.dumps(app.openapi()))  # as a client receives it
    assert served == json.loads(COMMITTED.read_text(encoding="utf-8"))
