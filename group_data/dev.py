# The local docker-compose development target (`make dev`, compose/). Every key is optional: the
# defaults and their reasons are in compose/settings.py. The secret store is secrets/dev.age
# (created with its own key on first use).
environment = "dev"

# Ports published on 127.0.0.1 (the setup guide's): move them here if something else holds them.
# dev_litellm_port = 8002
# dev_saas_api_port = 8003

# The setup guide creates teams without naming a model group: they get this one (make dev seeds
# it from examples/seed.yaml), as on the testbed.
saas_api_default_model_group = "standard-models"
