"""Production hosts: an example to copy and edit. Groups are roles (db, cache, llm, api, edge).

Hosts listed here are reached over SSH as root with the operator's key; per-environment values
live in group_data/prod.py."""

_ssh = {"ssh_user": "root"}

db = [("db1.example.internal", _ssh)]
cache = [("cache1.example.internal", _ssh)]
llm = [("llm1.example.internal", _ssh), ("llm2.example.internal", _ssh)]
api = [("api1.example.internal", _ssh)]
edge = [("edge1.example.internal", _ssh)]
