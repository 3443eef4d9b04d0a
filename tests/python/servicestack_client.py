"""Drives the real PyPI `servicestack` client against a gateway with the DTOs the gateway's own
/types/python generated, fetched and imported as a module, unchanged. Asserts nothing itself: it
prints one JSON report of what the client surfaced; tests/e2e_native_types.rs asserts on it.

usage: .venv/bin/python tests/python/servicestack_client.py <gateway base url> <work dir> <key id> <secret>
"""

import importlib.util
import json
import sys
import urllib.request
import uuid
from pathlib import Path

from servicestack import JsonServiceClient, WebServiceException

base, work_dir, key_id, secret = sys.argv[1:5]
INSTANT = "tok_visa"

# 1. The DTOs, as a Python user gets them: the file at /types/python, saved as dtos.py.
work = Path(work_dir)
work.mkdir(parents=True, exist_ok=True)
with urllib.request.urlopen(f"{base}/types/python", timeout=30) as reply:
    (work / "dtos.py").write_bytes(reply.read())
spec = importlib.util.spec_from_file_location("dtos", work / "dtos.py")
dtos = importlib.util.module_from_spec(spec)
sys.modules["dtos"] = dtos
spec.loader.exec_module(dtos)

client = JsonServiceClient(base)
client.set_credentials(key_id, secret)
report = {}

# 2. A payment the sandbox pays at once.
paid = client.post(
    dtos.MakePaymentRequest(
        payment_id=str(uuid.uuid4()),
        payment_method={"type": "card", "token": INSTANT},
        client_type=dtos.ClientType.IOS,
        store_payment_method=True,
        version=2,
    )
)
report["paid"] = {
    "type": type(paid).__name__,
    "data": paid.data,
    "response_status": None if paid.response_status is None else paid.response_status.to_dict(),
}

# 3. A request the gateway refuses: no payment id, no client type.
try:
    client.post(dtos.MakePaymentRequest(payment_method={"token": INSTANT}))
    report["invalid"] = {"thrown": False}
except WebServiceException as e:
    status = e.response_status
    report["invalid"] = {
        "thrown": True,
        "status_code": e.status_code,
        "error_code": status.error_code if status else None,
        "message": status.message if status else None,
        "fields": [err.field_name for err in (status.errors or [])] if status else [],
    }

print(json.dumps(report))
