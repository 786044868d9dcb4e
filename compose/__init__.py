"""The local docker-compose development target: the production stack's images built from the
deploy's own artifacts, its files rendered from the deploy's own templates (`make dev`)."""
