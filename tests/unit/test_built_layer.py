"""The layer `sam build` made (make test builds before it tests) matches the template's
architecture: every native module is an ELF for that machine, and nothing is missing."""

from __future__ import annotations

import pytest

from local.template import load_template, repo_root

LAYER = repo_root() / ".aws-sam" / "build" / "SessionGateLayer" / "python"
ELF_MACHINE = {"arm64": 0xB7, "x86_64": 0x3E}  # e_machine: EM_AARCH64, EM_X86_64


@pytest.mark.skipif(not LAYER.is_dir(), reason="no sam build output (make test runs sam build first)")
def test_native_modules_are_built_for_the_template_architecture():
    template = load_template(repo_root() / "template.yaml")
    (architecture,) = template["Globals"]["Function"]["Architectures"]
    native = list(LAYER.rglob("*.so"))
    assert {p.parent.name for p in native} >= {"_argon2_cffi_bindings", "pydantic_core"}
    machines = {p.name: p.read_bytes()[18] for p in native}
    assert set(machines.values()) == {ELF_MACHINE[architecture]}, machines
    assert (LAYER / "sessiongate" / "sessions.py").is_file()
