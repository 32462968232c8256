"""The ceiling for ``bench_service``: a bare FastAPI app whose endpoint only signs.

    python -m bench.bare_app --port 8100

``POST /v1/seals`` reads the body, signs a claim-sized message (a PAE over the body and a
fixed ~600-byte claim template, like a real seal's) with Ed25519, and answers 201 with an
envelope-sized JSON object.  No validation, auth, claim building, canonicalisation or
storage: what is left is uvicorn + FastAPI routing + one signature.  It runs under the
same uvicorn settings as ``sceau-service serve`` (``uvicorn.run(app, access_log=False,
log_level="warning")``, one worker), so the same wrk load measures both.
"""

from __future__ import annotations

import argparse
import base64

import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI, Request, Response

PAYLOAD_TYPE = b"application/vnd.sceau.claim.v1+json"
# A claim's other members (sizes as in a real one), so the signed message is seal-sized.
TEMPLATE = (b',"claim_generator_info":[{"name":"sceau-service","version":"0.1.0"}],'
            b'"instanceID":"xmp:iid:00000000-0000-4000-8000-000000000000",'
            b'"signer":{"keyid":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","tenant":"dev"},'
            b'"created":"2026-01-01T00:00:00Z","assertions":[{"label":"c2pa.actions.v2",'
            b'"data":{"actions":[{"action":"c2pa.created","digitalSourceType":'
            b'"http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture",'
            b'"when":"2026-01-01T00:00:00Z"}]}},{"label":"c2pa.hash.data","data":'
            b'{"alg":"sha256","exclusions":[],"hash":"","size":0}}]}')

app = FastAPI()
_KEY = Ed25519PrivateKey.generate()


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


@app.post("/v1/seals", status_code=201)
async def seal(request: Request) -> Response:
    """Sign the body plus a claim-sized template; answer an envelope-sized object."""
    payload = await request.body() + TEMPLATE
    message = b"SCEAU-SIG-V1 %d %s %d %s" % (len(PAYLOAD_TYPE), PAYLOAD_TYPE,
                                             len(payload), payload)
    sig = _KEY.sign(message)
    body = b'{"payload":"' + _b64(payload) + b'","sig":"' + _b64(sig) + b'"}'
    return Response(body, status_code=201, media_type="application/json")


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    """Readiness for the benchmark driver."""
    return {"status": "ok"}


def main() -> None:
    """Serve on loopback with the service's uvicorn settings."""
    parser = argparse.ArgumentParser(description="bare FastAPI signing app (bench ceiling)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
