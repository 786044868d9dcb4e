"""The admin panel: server-rendered pages over the SaaS API's own domain layer
(`uvicorn --factory saas_api.admin.app:create_app`)."""
