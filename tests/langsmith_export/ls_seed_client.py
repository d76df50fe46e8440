"""The seed page's ``client.py``: the real ``langsmith`` ``@traceable`` + ``to_headers()`` over httpx.

``python ls_seed_client.py BASE_URL [--skew SECONDS]`` posts to ``BASE_URL/my-route`` inside a
traced function, flushes langsmith's client (``LANGSMITH_ENDPOINT``) and prints one JSON line: the
client run's ids and the service's answer. ``--skew`` starts the client run that many seconds in the
future (a caller whose clock is ahead), through ``RunTree`` as the SDK offers.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
from typing import Any

import httpx
from langsmith import Client
from langsmith.run_helpers import get_current_run_tree, traceable
from langsmith.run_trees import RunTree

client = Client()


@traceable(client=client)
async def my_client_function(base: str) -> dict[str, Any]:
    headers = {}
    async with httpx.AsyncClient(base_url=base, trust_env=False) as http:
        if run_tree := get_current_run_tree():
            # add langsmith-id to headers
            headers.update(run_tree.to_headers())
        response = await http.post("/my-route", headers=headers, content="hello")
    assert run_tree is not None
    return {"client_run": ids(run_tree), "status": response.status_code, "reply": response.json()}


async def skewed(base: str, seconds: float) -> dict[str, Any]:
    start = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    run = RunTree(name="skewed_client", run_type="chain", inputs={"base": base}, start_time=start, client=client)
    run.post()
    async with httpx.AsyncClient(base_url=base, trust_env=False) as http:
        response = await http.post("/my-route", headers=run.to_headers(), content="skewed")
    run.end(outputs={"status": response.status_code}, end_time=start + datetime.timedelta(seconds=1))
    run.patch()
    return {"client_run": ids(run), "status": response.status_code, "reply": response.json()}


def ids(run: RunTree) -> dict[str, str]:
    return {"id": str(run.id), "trace_id": str(run.trace_id), "dotted_order": run.dotted_order}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("--skew", type=float, default=0.0)
    args = parser.parse_args()
    call = skewed(args.base, args.skew) if args.skew else my_client_function(args.base)
    result = asyncio.run(call)
    client.flush()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
