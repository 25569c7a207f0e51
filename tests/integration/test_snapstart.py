"""SnapStart: copies restored from one snapshot never share session ids or token secrets.

A restore is emulated by fork(): the children start from the parent's memory after its
init (handlers imported, the before-snapshot hook run), as restored sandboxes do. It runs
in a fresh interpreter, single-threaded, as a Lambda init is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from local.template import repo_root
from tests.integration.conftest import DEMO_PASSWORD

RESTORES = 4

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from functions.authorizer import app as authorizer
    from functions.sign_in import app as sign_in
    from sessiongate import models
    from tests.helpers import FakeContext, proxy_event

    models.prepare_clients()  # what register_before_snapshot runs
    body = {"email": sys.argv[1], "password": sys.argv[2]}
    children = []
    for _ in range(int(sys.argv[3])):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # a restored copy
            os.close(read)
            response = sign_in.lambda_handler(proxy_event("sign_in", body=body), FakeContext())
            os.write(write, response["body"].encode())
            os._exit(0)
        os.close(write)
        children.append((pid, read))
    for pid, read in children:
        chunks = []
        while chunk := os.read(read, 65536):
            chunks.append(chunk)
        os.waitpid(pid, 0)
        print("ISSUED", b"".join(chunks).decode())
    """
)


def test_restored_copies_mint_distinct_sessions_and_tokens(user, tables):
    root = repo_root()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(root / "layers" / "sessiongate")])}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, user.email, DEMO_PASSWORD, str(RESTORES)],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    issued = [
        json.loads(line.removeprefix("ISSUED ")) for line in result.stdout.splitlines() if line.startswith("ISSUED ")
    ]
    assert len(issued) == RESTORES
    for field in ("accessToken", "refreshToken"):
        assert len({i[field] for i in issued}) == RESTORES
    assert len({i["session"]["id"] for i in issued}) == RESTORES
    nonces = {i["refreshToken"].split(".")[3] for i in issued}
    assert len(nonces) == RESTORES
