"""Production hosts: an example to copy and edit. Groups are roles (db, cache, llm, api, edge,
backup).

Hosts are reached over SSH as root with the operator's key. `private_address` is where a
host's peers reach it (services listen only there). Per-environment values live in
group_data/prod.py."""


def _host(name: str, private_address: str):
    return (name, {"ssh_user": "root", "private_address": private_address})


db = [_host("db1.example.internal", "10.10.0.11")]
cache = [_host("cache1.example.internal", "10.10.0.12")]
llm = [_host("llm1.example.internal", "10.10.0.21"), _host("llm2.example.internal", "10.10.0.22")]
api = [_host("api1.example.internal", "10.10.0.31")]
edge = [_host("edge1.example.internal", "10.10.0.41")]
# Holds the database's backup repository, so that backups survive the db host (README: Backups).
backup = [_host("backup1.example.internal", "10.10.0.51")]
