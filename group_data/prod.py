# Production values: fill these in before the first rollout (preflight refuses empty ones).

# Names the secret store secrets/prod.age; create it once with `python -m bundle.secrets init prod`.
environment = "prod"

# Networks allowed to SSH into every host, e.g. ["198.51.100.0/24", "2001:db8:42::/48"].
base_admin_cidrs = []

# The TLS edge (tasks/edge.py). Each name needs a DNS record pointing at the edge host.
edge_gateway_host = ""  # e.g. "gateway.yourcompany.com": LiteLLM, for the teams' apps
edge_api_host = ""  # e.g. "api.yourcompany.com": the SaaS API
edge_admin_host = ""  # e.g. "admin.yourcompany.com": the admin panel (admin networks only)
# Networks allowed to reach LiteLLM's UI and admin API, the SaaS admin routes and the admin panel.
edge_admin_cidrs = []
# "acme" (certificates from Let's Encrypt, needs edge_acme_email and ports 80/443 reachable),
# or "files" with edge_tls_certificate / edge_tls_key (paths on the control machine; the
# certificate must cover all three names).
edge_tls_mode = "acme"
edge_acme_email = ""
