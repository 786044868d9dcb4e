# Production values: fill these in before the first rollout (preflight refuses empty ones).

# Names the secret store secrets/prod.age; create it once with `python -m bundle.secrets init prod`.
environment = "prod"

# Networks allowed to SSH into every host, e.g. ["198.51.100.0/24", "2001:db8:42::/48"].
base_admin_cidrs = []
